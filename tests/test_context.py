"""The per-request GuardContext and its contextvar: set and reset with a token, never shared."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from claude_guard._asgi import context_for
from claude_guard.context import SCOPE_KEY, GuardContext, current_context, new_request_id, use_context
from claude_guard.errors import InvalidJSONError
from claude_guard.middleware import GuardMiddleware, RequestLimitsMiddleware, SafeErrorMiddleware

TIMEOUT = 5.0


def test_request_ids_look_like_anthropics_and_are_unique() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    for rid in ids:
        assert rid.startswith("req_")
        assert len(rid) == 28
        int(rid[4:], 16)


def test_use_context_sets_and_resets() -> None:
    ctx = GuardContext(method="POST", path="/v1/messages")
    assert current_context() is None
    with use_context(ctx) as entered:
        assert entered is ctx
        assert current_context() is ctx
    assert current_context() is None


def test_nested_contexts_restore_the_outer_one() -> None:
    outer, inner = GuardContext(), GuardContext()
    with use_context(outer):
        with use_context(inner):
            assert current_context() is inner
        assert current_context() is outer
    assert current_context() is None


def test_reset_happens_on_exception() -> None:
    ctx = GuardContext()
    with pytest.raises(RuntimeError, match="boom"), use_context(ctx):
        raise RuntimeError("boom")
    assert current_context() is None


async def test_child_tasks_inherit_and_cannot_change_the_parents_context() -> None:
    ctx = GuardContext()
    seen: list[GuardContext | None] = []

    async def child() -> None:
        seen.append(current_context())
        with use_context(GuardContext()):
            pass

    with use_context(ctx):
        await asyncio.create_task(child())
        assert current_context() is ctx
    assert seen == [ctx]


def test_json_is_parsed_once_and_bad_bodies_are_invalid_json() -> None:
    ctx = GuardContext(body=b'{"a": [1, 2]}')
    first = ctx.json()
    assert first == {"a": [1, 2]}
    assert ctx.json() is first
    for body in (b"{nope", b'{"a": "\xff"}', b"[" * 100_000 + b"]" * 100_000, b""):
        with pytest.raises(InvalidJSONError):
            GuardContext(body=body).json()
    with pytest.raises(RuntimeError, match="not been captured"):
        GuardContext().json()


def test_set_json_reencodes_the_body() -> None:
    ctx = GuardContext(body=b'{"a": 1}')
    ctx.set_json({"b": "é"})
    assert ctx.json() == {"b": "é"}
    assert json.loads(ctx.body or b"") == {"b": "é"}
    assert ctx.body == '{"b":"é"}'.encode()


def test_decisions_are_recorded() -> None:
    ctx = GuardContext()
    ctx.decide("limits", "allowed")
    ctx.decide("error", "refused", status=413)
    assert [(d.protection, d.outcome, d.detail) for d in ctx.decisions] == [
        ("limits", "allowed", None),
        ("error", "refused", {"status": 413}),
    ]


def test_context_for_creates_one_context_per_scope() -> None:
    scope: dict[str, Any] = {"type": "http", "method": "PUT", "path": "/x", "client": ("10.0.0.7", 5)}
    ctx = context_for(scope)
    assert (ctx.method, ctx.path, ctx.client_addr) == ("PUT", "/x", "10.0.0.7")
    assert scope[SCOPE_KEY] is ctx
    assert context_for(scope) is ctx
    assert context_for({"type": "http"}) is not ctx


def test_the_generated_constructors_equal_the_dataclasses() -> None:
    # new_context and decision are the hot path's GuardContext(...) and Decision(...): every field equal, and
    # a field the generated code forgot would raise AttributeError on reading its empty slot.
    import dataclasses

    from claude_guard.context import Decision, decision, new_context

    made, built = new_context("PATCH", "/y", None), GuardContext(method="PATCH", path="/y")
    for item in dataclasses.fields(GuardContext):
        if item.name not in ("request_id", "started_at"):  # a fresh id and clock reading each
            assert getattr(made, item.name) == getattr(built, item.name), item.name
    assert made.request_id != built.request_id and made.request_id.startswith("req_")
    assert made.decisions is not built.decisions and made.state is not built.state  # factories, not shared
    assert abs(made.started_at - built.started_at) < 60
    assert decision("p", "o", {"a": 1}) == Decision(protection="p", outcome="o", detail={"a": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision("p", "o", None).outcome = "changed"  # type: ignore[misc]


# --- many concurrent requests through the middlewares --------------------------------------------------

N = 200


def _recording_app(barrier: asyncio.Barrier, seen: dict[str, str | None]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        ctx = current_context()
        assert ctx is not None
        assert ctx is scope[SCOPE_KEY]
        # every request is in flight at once before any answers: a context stored on a shared object, or
        # not reset, would be seen by another request here
        async with asyncio.timeout(TIMEOUT):
            await barrier.wait()
        after = current_context()
        seen[scope["path"]] = after.request_id if after is not None else None
        body = (after.request_id if after is not None else "none").encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.mark.parametrize(
    "stack",
    [
        pytest.param(lambda app: GuardMiddleware(app), id="guard"),
        pytest.param(lambda app: SafeErrorMiddleware(RequestLimitsMiddleware(app)), id="safe+limits"),
    ],
)
async def test_no_context_leaks_between_concurrent_requests(stack: Any) -> None:
    barrier = asyncio.Barrier(N)
    seen: dict[str, str | None] = {}
    app = stack(_recording_app(barrier, seen))

    async def one(i: int) -> tuple[str, str]:
        sent: list[Any] = []
        scope: dict[str, Any] = {
            "type": "http",
            "method": "POST",
            "path": f"/r/{i}",
            "headers": [],
            "client": (f"10.0.{i // 250}.{i % 250}", 1),
        }

        async def receive() -> dict[str, Any]:
            await asyncio.sleep(0)
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        await app(scope, receive, send)
        assert current_context() is None
        return scope[SCOPE_KEY].request_id, sent[1]["body"].decode()

    async with asyncio.timeout(TIMEOUT):
        results = await asyncio.gather(*(one(i) for i in range(N)))
    ids = [own for own, _ in results]
    assert len(set(ids)) == N
    for i, (own, answered) in enumerate(results):
        assert answered == own
        assert seen[f"/r/{i}"] == own
    assert current_context() is None


async def test_no_context_leaks_through_the_http_tier() -> None:
    barrier = asyncio.Barrier(50)
    seen: dict[str, str | None] = {}
    app = SafeErrorMiddleware(RequestLimitsMiddleware(_recording_app(barrier, seen)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        async with asyncio.timeout(TIMEOUT):
            responses = await asyncio.gather(*(client.post(f"/r/{i}", content=b"{}") for i in range(50)))
    answered = [r.text for r in responses]
    assert len(set(answered)) == 50
    assert [seen[f"/r/{i}"] for i in range(50)] == answered


async def test_nested_guards_share_one_context() -> None:
    seen: list[GuardContext | None] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(current_context())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    stacked = GuardMiddleware(GuardMiddleware(GuardMiddleware(app)))
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "headers": []}

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        pass

    await stacked(scope, receive, send)
    assert seen == [scope[SCOPE_KEY]]
    assert current_context() is None


async def test_context_is_reset_after_an_error_in_the_app() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "headers": []}

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        pass

    with pytest.raises(RuntimeError, match="boom"):
        await GuardMiddleware(broken)(scope, receive, send)
    assert current_context() is None


# Objects whose ``.state`` is a framework's application state (``app.state.claude_guard``), not a context's.
_APP_STATE_OWNERS = frozenset({"app", "app_config"})


def _stringly_state_uses(tree: Any) -> list[int]:
    import ast

    def owner(node: ast.expr) -> str | None:
        return (
            node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
        )

    def is_state(node: ast.expr) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "state"
            and owner(node.value) not in _APP_STATE_OWNERS
        )

    found: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and is_state(node.value):
            found.append(node.lineno)  # ctx.state["key"] / ctx.state[KEY]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"get", "setdefault", "pop", "__contains__"}
            and is_state(node.func.value)
        ):
            found.append(node.lineno)  # ctx.state.get("key")
        elif isinstance(node, ast.Compare) and any(
            isinstance(op, ast.In | ast.NotIn) and is_state(right)
            for op, right in zip(node.ops, node.comparators, strict=True)
        ):
            found.append(node.lineno)  # "key" in ctx.state
        elif isinstance(node, ast.Assign) and is_state(node.value):
            found.append(node.lineno)  # state = ctx.state (then state["key"])
    return sorted(found)


def test_the_scan_finds_stringly_state() -> None:
    import ast

    source = (
        "x = ctx.state['cost_usd']\n"
        "y = self.ctx.state.get(KEY)\n"
        "if 'k' in ctx.state: pass\n"
        "s = ctx.state\n"
        "app.state.claude_guard = guard\n"
        "g = request.app.state.get('claude_guard')\n"
        "app_config.state['claude_guard'] = guard\n"
    )
    assert _stringly_state_uses(ast.parse(source)) == [1, 2, 3, 4]


def test_no_protection_passes_facts_through_ctx_state() -> None:
    """What crosses modules is a typed ``GuardContext`` field; ``ctx.state`` is left to user extensions."""
    import ast
    from pathlib import Path

    import claude_guard

    root = Path(claude_guard.__file__).parent
    offenders = [
        f"{path.relative_to(root)}:{line}"
        for path in sorted(root.rglob("*.py"))
        for line in _stringly_state_uses(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == []


def test_the_shared_facts_are_typed_fields() -> None:
    ctx = GuardContext(method="POST", path="/v1/messages")
    assert dict(ctx.state) == {}
    assert (ctx.cost_usd, ctx.usage, ctx.upstream_status, ctx.rate_limit, ctx.redaction) == (None,) * 5
    assert ctx.response_started is False and ctx.audited is False
    with pytest.raises(AttributeError):
        ctx.costs = []  # type: ignore[attr-defined]  # slots: a misspelt fact fails at once


def test_dataclass_factory_refuses_what_it_would_build_wrong() -> None:
    import dataclasses

    from claude_guard.context import dataclass_factory

    @dataclasses.dataclass
    class Required:
        a: int
        b: int = 0

    @dataclasses.dataclass
    class Checked:
        a: int = 0

        def __post_init__(self) -> None:
            self.a += 1

    @dataclasses.dataclass(frozen=True)
    class Frozen:
        a: int = 0

    with pytest.raises(TypeError, match="without a default"):
        dataclass_factory(Required, "b")
    assert dataclass_factory(Required, "a")(5) == Required(5)
    with pytest.raises(TypeError, match="__post_init__"):
        dataclass_factory(Checked)
    with pytest.raises(TypeError, match="frozen"):
        dataclass_factory(Frozen)
