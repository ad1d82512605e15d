"""The one route matcher every protection uses: exact paths and globs, one trailing-slash rule, ASGI paths."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from claude_guard._routes import PathPatterns, RouteMap
from claude_guard.middleware import RequestLimitsMiddleware, RouteLimits
from claude_guard.ratelimit import RateLimitRule


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        pytest.param(["/v1/messages"], "/v1/messages", True, id="exact"),
        pytest.param(["/v1/messages"], "/v1/messages/", True, id="trailing-slash-on-the-path"),
        pytest.param(["/v1/messages"], "/v1/messages//", True, id="several-trailing-slashes"),
        pytest.param(["/v1/messages/"], "/v1/messages", True, id="trailing-slash-on-the-pattern"),
        pytest.param(["/v1/messages"], "/v1/messages/count_tokens", False, id="exact-is-not-a-prefix"),
        pytest.param(["/v1/messages"], "/V1/messages", False, id="case-sensitive"),
        pytest.param(["/"], "/", True, id="root"),
        pytest.param(["/"], "//", True, id="root-with-slashes"),
        pytest.param(["/"], "/v1", False, id="root-is-exact"),
        pytest.param(["/v1/*"], "/v1/a/b", True, id="star-crosses-slashes"),
        pytest.param(["/v1/**"], "/v1/a/b", True, id="double-star-is-star"),
        pytest.param(["/v1/*"], "/v1", False, id="star-needs-the-slash"),
        pytest.param(["/files/*"], "/files/", True, id="glob-matches-the-path-as-written"),
        pytest.param(["/api/"], "/api/", True, id="pattern-slash-path-slash"),
        pytest.param(["/v1/messages*"], "/v1/messages/", True, id="prefix-glob"),
        pytest.param(["/files/[ab]*"], "/files/b.txt", True, id="character-class"),
        pytest.param(["/files/[ab]*"], "/files/c.txt", False, id="character-class-miss"),
        pytest.param(["/v1/messages"], "/v1/messages?beta=true", False, id="a-query-is-not-part-of-a-path"),
        pytest.param(["/v1/m?ssages"], "/v1/messages", True, id="question-mark-is-one-character"),
        pytest.param(["/v1/messages"], "/v1/%6Dessages", False, id="the-path-is-already-decoded"),
        pytest.param(["*"], "/anything/at/all", True, id="star-is-everything"),
        pytest.param([], "/v1/messages", False, id="no-patterns"),
    ],
)
def test_path_patterns(patterns: list[str], path: str, expected: bool) -> None:
    assert PathPatterns(patterns).matches(path) is expected


def test_strict_slash_compares_paths_as_they_are() -> None:
    exempt = PathPatterns(["/healthz", "/static/*"], strict_slash=True)
    assert exempt.matches("/healthz")
    assert not exempt.matches("/healthz/")
    assert exempt.matches("/static/app.js")
    assert not PathPatterns(["/healthz/"], strict_slash=True).matches("/healthz")
    exact_only = PathPatterns(["/healthz"], strict_slash=True)
    assert exact_only.matches("/healthz")
    assert not exact_only.matches("/healthz/")
    assert PathPatterns(["/healthz"]).matches("/healthz/")


def test_one_string_is_one_pattern() -> None:
    assert PathPatterns("/v1/messages").patterns == ("/v1/messages",)
    assert not PathPatterns("/v1/messages").matches("/")


def test_the_first_pattern_in_order_wins() -> None:
    routes = RouteMap([("/v1/*", "glob"), ("/v1/messages", "exact"), ("/v1/messages/", "again")])
    assert routes.get("/v1/messages") == "glob"
    exact_first = RouteMap({"/v1/messages": "exact", "/v1/*": "glob"})
    assert exact_first.get("/v1/messages/") == "exact"
    assert exact_first.get("/v1/models") == "glob"
    assert exact_first.get("/healthz") is None
    assert exact_first.get("/healthz", "default") == "default"
    assert PathPatterns(["/a", "/b*", "/b"]).index("/b") == 1
    assert not RouteMap({})


def test_rate_limit_rules_use_the_matcher() -> None:
    rule = RateLimitRule(path="/v1/messages", limits="1/minute")
    assert rule.matches("POST", "/v1/messages/")
    assert not rule.matches("POST", "/v1/messages/count_tokens")
    assert RateLimitRule(limits="1/minute").matches("GET", "/anything")


async def _echo_size(scope: Any, receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(len(body)).encode()})


@pytest.mark.parametrize(
    ("url", "status"),
    [
        pytest.param("/upload", 200, id="the-route"),
        pytest.param("/upload/", 200, id="trailing-slash"),
        pytest.param("/upload?part=1", 200, id="query-string"),
        pytest.param("/%75pload", 200, id="percent-encoded-letter"),
        pytest.param("/upload%3Fpart=1", 413, id="an-encoded-question-mark-is-another-path"),
        pytest.param("/other", 413, id="another-route"),
    ],
)
async def test_a_middleware_matches_the_decoded_path_without_its_query(url: str, status: int) -> None:
    app = RequestLimitsMiddleware(
        _echo_size, max_body_bytes=10, routes={"/upload": RouteLimits(max_body_bytes=100)}
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post(url, content=b"x" * 50)
    assert response.status_code == status


def test_answers_are_remembered_within_a_bound() -> None:
    from claude_guard import _routes

    patterns = PathPatterns(["/v1/messages", "/files/*"])
    for n in range(3 * _routes._MEMO_SIZE):  # client-chosen paths cannot grow the memo without end
        assert patterns.index(f"/files/{n}") == 1
        assert patterns.index(f"/other/{n}") is None
        assert len(patterns._memo) <= _routes._MEMO_SIZE
    assert patterns.index("/v1/messages/") == 0
    assert patterns.index("/v1/messages/") == 0  # the remembered answer is the computed one
