"""No secret leaves: with a canary upstream key and canary client keys, every error path is driven through the
reference gateway over a real server, and every log record (all loggers, DEBUG and below, tracebacks
formatted), every response header and every response body is searched for the canaries.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from claude_guard import ClaudeGuard, GuardSettings
from claude_guard.reference_app import create_app
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import ErrorResponse, FakeClaude, Hold, SlowStream, StreamError, serve

pytestmark = pytest.mark.server

UPSTREAM_CANARY = "sk-ant-fake-upstream-canary-0000"
# a well-formed claude_guard key that was never issued, and a foreign-looking one
FAKE_CLIENT_CANARY = "cg_dev_canary000000_" + "C" * 43
FOREIGN_CLIENT_CANARY = "sk-ant-fake-client-canary-1111"
MODEL = "claude-sonnet-4-6"
TIMEOUT = 5.0
# Short enough to drive the timeout paths quickly, long enough that a loaded CI machine answers the others.
SHORT_UPSTREAM_TIMEOUT = 1.0


@dataclass
class Gateway:
    url: str
    fake: FakeClaude
    client_key: str
    analysis_key: str
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def canaries(self) -> tuple[str, ...]:
        return (
            UPSTREAM_CANARY,
            FAKE_CLIENT_CANARY,
            FOREIGN_CLIENT_CANARY,
            self.client_key,
            self.analysis_key,
        )


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    fake = FakeClaude(api_key=UPSTREAM_CANARY)
    with serve(fake) as upstream:
        guard = ClaudeGuard(
            settings=GuardSettings(
                api_key_source=EnvSecretSource("CLAUDE_API_KEY", {"CLAUDE_API_KEY": UPSTREAM_CANARY}),
                api_url=upstream.url,
                timeout=SHORT_UPSTREAM_TIMEOUT,
            )
        )

        async def issue() -> tuple[str, str]:
            admin = await guard.keys.create(profile="admin", environment="development")
            analysis = await guard.keys.create(profile="analysis", environment="development")
            return admin.key, analysis.key

        admin_key, analysis_key = asyncio.run(issue())
        app = create_app(guard)

        @app.post("/v1/boom")
        async def boom() -> None:
            # an app bug while the request (and the caller's key in its headers) is in scope
            raise RuntimeError("the handler failed")

        with serve(app) as server:
            gw = Gateway(server.url, fake, admin_key, analysis_key)
            yield gw
            gw.release.set()


@pytest.fixture(autouse=True)
def fresh(gateway: Gateway) -> None:
    gateway.fake.reset()


@dataclass
class Seen:
    """Everything a caller saw."""

    responses: list[tuple[int, str, bytes]] = field(default_factory=list)

    def add(self, response: httpx.Response, body: bytes | None = None) -> None:
        raw_headers = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
        self.responses.append((response.status_code, raw_headers, response.content if body is None else body))


def body(text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": text}], **extra}


def _headers(key: str) -> dict[str, str]:
    # the caller sends its key twice over, as the SDK's two ways of authenticating would
    return {"x-api-key": key, "authorization": f"Bearer {key}", "content-type": "application/json"}


def _post(
    gw: Gateway, seen: Seen, path: str = "/v1/messages", *, key: str | None = None, **kwargs: Any
) -> int:
    headers = {**_headers(key or gw.client_key), **kwargs.pop("headers", {})}
    response = httpx.post(f"{gw.url}{path}", headers=headers, timeout=TIMEOUT, **kwargs)
    seen.add(response)
    return response.status_code


def _stream(gw: Gateway, seen: Seen, payload: dict[str, Any]) -> tuple[int, bytes]:
    with (
        httpx.Client(timeout=TIMEOUT) as client,
        client.stream(
            "POST", f"{gw.url}/v1/messages", json=payload, headers=_headers(gw.client_key)
        ) as response,
    ):
        data = b""
        try:
            for chunk in response.iter_raw():
                data += chunk
        except httpx.HTTPError:
            pass  # a truncated stream is one of the paths under test
        seen.add(response, data)
        return response.status_code, data


# --- the error paths ---------------------------------------------------------------------------------------


def bad_bodies(gw: Gateway, seen: Seen) -> None:
    for content in (
        b"{not json",
        b"[1, 2]",
        '{"m": "\udcff"}'.encode("utf-8", "surrogatepass"),
        b"[" * 100_000,
    ):
        assert _post(gw, seen, content=content) == 400
    assert _post(gw, seen, content=b"{}", headers={"content-type": "text/plain"}) == 415
    assert _post(gw, seen, content=b"x" * (10 * 1024 * 1024 + 1)) == 413


def bad_client_keys(gw: Gateway, seen: Seen) -> None:
    for key in (FAKE_CLIENT_CANARY, FOREIGN_CLIENT_CANARY, UPSTREAM_CANARY):
        assert _post(gw, seen, key=key, json=body()) == 401
    assert _post(gw, seen, "/analyze", key=FAKE_CLIENT_CANARY, json={"task": "x"}) == 401


def upstream_401(gw: Gateway, seen: Seen) -> None:
    gw.fake.enqueue(ErrorResponse(401, message=f"invalid x-api-key {UPSTREAM_CANARY}"))
    assert _post(gw, seen, json=body()) == 502
    gw.fake.enqueue(ErrorResponse(401, message=f"invalid x-api-key {UPSTREAM_CANARY}"))
    assert _post(gw, seen, "/analyze", key=gw.analysis_key, json={"task": "x"}) == 502


def upstream_errors(gw: Gateway, seen: Seen) -> None:
    # upstream messages that echo the key: the ones passed on to the caller are scrubbed
    for status in (400, 403, 404, 413, 429, 500, 529):
        gw.fake.enqueue(ErrorResponse(status, message=f"upstream says {UPSTREAM_CANARY} was used"))
        assert _post(gw, seen, json=body()) == (502 if status == 403 else status)
    for status in (429, 500, 529):
        gw.fake.enqueue(ErrorResponse(status, message=f"upstream says {UPSTREAM_CANARY} was used"))
        assert _post(gw, seen, "/analyze", key=gw.analysis_key, json={"task": "x"}) == status


def upstream_timeouts(gw: Gateway, seen: Seen) -> None:
    gw.fake.enqueue(Hold(gw.release, timeout=4 * TIMEOUT))
    assert _post(gw, seen, json=body()) == 504
    gw.fake.enqueue(SlowStream(2 * SHORT_UPSTREAM_TIMEOUT))
    assert _post(gw, seen, json=body()) == 504
    # a stream that stalls after it started is cut: the caller gets a truncated stream
    gw.fake.enqueue(Hold(gw.release, after_deltas=1, timeout=4 * TIMEOUT))
    status, data = _stream(gw, seen, body("A sentence long enough for several deltas.", stream=True))
    assert status == 200
    assert b"content_block_delta" in data
    assert b"message_stop" not in data
    gw.fake.enqueue(Hold(gw.release, timeout=4 * TIMEOUT))
    assert _post(gw, seen, "/analyze", key=gw.analysis_key, json={"task": "x"}) == 504


def handler_exception(gw: Gateway, seen: Seen) -> None:
    assert _post(gw, seen, "/v1/boom", json=body()) == 500


def mid_stream_error(gw: Gateway, seen: Seen) -> None:
    gw.fake.enqueue(StreamError(after_deltas=1))
    status, data = _stream(gw, seen, body("A sentence long enough for several deltas.", stream=True))
    assert status == 200
    assert b"event: error" in data


def successes(gw: Gateway, seen: Seen) -> None:
    assert _post(gw, seen, json=body()) == 200
    assert (
        _post(gw, seen, "/v1/messages/count_tokens", json={"model": MODEL, "messages": body()["messages"]})
        == 200
    )
    assert _post(gw, seen, "/analyze", key=gw.analysis_key, json={"task": "x"}) == 200
    status, _ = _stream(gw, seen, body(stream=True))
    assert status == 200


PATHS: dict[str, Callable[[Gateway, Seen], None]] = {
    "bad-body": bad_bodies,
    "bad-client-key": bad_client_keys,
    "upstream-401": upstream_401,
    "upstream-errors": upstream_errors,
    "timeouts": upstream_timeouts,
    "handler-exception": handler_exception,
    "mid-stream-error": mid_stream_error,
    "success": successes,
}


def _everything_logged(records: list[logging.LogRecord]) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    texts: list[str] = []
    for record in records:
        texts.append(formatter.format(record))  # message, args, exc_info and stack_info, formatted
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))
            exc = record.exc_info[1]
            while exc is not None:  # chained causes and contexts too
                texts.append(repr(exc))
                exc = exc.__cause__ or exc.__context__
        texts.append(repr(record.args))
        texts.append(repr(vars(record)))
    return texts


@pytest.mark.parametrize("path", list(PATHS), ids=list(PATHS))
def test_no_canary_anywhere(gateway: Gateway, caplog: pytest.LogCaptureFixture, path: str) -> None:
    caplog.set_level(0)  # every logger, every level, through the root
    seen = Seen()
    PATHS[path](gateway, seen)
    assert seen.responses
    logged = _everything_logged(caplog.records)
    for canary in gateway.canaries:
        for status, headers, content in seen.responses:
            assert canary not in headers, f"{path}: a {status} response header carries a canary"
            assert canary.encode() not in content, f"{path}: a {status} response body carries a canary"
        for text in logged:
            assert canary not in text, f"{path}: a log record carries a canary: {text[:300]}"


def test_the_paths_were_really_taken(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    # guards the test above against passing because nothing was logged or nothing reached the upstream
    caplog.set_level(0)
    seen = Seen()
    upstream_401(gateway, seen)
    handler_exception(gateway, seen)
    assert gateway.fake.requests
    assert any(r.name == "claude_guard" and r.levelno >= logging.ERROR for r in caplog.records)
    # The guard's log scrubbing formats a traceback into exc_text (scrubbed) and drops exc_info.
    assert any(r.exc_info or r.exc_text for r in caplog.records)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    # and the upstream key did travel where it belongs: to the upstream, on both routes
    sent = [(r.headers.get("x-api-key"), r.headers.get("authorization")) for r in gateway.fake.requests]
    assert (UPSTREAM_CANARY, None) in sent
    assert (None, f"Bearer {UPSTREAM_CANARY}") in sent
