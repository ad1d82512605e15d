"""The reference gateway's garbage-collector settings: applied while the app is up (served by a real
uvicorn server), restored when it stops, shared by nested holders, and cyclic garbage still collected."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import httpx
import pytest

from claude_guard import ClaudeGuard, GuardSettings
from claude_guard.reference_app import create_app
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import FakeClaude, serve
from claude_guard.testing._fake import CANARY_API_KEY
from claude_guard.tuning import YOUNG_THRESHOLD, gc_tuned


@pytest.fixture(autouse=True)
def _untuned() -> None:
    assert gc.get_threshold()[0] != YOUNG_THRESHOLD, "an earlier test left the process tuned"


def test_applies_and_restores() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with gc_tuned():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > frozen  # the objects that exist now are out of the collector's walk
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_nested_holders_share_one_application() -> None:
    before = gc.get_threshold()
    outer = gc_tuned()
    inner = gc_tuned()
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)  # the first to leave is not the last holder: still tuned
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    inner.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_restored_when_the_block_raises() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), gc_tuned():
        raise RuntimeError("boom")
    assert gc.get_threshold() == before


def test_cyclic_garbage_is_still_collected() -> None:
    class Node:
        other: object = None

    with gc_tuned():
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None  # a cycle: reference counts alone never free it
        gc.collect()
        assert gone() is None


def test_bad_threshold_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"), gc_tuned(0):
        pass


@pytest.mark.parametrize("tune", [True, False])
def test_reference_gateway_tunes_while_served(tmp_path: Path, tune: bool) -> None:
    before = gc.get_threshold()
    with serve(FakeClaude(api_key=CANARY_API_KEY)) as upstream:
        guard = ClaudeGuard(
            settings=GuardSettings(
                api_key_source=EnvSecretSource("K", {"K": CANARY_API_KEY}),
                api_url=upstream.url,
                audit_db=str(tmp_path / "audit.sqlite3"),
                pii="off",
            )
        )
        with serve(create_app(guard, tune_gc=tune)) as server:
            assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
            assert gc.get_threshold()[0] == (YOUNG_THRESHOLD if tune else before[0])
    assert gc.get_threshold() == before  # the lifespan's shutdown restored it
