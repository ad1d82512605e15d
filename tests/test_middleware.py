"""RequestLimitsMiddleware and SafeErrorMiddleware: time limits, in-flight caps, per-route limits, safe
errors, and non-HTTP scopes passed through untouched."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from _asgi_tools import Recorder
from claude_guard import ClaudeGuard, GuardSettings
from claude_guard.context import SCOPE_KEY, GuardContext, Principal
from claude_guard.errors import PermissionDeniedError, RateLimitedError
from claude_guard.middleware import GuardMiddleware, RequestLimitsMiddleware, RouteLimits, SafeErrorMiddleware

TIMEOUT = 5.0
SECRET_TEXT = "internal detail: db password hunter2 at 10.1.2.3"


def http_scope(
    method: str = "POST",
    path: str = "/v1/messages",
    headers: Iterable[tuple[bytes, bytes]] = (),
    client: str = "127.0.0.1",
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "headers": list(headers),
        "client": (client, 5000),
    }


def body_receive(body: bytes = b"{}") -> Any:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def never() -> dict[str, Any]:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok", "more_body": False})


class HoldingApp:
    """Answers only when released; tells the test when a request has entered."""

    def __init__(self) -> None:
        self.entered = asyncio.Queue[str]()
        self.release = asyncio.Event()
        self.fail = False
        self.cancelled = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.entered.put_nowait(scope["path"])
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.fail:
            raise RuntimeError(SECRET_TEXT)
        await ok_app(scope, receive, send)

    async def wait_entered(self, n: int) -> None:
        async with asyncio.timeout(TIMEOUT):
            for _ in range(n):
                await self.entered.get()


# --- time limits ------------------------------------------------------------------------------------------


async def test_body_timeout_gives_408() -> None:
    called = False

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal called
        called = True

    first = True

    async def trickle() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"{", "more_body": True}
        return await never()

    send = Recorder()
    mw = RequestLimitsMiddleware(app, body_timeout=0.05)
    async with asyncio.timeout(TIMEOUT):
        await mw(http_scope(), trickle, send)
    assert not called
    assert send.status == 408
    assert send.json()["error"]["type"] == "timeout_error"
    assert mw._in_flight == 0


async def test_response_start_timeout_gives_504_and_cancels_the_app() -> None:
    app = HoldingApp()
    send = Recorder()
    scope = http_scope()
    async with asyncio.timeout(TIMEOUT):
        await RequestLimitsMiddleware(app, timeout=0.05)(scope, body_receive(), send)
    assert app.cancelled == 1
    assert send.status == 504
    assert send.json() == {
        "type": "error",
        "error": {"type": "timeout_error", "message": "The upstream API did not answer in time."},
        "request_id": scope[SCOPE_KEY].request_id,
    }
    assert send.headers[b"x-should-retry"] == b"true"


async def test_a_started_response_is_not_cut_by_the_deadline() -> None:
    async def slow_stream(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await asyncio.sleep(0.2)  # well past the deadline below
        await send({"type": "http.response.body", "body": b"last", "more_body": False})

    send = Recorder()
    async with asyncio.timeout(TIMEOUT):
        await SafeErrorMiddleware(RequestLimitsMiddleware(slow_stream, timeout=0.02))(
            http_scope(), body_receive(), send
        )
    assert send.status == 200
    assert [m.get("body") for m in send.messages[1:]] == [b"first", b"last"]


async def test_a_timeout_inside_the_app_is_not_mistaken_for_the_deadline() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        async with asyncio.timeout(0.01):
            await asyncio.Event().wait()

    send = Recorder()
    async with asyncio.timeout(TIMEOUT):
        await RequestLimitsMiddleware(app, timeout=10)(http_scope(), body_receive(), send)
    # the app's own TimeoutError is an unexpected error (500), not an upstream timeout (504)
    assert send.status == 500


# --- in-flight caps -------------------------------------------------------------------------------------


async def _run(mw: Any, scope: dict[str, Any] | None = None) -> Recorder:
    send = Recorder()
    async with asyncio.timeout(TIMEOUT):
        await mw(scope or http_scope(), body_receive(), send)
    return send


async def test_global_in_flight_cap_gives_429_and_is_released_after_completion() -> None:
    app = HoldingApp()
    mw = RequestLimitsMiddleware(app, max_in_flight=2)
    held = [asyncio.create_task(_run(mw, http_scope(client=f"10.0.0.{i}"))) for i in range(2)]
    await app.wait_entered(2)
    refused = await _run(mw, http_scope(client="10.0.0.9"))
    assert refused.status == 429
    assert refused.json()["error"] == {
        "type": "rate_limit_error",
        "message": "Too many requests in flight.",
        "code": "in_flight",
    }
    assert refused.headers[b"retry-after"] == b"1"
    assert refused.headers[b"x-should-retry"] == b"true"
    assert app.entered.empty()
    app.release.set()
    assert [(await t).status for t in held] == [200, 200]
    assert mw._in_flight == 0
    assert mw._in_flight_by == {}
    assert (await _run(mw)).status == 200


async def test_in_flight_is_released_after_an_exception(caplog: pytest.LogCaptureFixture) -> None:
    app = HoldingApp()
    app.fail = True
    app.release.set()
    mw = RequestLimitsMiddleware(app, max_in_flight=1, max_in_flight_per_principal=1)
    for _ in range(3):
        assert (await _run(mw)).status == 500
    assert mw._in_flight == 0
    assert mw._in_flight_by == {}
    app.fail = False
    assert (await _run(mw)).status == 200


async def test_in_flight_is_released_after_cancellation() -> None:
    app = HoldingApp()
    mw = RequestLimitsMiddleware(app, max_in_flight=1, max_in_flight_per_principal=1, timeout=None)
    task = asyncio.create_task(_run(mw))
    await app.wait_entered(1)
    assert (await _run(mw)).status == 429
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert app.cancelled == 1
    assert mw._in_flight == 0
    assert mw._in_flight_by == {}
    app.release.set()
    assert (await _run(mw)).status == 200


async def test_in_flight_cap_per_client_address() -> None:
    app = HoldingApp()
    mw = RequestLimitsMiddleware(app, max_in_flight_per_principal=1)
    first = asyncio.create_task(_run(mw, http_scope(client="10.0.0.1")))
    other = asyncio.create_task(_run(mw, http_scope(client="10.0.0.2")))
    await app.wait_entered(2)
    refused = await _run(mw, http_scope(client="10.0.0.1"))
    assert refused.status == 429
    assert refused.json()["error"]["code"] == "in_flight_per_principal"
    app.release.set()
    assert [(await first).status, (await other).status] == [200, 200]
    assert (await _run(mw, http_scope(client="10.0.0.1"))).status == 200
    assert mw._in_flight_by == {}


async def test_in_flight_cap_per_principal_spans_addresses() -> None:
    app = HoldingApp()
    mw = RequestLimitsMiddleware(app, max_in_flight_per_principal=1)

    def scope_for(key_id: str, client: str) -> dict[str, Any]:
        scope = http_scope(client=client)
        scope[SCOPE_KEY] = GuardContext(
            method="POST",
            path="/v1/messages",
            client_addr=client,
            principal=Principal(key_id=key_id, profile="default", environment="development"),
        )
        return scope

    first = asyncio.create_task(_run(mw, scope_for("key_a", "10.0.0.1")))
    await app.wait_entered(1)
    assert (await _run(mw, scope_for("key_a", "10.0.0.2"))).status == 429
    other = asyncio.create_task(_run(mw, scope_for("key_b", "10.0.0.1")))
    await app.wait_entered(1)
    app.release.set()
    assert [(await first).status, (await other).status] == [200, 200]


async def test_in_flight_holds_under_a_burst() -> None:
    app = HoldingApp()
    mw = RequestLimitsMiddleware(app, max_in_flight=5)
    tasks = [asyncio.create_task(_run(mw, http_scope(client=f"10.0.1.{i}"))) for i in range(50)]
    await app.wait_entered(5)
    await asyncio.sleep(0)
    app.release.set()
    statuses = [(await t).status for t in tasks]
    assert statuses.count(200) == 5
    assert statuses.count(429) == 45
    assert mw._in_flight == 0


# --- per-route limits ---------------------------------------------------------------------------------


async def test_route_limits_override_the_defaults() -> None:
    mw = RequestLimitsMiddleware(
        ok_app,
        max_body_bytes=100,
        timeout=None,
        routes={
            "/upload*": RouteLimits(max_body_bytes=10_000),
            "/strict": RouteLimits(max_body_bytes=10),
            "/*": RouteLimits(max_body_bytes=1),  # never reached for the routes above: first match wins
        },
    )
    big = b"x" * 5000

    async def post(path: str, body: bytes) -> int:
        send = Recorder()
        scope = http_scope(path=path, headers=[(b"content-length", str(len(body)).encode())])
        await mw(scope, body_receive(body), send)
        return send.status

    assert await post("/upload", big) == 200
    assert await post("/upload/files", big) == 200
    assert await post("/strict", b"x" * 11) == 413
    assert await post("/strict", b"x" * 10) == 200
    assert await post("/other", b"xx") == 413


async def test_route_timeouts_override_the_defaults() -> None:
    app = HoldingApp()
    mw = RequestLimitsMiddleware(
        app,
        timeout=None,
        body_timeout=30,
        routes={"/slow": RouteLimits(timeout=0.05), "/trickle": RouteLimits(body_timeout=0.05)},
    )
    assert (await _run(mw, http_scope(path="/slow"))).status == 504
    send = Recorder()
    async with asyncio.timeout(TIMEOUT):
        await mw(http_scope(path="/trickle"), never, send)
    assert send.status == 408


def test_limits_must_be_positive() -> None:
    for kwargs in (
        {"max_body_bytes": 0},
        {"body_timeout": 0},
        {"timeout": -1},
        {"max_in_flight": 0},
        {"max_in_flight_per_principal": 0},
    ):
        with pytest.raises(ValueError, match="positive"):
            RequestLimitsMiddleware(ok_app, **kwargs)  # type: ignore[arg-type]


async def test_problem_details_format() -> None:
    send = Recorder()
    mw = RequestLimitsMiddleware(ok_app, max_body_bytes=1, error_format="problem")
    await mw(http_scope(headers=[(b"content-length", b"5")]), body_receive(b"xxxxx"), send)
    assert send.status == 413
    assert send.headers[b"content-type"] == b"application/problem+json"
    assert send.json()["type"] == "https://claude-guard.dev/errors/request_too_large"


# --- non-HTTP scopes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scope_type", ["lifespan", "websocket"])
@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda app: SafeErrorMiddleware(app), id="safe"),
        pytest.param(
            lambda app: RequestLimitsMiddleware(app, max_in_flight=1, max_body_bytes=1), id="limits"
        ),
        pytest.param(
            lambda app: SafeErrorMiddleware(RequestLimitsMiddleware(app, max_in_flight=1)), id="both"
        ),
        pytest.param(lambda app: ClaudeGuard(settings=GuardSettings()).wrap(app), id="guard-wrap"),
    ],
)
async def test_non_http_scopes_pass_through_untouched(scope_type: str, wrap: Any) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))
        if scope_type == "lifespan":
            raise RuntimeError("a lifespan failure is the server's to report")

    scope: dict[str, Any] = {"type": scope_type, "asgi": {"version": "3.0"}, "path": "/ws", "headers": []}
    before = dict(scope)

    async def receive() -> dict[str, Any]:
        raise AssertionError("the guard must not receive on a non-HTTP scope")

    async def send(message: Any) -> None:
        raise AssertionError("the guard must not send on a non-HTTP scope")

    app = wrap(inner)
    if scope_type == "lifespan":
        # exceptions are not swallowed or turned into HTTP responses either
        with pytest.raises(RuntimeError, match="lifespan failure"):
            await app(scope, receive, send)
    else:
        await app(scope, receive, send)
    assert len(seen) == 1
    assert seen[0][0] is scope
    if seen[0][1] is not receive:
        # Only the PII layer may watch a lifespan's messages (it starts its workers on lifespan.startup):
        # it hands every message on as it came, and receives nothing until the app asks.
        assert scope_type == "lifespan" and "PIIRedactionMiddleware" in seen[0][1].__qualname__
        with pytest.raises(AssertionError, match="must not receive"):
            await seen[0][1]()
    assert seen[0][2] is send
    assert scope == before
    # a second connection is not counted against an in-flight cap
    if scope_type == "websocket":
        await app(dict(before), receive, send)
        assert len(seen) == 2


# --- safe errors ------------------------------------------------------------------------------------------


async def test_an_unexpected_exception_becomes_a_bare_500(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError(SECRET_TEXT)

    send = Recorder()
    scope = http_scope()
    await SafeErrorMiddleware(broken)(scope, body_receive(), send)
    rid = scope[SCOPE_KEY].request_id
    assert send.status == 500
    assert send.json() == {
        "type": "error",
        "error": {"type": "api_error", "message": "An internal error occurred."},
        "request_id": rid,
    }
    assert send.headers[b"request-id"] == rid.encode()
    assert b"hunter2" not in b"".join(m.get("body", b"") for m in send.messages)
    records = [r for r in caplog.records if r.name == "claude_guard" and r.exc_info]
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert rid in records[0].getMessage()
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], RuntimeError)


async def test_a_guard_error_from_the_app_is_rendered() -> None:
    async def refusing(scope: Any, receive: Any, send: Any) -> None:
        raise PermissionDeniedError("Model not allowed.", code="model")

    send = Recorder()
    await GuardMiddleware(refusing)(http_scope(), body_receive(), send)
    assert send.status == 403
    assert send.json()["error"] == {
        "type": "permission_error",
        "message": "Model not allowed.",
        "code": "model",
    }


async def test_guard_middleware_without_catch_all_lets_unexpected_errors_through() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await GuardMiddleware(broken)(http_scope(), body_receive(), Recorder())


@pytest.mark.parametrize(
    "error",
    [RuntimeError(SECRET_TEXT), RateLimitedError("late refusal", retry_after=1)],
    ids=["unexpected", "guard-error"],
)
async def test_an_error_after_the_response_started_is_logged_not_sent(
    caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    async def breaks_mid_stream(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise error

    send = Recorder()
    # the boundary lets nothing reach the server, and never sends a second response start
    await SafeErrorMiddleware(breaks_mid_stream)(http_scope(), body_receive(), send)
    assert [m["type"] for m in send.messages] == ["http.response.start", "http.response.body"]
    assert any(r.name == "claude_guard" and r.exc_info for r in caplog.records)


async def test_safe_errors_in_a_fastapi_app(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = FastAPI()

    @app.get("/boom")
    async def boom() -> dict[str, str]:
        raise ValueError(SECRET_TEXT)

    @app.get("/fine")
    async def fine() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(RequestLimitsMiddleware)
    app.add_middleware(SafeErrorMiddleware)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom")
        assert (await client.get("/fine")).json() == {"ok": "yes"}
    assert response.status_code == 500
    rid = response.headers["request-id"]
    assert response.json() == {
        "type": "error",
        "error": {"type": "api_error", "message": "An internal error occurred."},
        "request_id": rid,
    }
    assert "hunter2" not in response.text
    logged = [r for r in caplog.records if r.name == "claude_guard" and r.exc_info]
    assert len(logged) == 1
    assert rid in logged[0].getMessage()
    assert isinstance(logged[0].exc_info[1], ValueError)  # type: ignore[index]


class _Hooked(GuardMiddleware):
    """A guard that records the ``send`` it is handed and tags the response start in its hook."""

    def __init__(self, app: Any, *, name: str, seen: list[tuple[str, Any]], refuse: bool = False) -> None:
        super().__init__(app)
        self.name, self.seen, self.refuse = name, seen, refuse

    async def handle(self, ctx: GuardContext, scope: Any, receive: Any, send: Any) -> None:
        self.seen.append((self.name, send))
        if self.refuse:
            raise PermissionDeniedError("no")
        await self.app(scope, receive, send)

    def on_response_start(self, ctx: GuardContext, message: Any) -> Any:
        return {**message, "headers": [*message.get("headers", ()), (b"x-hook", self.name.encode())]}


async def test_one_send_wrapper_per_response_and_hooks_innermost_first() -> None:
    seen: list[tuple[str, Any]] = []
    app = _Hooked(
        _Hooked(_Hooked(ok_app, name="inner", seen=seen), name="middle", seen=seen), name="outer", seen=seen
    )
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = http_scope()
    await app(scope, body_receive(), send)
    # The outermost guard wraps send once; the guards further in pass that one wrapper on untouched.
    assert [name for name, _ in seen] == ["outer", "middle", "inner"]
    assert seen[0][1] is not send
    assert seen[0][1] is seen[1][1] is seen[2][1]
    hooks = [value for name, value in sent[0]["headers"] if name == b"x-hook"]
    assert hooks == [b"inner", b"middle", b"outer"]
    assert scope[SCOPE_KEY].response_started is True


async def test_a_guard_s_own_error_skips_its_hook_and_those_inside() -> None:
    seen: list[tuple[str, Any]] = []
    refusing = _Hooked(_Hooked(ok_app, name="inner", seen=seen), name="middle", seen=seen, refuse=True)
    app = _Hooked(refusing, name="outer", seen=seen)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(http_scope(), body_receive(), send)
    assert sent[0]["status"] == 403
    # The error passed the outer guard only: as before, when each guard wrapped send itself.
    assert [value for name, value in sent[0]["headers"] if name == b"x-hook"] == [b"outer"]
