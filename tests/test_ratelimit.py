"""Rate limits over memory and Redis from one parametrized suite: engine, middleware, dependency."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from claude_guard._asgi import context_for
from claude_guard.context import GuardContext, Principal
from claude_guard.errors import RateLimitedError
from claude_guard.fastapi import rate_limit
from claude_guard.middleware import SafeErrorMiddleware
from claude_guard.profiles import Profile
from claude_guard.ratelimit import Admission, RateLimitConfig, RateLimiter, RateLimitMiddleware, RateLimitRule
from claude_guard.ratelimit._config import Strategy
from claude_guard.ratelimit._engine import ConcurrencyCheck, LimitCheck
from claude_guard.store import Store

STRATEGIES: list[Strategy] = ["fixed_window", "moving_window", "sliding_window_counter"]

Message = dict[str, Any]


def check(
    store: Store, name: str, amount: int, window: int = 60, strategy: Strategy = "fixed_window"
) -> LimitCheck:
    return LimitCheck(key=store.key("t", name), amount=amount, window=window, strategy=strategy, policy=name)


# -- engine --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_admits_exactly_the_amount_then_denies_with_the_real_shortfall(
    store: Store, strategy: Strategy
) -> None:
    limiter = RateLimiter(store)
    limit = check(store, "a", 3, strategy=strategy)
    results = [await limiter.admit([limit]) for _ in range(5)]
    assert [r.allowed for r in results] == [True, True, True, False, False]
    assert [r.limits[0].remaining for r in results] == [2, 1, 0, 0, 0]
    denied = results[3]
    assert denied.denied_by == "a"
    assert denied.retry_after is not None and 0 < denied.retry_after <= 60 * 2
    assert denied.limits[0].reset == pytest.approx(denied.retry_after, abs=0.01)


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_concurrent_admissions_never_exceed_the_limit(store: Store, strategy: Strategy) -> None:
    limiter = RateLimiter(store)
    limit = check(store, "burst", 5, strategy=strategy)
    results = await asyncio.gather(*(limiter.admit([limit]) for _ in range(40)))
    assert sum(r.allowed for r in results) == 5


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_a_request_denied_by_one_limit_consumes_none_of_them(store: Store, strategy: Strategy) -> None:
    limiter = RateLimiter(store)
    tight, loose = (
        check(store, "tight", 2, strategy=strategy),
        check(store, "loose", 10, 3600, strategy=strategy),
    )
    for _ in range(2):
        assert (await limiter.admit([tight, loose])).allowed
    for _ in range(5):
        denied = await limiter.admit([tight, loose])
        assert not denied.allowed and denied.denied_by == "tight"
        assert denied.limits[1].allowed and denied.limits[1].remaining == 8
    alone = await limiter.admit([loose])
    assert alone.allowed and alone.limits[0].remaining == 7


async def test_several_denying_limits_report_the_longest_wait(store: Store) -> None:
    limiter = RateLimiter(store)
    minute, day = check(store, "m", 1, 60, "moving_window"), check(store, "d", 1, 86400, "moving_window")
    assert (await limiter.admit([minute, day])).allowed
    denied = await limiter.admit([minute, day])
    assert denied.denied_by == "d"
    assert denied.retry_after is not None and 86000 < denied.retry_after <= 86400


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_refund_gives_the_quota_back(store: Store, strategy: Strategy) -> None:
    limiter = RateLimiter(store)
    limit = check(store, "r", 2, strategy=strategy)
    first = await limiter.admit([limit])
    await limiter.release(first, refund=True)
    await limiter.release(first, refund=True)  # idempotent: never refunds twice
    assert [(await limiter.admit([limit])).allowed for _ in range(3)] == [True, True, False]


async def test_concurrency_leases_are_taken_atomically_and_released(store: Store) -> None:
    limiter = RateLimiter(store)
    cap = ConcurrencyCheck(key=store.key("cc", "a"), cap=2, policy="cap")
    limit = check(store, "with-cap", 100)
    held = await asyncio.gather(*(limiter.admit([limit], [cap]) for _ in range(10)))
    admitted = [a for a in held if a.allowed]
    assert len(admitted) == 2
    denied = next(a for a in held if not a.allowed)
    assert denied.denied_by == "cap" and denied.retry_after == 1.0
    # The eight denied requests did not count against the rate limit either.
    assert min(a.limits[0].remaining for a in admitted) == 98
    await limiter.release(admitted[0])
    again = await limiter.admit([limit], [cap])
    assert again.allowed and again.in_use == (2,)


async def test_leases_of_a_dead_worker_expire_by_themselves(store: Store) -> None:
    limiter = RateLimiter(store, lease_ttl=0.2)
    cap = ConcurrencyCheck(key=store.key("cc", "dead"), cap=1, policy="cap")
    assert (await limiter.admit([], [cap])).allowed  # never released: the worker "died"
    assert not (await limiter.admit([], [cap])).allowed
    await asyncio.sleep(0.3)
    assert (await limiter.admit([], [cap])).allowed


async def test_running_requests_renew_their_leases(store: Store) -> None:
    limiter = RateLimiter(store, lease_ttl=0.3)
    cap = ConcurrencyCheck(key=store.key("cc", "renew"), cap=1, policy="cap")
    held = await limiter.admit([], [cap])
    renewer = asyncio.ensure_future(limiter.renew_while_running(held))
    try:
        await asyncio.sleep(0.5)  # longer than the TTL: only renewal keeps the lease
        assert not (await limiter.admit([], [cap])).allowed
    finally:
        renewer.cancel()
    await limiter.release(held)
    assert await limiter.renew(held) == 0
    assert (await limiter.admit([], [cap])).allowed


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_single_limit_fast_path_matches_the_general_memory_admission(
    monkeypatch: pytest.MonkeyPatch, strategy: Strategy
) -> None:
    # One limit and no cap take a shortcut in memory; it must agree with the general twin of the Lua script
    # step by step: verdicts, states, retry-after, and what is stored.
    from claude_guard.ratelimit import _engine

    clock = [1_000_000.0]
    monkeypatch.setattr(_engine, "time", SimpleNamespace(time=lambda: clock[0]))
    fast, general = RateLimiter(), RateLimiter()
    limit = LimitCheck(key="k", amount=3, window=2, strategy=strategy, policy="p")
    heavy = LimitCheck(key="k", amount=3, window=2, strategy=strategy, policy="p", cost=2)
    steps = [0.0, 0.1, 0.2, 0.3, 0.5, 1.1, 1.9, 2.05, 2.1, 2.2, 3.7, 4.0, 4.01, 7.5, 7.6, 7.7, 7.8]
    for i, step in enumerate(steps):
        clock[0] = 1_000_000.0 + step
        one = limit if i % 3 else heavy
        quick = fast.admit_nowait([one])
        assert quick is not None
        slow = general._admit_memory([one], (), quick.token)
        assert fields(quick) == fields(slow), step
        assert fast._state == general._state and fast._expires == general._expires
        if i % 4 == 1 and quick.allowed:
            assert fast.release_nowait(quick, refund=True)
            general._release_memory(slow, slow.checks)
            assert fast._state == general._state
    assert fast.counters["allowed"] + fast.counters["denied"] == len(steps)
    assert fast.counters["allowed"] and fast.counters["denied"]


async def test_rule_matching_per_route_stays_bounded(store: Store) -> None:
    rule = RateLimitRule(path="/v1/*", limits="1/minute", key="global")
    app = RateLimitMiddleware(ok_app, config=RateLimitConfig(rules=[rule]), store=store)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    for path in ["/v1/a", "/v1/a", *(f"/other/{i}" for i in range(4200)), "/v1/b"]:
        await app({"type": "http", "method": "GET", "path": path, "headers": []}, receive, send)
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert statuses[:2] == [200, 429] and statuses[-1] == 429  # one global counter for every /v1/ path
    assert set(statuses[2:-1]) == {200}
    assert len(app._routes) <= 4096


def fields(admission: Admission) -> dict[str, Any]:
    return {f.name: getattr(admission, f.name) for f in dataclasses.fields(admission)}


# -- middleware ----------------------------------------------------------------------------------------------


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok", "more_body": False})


def with_principal(app: Any, key_id: str | None = None, profile: Profile | None = None) -> Any:
    """Stands in for APIKeyMiddleware: sets the principal from the x-key header."""

    async def authenticate(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            ctx = context_for(scope)
            key = key_id
            for name, value in scope.get("headers", ()):
                if name == b"x-key":
                    key = value.decode()
            if key is not None:
                ctx.principal = Principal(
                    key_id=key, profile=profile.name if profile else "p", environment="test"
                )
                ctx.profile = profile
        await app(scope, receive, send)

    return authenticate


def client_for(app: Any, peer: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_middleware_sends_ietf_headers_and_an_anthropic_429(store: Store) -> None:
    config = RateLimitConfig(
        rules=[RateLimitRule(limits="2/minute;100/day", name="api")], legacy_headers=True
    )
    app = RateLimitMiddleware(ok_app, config=config, store=store)
    async with client_for(app) as client:
        first = await client.get("/")
        assert first.status_code == 200
        assert first.headers["ratelimit-policy"] == '"api-60s";q=2;w=60, "api-86400s";q=100;w=86400'
        assert first.headers["ratelimit"].startswith('"api-60s";r=1;t=')
        assert '"api-86400s";r=99;t=' in first.headers["ratelimit"]
        assert first.headers["x-ratelimit-limit"] == "2" and first.headers["x-ratelimit-remaining"] == "1"
        await client.get("/")
        denied = await client.get("/")
    assert denied.status_code == 429
    body = denied.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert body["request_id"].startswith("req_")
    retry = int(denied.headers["retry-after"])
    assert 1 <= retry <= 120  # sliding window counter: up to two windows
    assert denied.headers["ratelimit"].startswith(f'"api-60s";r=0;t={retry}')
    assert denied.headers["x-should-retry"] == "true"


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_the_inline_one_limit_path_answers_as_the_general_one(
    monkeypatch: pytest.MonkeyPatch, strategy: Strategy
) -> None:
    # One limit in memory is admitted inline by handle; the same requests through the general path
    # (_admit, admit_nowait, _release_all) must give the same statuses, headers, 429 bodies, audit
    # decisions, counters and stored counts, with a clock both read alike.
    from claude_guard.context import SCOPE_KEY
    from claude_guard.ratelimit import _engine, _middleware

    clock = [1_000_000.0]
    monkeypatch.setattr(_engine, "time", SimpleNamespace(time=lambda: clock[0]))
    monkeypatch.setattr(_middleware, "time", lambda: clock[0])
    rule = RateLimitRule(limits="3/minute", key="address", strategy=strategy, name="api")
    seen: dict[bool, list[Any]] = {}
    layers: dict[bool, RateLimitMiddleware] = {}
    for inline in (True, False):
        layer = layers[inline] = RateLimitMiddleware(ok_app, config=RateLimitConfig(rules=[rule]))
        general = layer._admit

        async def admit(
            *args: Any, _general: Any = general, _inline: bool = inline, _layer: Any = layer
        ) -> None:
            # the first request of an identity plans its checks the general way; after that, inline only
            assert not _inline or not _layer.limiter.counters, "the inline path was not taken"
            await _general(*args)

        layer._admit = admit  # type: ignore[method-assign]
        if not inline:
            layer._memory = None  # what a store needing round trips has: the general path
        outcomes = seen[inline] = []

        async def app(scope: Any, receive: Any, send: Any, _layer: Any = layer, _out: Any = outcomes) -> None:
            await _layer(scope, receive, send)
            _out.append([(d.protection, d.outcome, d.detail) for d in scope[SCOPE_KEY].decisions])

        async with client_for(app) as client:
            for step in (0.0, 1.0, 2.5, 3.0, 4.0, 59.0, 61.5, 62.0):
                clock[0] = 1_000_000.0 + step
                response = await client.get("/")
                headers = [(k, v) for k, v in response.headers.raw if b"req_" not in v]
                body = response.json() if response.status_code == 429 else response.text
                if response.status_code == 429:
                    assert body.pop("request_id").startswith("req_")
                outcomes.append((response.status_code, headers, body))
    assert seen[True] == seen[False]
    statuses = [o[0] for o in seen[True] if isinstance(o, tuple)]
    assert 200 in statuses and 429 in statuses
    assert layers[True].limiter.counters == layers[False].limiter.counters
    assert layers[True].limiter._state == layers[False].limiter._state


async def test_nested_middlewares_send_the_headers_once_and_an_inner_denial_refunds_the_outer(
    store: Store,
) -> None:
    limiter = RateLimiter(store)
    inner_rule = RateLimitRule(path="/x", limits="1/minute", key="global", name="inner")
    outer_rule = RateLimitRule(limits="3/minute", key="global", name="outer")
    inner = RateLimitMiddleware(ok_app, config=RateLimitConfig(rules=[inner_rule]), limiter=limiter)
    app = RateLimitMiddleware(inner, config=RateLimitConfig(rules=[outer_rule]), limiter=limiter)
    async with client_for(app) as client:
        first = await client.get("/x")
        denied = [(await client.get("/x")).status_code for _ in range(2)]
        others = [(await client.get("/y")).status_code for _ in range(3)]
    assert first.status_code == 200 and denied == [429, 429]
    assert first.headers.get_list("ratelimit-policy") == ['"outer-60s";q=3;w=60, "inner-60s";q=1;w=60']
    assert len(first.headers.get_list("ratelimit")) == 1
    # The two inner denials were given back to the outer limit: /x counted once, so /y has two left.
    assert others == [200, 200, 429]


async def test_rules_match_route_pattern_and_method(store: Store) -> None:
    config = RateLimitConfig(rules=[RateLimitRule(path="/v1/messages*", methods=["POST"], limits="1/minute")])
    app = RateLimitMiddleware(ok_app, config=config, store=store)
    async with client_for(app) as client:
        assert (await client.post("/v1/messages")).status_code == 200
        assert (await client.post("/v1/messages/count_tokens")).status_code == 429
        assert (await client.get("/v1/messages")).status_code == 200
        other = await client.post("/healthz")
        assert other.status_code == 200 and "ratelimit" not in other.headers


async def test_keys_by_principal_by_address_global_and_function(store: Store) -> None:
    async def by_tenant(scope: Any, ctx: GuardContext) -> str | None:
        tenant = dict(scope["headers"]).get(b"x-tenant")
        return tenant.decode() if tenant else None  # no tenant: the rule does not apply

    rules = [
        RateLimitRule(path="/p", limits="1/minute"),
        RateLimitRule(path="/a", limits="1/minute", key="address"),
        RateLimitRule(path="/g", limits="2/minute", key="global"),
        RateLimitRule(path="/f", limits="1/minute", key=by_tenant),
    ]
    app = with_principal(RateLimitMiddleware(ok_app, config=RateLimitConfig(rules=rules), store=store))
    async with client_for(app) as one, client_for(app, peer="198.51.100.1") as other:
        assert (await one.get("/p", headers={"x-key": "k1"})).status_code == 200
        assert (await one.get("/p", headers={"x-key": "k1"})).status_code == 429
        assert (await one.get("/p", headers={"x-key": "k2"})).status_code == 200
        assert (await one.get("/p")).status_code == 200  # anonymous: by address
        assert (await one.get("/a", headers={"x-key": "k1"})).status_code == 200
        assert (await one.get("/a", headers={"x-key": "k2"})).status_code == 429  # same address
        assert (await other.get("/a")).status_code == 200
        assert (await one.get("/g")).status_code == 200
        assert (await other.get("/g")).status_code == 200
        assert (await one.get("/g", headers={"x-key": "k9"})).status_code == 429
        assert (await one.get("/f", headers={"x-tenant": "t1"})).status_code == 200
        assert (await other.get("/f", headers={"x-tenant": "t1"})).status_code == 429
        assert (await other.get("/f", headers={"x-tenant": "t2"})).status_code == 200
        assert (await other.get("/f")).status_code == 200


async def test_profiles_carry_default_limits_and_concurrency(store: Store) -> None:
    profile = Profile(name="analysis", rate_limits="2/minute", max_concurrency=1)
    release = asyncio.Event()

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/hold":
            await release.wait()
        await ok_app(scope, receive, send)

    app = with_principal(RateLimitMiddleware(slow, store=store), key_id="k1", profile=profile)
    async with client_for(app) as client:
        holding = asyncio.ensure_future(client.get("/hold"))
        await asyncio.sleep(0.05)
        busy = await client.get("/")
        assert busy.status_code == 429 and busy.json()["error"]["code"] == "concurrency"
        release.set()
        assert (await holding).headers["ratelimit-policy"] == '"profile-60s";q=2;w=60'
        assert (await client.get("/")).status_code == 200
        assert (await client.get("/")).status_code == 429  # 2/minute, the denied one not counted


async def test_decisions_are_recorded_for_the_audit(store: Store) -> None:
    seen: list[GuardContext] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(context_for(scope))
        await ok_app(scope, receive, send)

    config = RateLimitConfig(rules=[RateLimitRule(limits="1/minute", name="api")])
    guarded = RateLimitMiddleware(app, config=config, store=store)
    async with client_for(guarded) as client:
        await client.get("/")
        await client.get("/")
    decision = next(d for d in seen[0].decisions if d.protection == "rate_limit")
    assert decision.outcome == "allowed"
    assert decision.detail == {"policy": ["api-60s"], "remaining": 0}


async def test_concurrent_requests_do_not_share_state(store: Store) -> None:
    config = RateLimitConfig(rules=[RateLimitRule(limits="100/minute")])
    app = with_principal(RateLimitMiddleware(ok_app, config=config, store=store))
    async with client_for(app) as client:
        responses = await asyncio.gather(
            *(client.get("/", headers={"x-key": f"k{i % 4}"}) for i in range(40))
        )
    remaining = sorted(int(r.headers["ratelimit"].split("r=")[1].split(";")[0]) for r in responses)
    assert remaining == sorted(list(range(90, 100)) * 4)


# -- streaming and leases, raw ASGI --------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.first_chunk = asyncio.Event()

    async def send(self, message: Message) -> None:
        self.messages.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            self.first_chunk.set()


def scope_for(path: str = "/stream", method: str = "POST") -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [],
        "client": ("203.0.113.7", 1234),
        "query_string": b"",
    }


def receive_until(disconnect: asyncio.Event | None = None) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if disconnect is not None:
            await disconnect.wait()
        else:
            await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    return receive


async def test_streams_pass_unbuffered_and_intact(store: Store) -> None:
    recorder = Recorder()
    events = [f"event: content_block_delta\ndata: {json.dumps({'i': i})}\n\n".encode() for i in range(20)]

    async def stream(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        await send({"type": "http.response.body", "body": events[0], "more_body": True})
        # The next chunk is produced only once the first reached the client: a buffering layer would hang.
        async with asyncio.timeout(5):
            await recorder.first_chunk.wait()
        for event in events[1:]:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    config = RateLimitConfig(rules=[RateLimitRule(limits="5/minute", concurrency=1)])
    app = RateLimitMiddleware(stream, config=config, store=store)
    await app(scope_for(), receive_until(), recorder.send)
    starts = [m for m in recorder.messages if m["type"] == "http.response.start"]
    assert len(starts) == 1
    headers = dict(starts[0]["headers"])
    assert headers[b"ratelimit-policy"] == b'"r0-60s";q=5;w=60'
    assert headers[b"content-type"] == b"text/event-stream"
    body = b"".join(m.get("body", b"") for m in recorder.messages if m["type"] == "http.response.body")
    assert body == b"".join(events)
    assert len([m for m in recorder.messages if m["type"] == "http.response.body"]) == 21


async def assert_cap_free(app: Any) -> None:
    recorder = Recorder()
    async with asyncio.timeout(5):
        await app(scope_for(path="/ok"), receive_until(), recorder.send)
    assert recorder.messages[0]["status"] == 200


@pytest.mark.parametrize("ending", ["completion", "error", "cancellation", "disconnect_mid_stream"])
async def test_leases_are_released_however_the_request_ends(store: Store, ending: str) -> None:
    started = asyncio.Event()
    proceed = asyncio.Event()
    disconnect = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/ok":
            await ok_app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        started.set()
        if ending in ("completion", "error"):
            async with asyncio.timeout(5):
                await proceed.wait()
        if ending == "error":
            raise RuntimeError("boom")
        if ending in ("cancellation", "disconnect_mid_stream"):
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    config = RateLimitConfig(rules=[RateLimitRule(concurrency=1, key="global")])
    guarded = RateLimitMiddleware(app, config=config, store=store)
    recorder = Recorder()
    task = asyncio.ensure_future(guarded(scope_for(), receive_until(disconnect), recorder.send))
    async with asyncio.timeout(5):
        await started.wait()
    busy = Recorder()
    await guarded(scope_for(path="/ok"), receive_until(), busy.send)
    assert busy.messages[0]["status"] == 429
    proceed.set()
    if ending == "cancellation":
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    elif ending == "disconnect_mid_stream":
        disconnect.set()
        await task
    elif ending == "error":
        with pytest.raises(RuntimeError):
            await task
    else:
        await task
    await assert_cap_free(guarded)


async def test_websocket_and_lifespan_pass_through(store: Store) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    guarded = RateLimitMiddleware(
        app, config=RateLimitConfig(rules=[RateLimitRule(limits="1/day")]), store=store
    )
    for _ in range(3):
        await guarded({"type": "lifespan"}, receive_until(), Recorder().send)
        await guarded({"type": "websocket", "path": "/", "headers": []}, receive_until(), Recorder().send)
    assert seen == ["lifespan", "websocket"] * 3


# -- dependency ----------------------------------------------------------------------------------------------


def fastapi_app(dependency: Any, *, middleware_limiter: RateLimiter | None = None) -> Any:
    from fastapi import Depends, FastAPI
    from fastapi.responses import JSONResponse

    app = FastAPI()

    @app.post("/analyze", dependencies=[Depends(dependency)])
    async def analyze() -> dict[str, str]:
        return {"result": "ok"}

    @app.post("/raw", dependencies=[Depends(dependency)])
    async def raw() -> JSONResponse:
        return JSONResponse({"result": "raw"})

    if middleware_limiter is not None:
        config = RateLimitConfig(rules=[RateLimitRule(path="/analyze", limits="100/minute", name="mw")])
        app.add_middleware(RateLimitMiddleware, config=config, limiter=middleware_limiter)
    app.add_middleware(SafeErrorMiddleware)
    return app


async def test_dependency_limits_a_route_with_headers_and_an_anthropic_429(store: Store) -> None:
    limiter = RateLimiter(store)
    app = fastapi_app(rate_limit("2/minute", limiter=limiter))
    async with client_for(app) as client:
        first = await client.post("/analyze")
        assert first.status_code == 200 and first.json() == {"result": "ok"}
        assert first.headers["ratelimit-policy"] == '"route:/analyze-60s";q=2;w=60'
        assert (await client.post("/raw")).status_code == 200  # its own counter per route
        assert (await client.post("/analyze")).status_code == 200
        denied = await client.post("/analyze")
    assert denied.status_code == 429
    assert denied.json()["error"]["type"] == "rate_limit_error"
    assert int(denied.headers["retry-after"]) >= 1


async def test_dependency_shares_the_middleware_engine_and_a_denial_refunds_it(store: Store) -> None:
    limiter = RateLimiter(store)
    app = fastapi_app(rate_limit("1/minute", name="analyze"), middleware_limiter=limiter)
    async with client_for(app) as client:
        first = await client.post("/analyze")
        assert first.status_code == 200
        assert first.headers["ratelimit-policy"] == '"mw-60s";q=100;w=60, "analyze-60s";q=1;w=60'
        assert first.headers["ratelimit"].startswith('"mw-60s";r=99;')
        for _ in range(3):
            assert (await client.post("/analyze")).status_code == 429
        # The denied requests were counted by neither: the middleware's limit got its quota back.
        mw = limiter.counters
        assert mw["denied"] == 3 and mw["refunded"] == 3
    check_mw = LimitCheck(
        key=store.key("rl", "mw", "moving_window:100:60", tag="addr:203.0.113.7"),
        amount=100,
        window=60,
        strategy="moving_window",
        policy="mw",
    )
    assert (await limiter.admit([check_mw])).limits[0].remaining == 98


async def test_dependency_awaited_by_hand_raises_rate_limited(store: Store) -> None:
    from starlette.requests import Request

    dependency = rate_limit("1/minute", limiter=RateLimiter(store), name="manual")
    await dependency(Request(scope_for()))
    with pytest.raises(RateLimitedError) as info:
        await dependency(Request(scope_for()))
    assert info.value.headers["ratelimit-policy"] == '"manual-60s";q=1;w=60'


@pytest.mark.parametrize(
    ("strategy", "offsets", "worst"),
    [
        # the whole limit just before an edge and again just after it: twice the limit in 10 ms
        ("fixed_window", (-0.01, 0.0), 2 * 60),
        # the previous window's requests all at its end, weighted as if spread evenly: 2N - 1 in one window
        ("sliding_window_counter", (-0.01, 59.98), 2 * 60 - 1),
        # the sliding log: never more than N in any window of the period
        ("moving_window", (-0.01, 0.0, 30.0, 59.98), 60),
    ],
    ids=["fixed", "sliding-counter", "sliding-log"],
)
def test_worst_case_of_each_strategy_is_the_documented_one(
    monkeypatch: pytest.MonkeyPatch, strategy: Strategy, offsets: tuple[float, ...], worst: int
) -> None:
    # docs/rate-limits.md states these figures for "60/minute"; the bursts below are the adversarial
    # schedules (60 attempts at each offset from a window edge), all within less than one window.
    from claude_guard.ratelimit import _engine

    clock = [0.0]
    monkeypatch.setattr(_engine, "time", SimpleNamespace(time=lambda: clock[0]))
    limiter = RateLimiter()
    limit = LimitCheck(key="w", amount=60, window=60, strategy=strategy, policy="w")
    edge = 60.0 * 1_000_000
    admitted = 0
    for offset in offsets:
        clock[0] = edge + offset
        for _ in range(60):
            verdict = limiter.admit_nowait([limit])
            assert verdict is not None
            admitted += verdict.allowed
    assert offsets[-1] - offsets[0] < 60
    assert admitted == worst
