"""The default process pool: a worker killed mid-load is replaced and later requests succeed without a
restart, in-process and under a real uvicorn; shutdown stops the workers; a script that cannot spawn
workers (no ``if __name__ == "__main__":``) falls back to threads; and the pool is warm when built.

A guard's engine starts nothing when the app is assembled: the lifespan startup (the guard's, or the PII
middleware's on an app with a lifespan of its own) starts and warms it, the first analysis does without a
lifespan, and the last guard holding it stops its workers on ``aclose``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from _uvicorn import ROOT, uvicorn_processes
from claude_guard import ClaudeGuard, GuardSettings
from claude_guard.pii import PIIConfig, PIIEngine

PHONE_TEXT = "Call me on +1 415 555 0100 or mail ada@example.com. " * 40


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (dead, not yet reaped) is not alive either.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def test_a_killed_worker_is_replaced_and_later_analyses_succeed() -> None:
    engine = PIIEngine(PIIConfig(phone_regions=("US",), workers=2, timeout=60))
    try:
        assert engine.executor == "process"
        pids = engine.worker_pids()
        assert len(pids) == 2
        # Warm: both workers built their engine before the constructor returned, and the parent has the
        # prefilter, so a clean small text needs no worker at all.
        assert engine._light is not None
        load = [asyncio.create_task(engine.analyze(PHONE_TEXT)) for _ in range(4)]
        await asyncio.sleep(0.05)
        os.kill(pids[0], signal.SIGKILL)
        outcomes = await asyncio.gather(*load, return_exceptions=True)
        # In-flight analyses are retried once on the new pool.
        assert all(isinstance(o, list) and o for o in outcomes), outcomes
        for _ in range(3):
            found = {f.entity for f in await engine.analyze(PHONE_TEXT)}
            assert {"PHONE_NUMBER", "EMAIL_ADDRESS"} <= found
        assert engine.rebuilds == 1
        assert not set(engine.worker_pids()) & set(pids)
    finally:
        engine.close()
    assert not any(_alive(pid) for pid in pids)


def test_close_stops_every_worker() -> None:
    engine = PIIEngine(PIIConfig(phone_regions=("US",), workers=2))
    pids = engine.worker_pids()
    assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    engine.close()
    assert not any(_alive(pid) for pid in pids)


def test_a_script_without_a_main_guard_falls_back_to_threads(tmp_path: Path) -> None:
    # Spawned workers re-run such a script's top level, which builds the engine again and cannot start
    # processes while bootstrapping: the worker dies, and the parent's engine uses threads instead.
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            """
            from claude_guard.pii import PIIConfig, PIIEngine

            engine = PIIEngine(PIIConfig(phone_regions=("US",), workers=1))
            print("EXECUTOR", engine.executor, flush=True)
            found = engine.analyze_sync("call +1 415 555 0100")
            print("FOUND", sorted({f.entity for f in found}), flush=True)
            engine.close()
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "EXECUTOR thread" in done.stdout
    assert "FOUND ['PHONE_NUMBER']" in done.stdout
    assert "could not start" in done.stderr


APP = """
import json

from claude_guard.pii import PIIConfig, Redactor

redactor = Redactor(config=PIIConfig(hmac_key="k", workers=1, phone_regions=("US",), timeout=60))


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                redactor.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    engine = redactor.engine
    if scope["path"] == "/pool":
        out = {"pids": engine.worker_pids(), "executor": engine.executor, "rebuilds": engine.rebuilds}
    else:
        out = (await redactor.redact(json.loads(body), principal="p")).body
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(out).encode()})
"""


@pytest.mark.server
def test_under_uvicorn_a_killed_worker_is_replaced_without_a_restart(tmp_path: Path) -> None:
    (tmp_path / "pool_app.py").write_text(APP)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    body = {"messages": [{"role": "user", "content": PHONE_TEXT}]}
    server = uvicorn_processes("pool_app:app", app_dir=tmp_path, env=env, timeout=120)
    with server as (url,), httpx.Client(base_url=url, timeout=90) as client:
        pool = client.get("/pool").json()
        assert pool["executor"] == "process" and len(pool["pids"]) == 1
        statuses: list[int] = []

        def load() -> None:
            with httpx.Client(base_url=url, timeout=90) as c:
                statuses.append(c.post("/redact", json=body).status_code)

        threads = [threading.Thread(target=load) for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        os.kill(pool["pids"][0], signal.SIGKILL)
        for t in threads:
            t.join()
        assert statuses == [200] * 6  # in-flight analyses were retried on the new pool
        # The same server process, no restart: later requests are redacted by the new worker.
        for _ in range(3):
            answer = client.post("/redact", json=body)
            assert answer.status_code == 200
            assert "415 555 0100" not in json.dumps(answer.json())
        after = client.get("/pool").json()
        assert after["rebuilds"] == 1
        assert after["pids"] and after["pids"] != pool["pids"]
        assert not _alive(pool["pids"][0])
    assert not _alive(after["pids"][0])  # the server's shutdown stopped its worker


PARENT = """
import os, sys
from claude_guard.pii import PIIConfig, PIIEngine

if __name__ == "__main__":
    engine = PIIEngine(PIIConfig(phone_regions=("US",), workers=2))
    print(" ".join(str(pid) for pid in engine.worker_pids()), flush=True)
    sys.stdin.readline()  # hold until the test kills this process
"""


def test_workers_leave_when_their_parent_is_killed(tmp_path: Path) -> None:
    # A parent killed without closing its pool (SIGKILL, the OOM killer) must not leave idle workers behind,
    # holding its stdout open: whoever waits for that pipe (a supervisor, a CI step) would wait forever.
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    parent = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
    )
    assert parent.stdout is not None
    pids = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)
    # and the pipe the workers inherited is closed: the read ends instead of waiting forever
    assert parent.stdout.read() == ""


# -- Ownership: the guard starts its engine at the lifespan startup and the last guard to close stops it ----


def _guard_settings(tmp_path: Path, **options: object) -> GuardSettings:
    # A configuration of these tests' own: guards elsewhere in the session never share this engine.
    config = PIIConfig(phone_regions=("US",), workers=1, timeout=57.5, **options)  # type: ignore[arg-type]
    return GuardSettings(pii="on", pii_config=config, audit_db=str(tmp_path / "audit.db"))


def _pool_of(guard: ClaudeGuard) -> PIIEngine:
    redactor = guard.pii_redactor
    assert redactor is not None
    return redactor.engine


async def test_assembly_starts_nothing_and_the_last_guard_to_close_stops_the_workers(tmp_path: Path) -> None:
    first, second = (
        ClaudeGuard(settings=_guard_settings(tmp_path)),
        ClaudeGuard(settings=_guard_settings(tmp_path)),
    )
    first.wrap(_ok_app)
    second.wrap(_ok_app)
    engine = _pool_of(first)
    assert _pool_of(second) is engine  # one engine per configuration, shared
    # Imported, assembled, never served: no worker process exists.
    assert not engine.started and engine.worker_pids() == []
    async with first.lifespan():
        pids = engine.worker_pids()
        assert len(pids) == 1 and _alive(pids[0])
        assert engine._light is not None  # warm: the worker answered before the startup ended
        async with second.lifespan():
            assert engine.worker_pids() == pids
        # The second guard is closed; the first still uses the pool.
        assert _alive(pids[0]) and engine.started
        found = await engine.analyze(PHONE_TEXT)
        assert "PHONE_NUMBER" in {f.entity for f in found}
    # The last guard closed: its worker is gone now, with this process still running.
    assert not _alive(pids[0])
    assert not engine.started and engine.worker_pids() == []


async def test_without_a_lifespan_the_first_analysis_starts_the_pool_and_aclose_stops_it(
    tmp_path: Path,
) -> None:
    guard = ClaudeGuard(settings=_guard_settings(tmp_path, inline_chars=1))
    redactor = guard.pii_redactor
    assert redactor is not None and not redactor.engine.started
    body = {"messages": [{"role": "user", "content": "call +1 415 555 0100"}]}
    result = await redactor.redact(body, principal="p")
    assert result.counts == {"PHONE_NUMBER": 1}
    pids = redactor.engine.worker_pids()
    assert len(pids) == 1 and _alive(pids[0])
    await guard.aclose()
    assert not _alive(pids[0])
    # Used again after its close (a second lifespan on the same app): the pool starts again, and stops again.
    async with guard.lifespan():
        again = redactor.engine.worker_pids()
        assert len(again) == 1 and again != pids
        assert (await redactor.redact(body, principal="p")).counts == {"PHONE_NUMBER": 1}
    assert not _alive(again[0])


async def _ok_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].removeprefix("lifespan.")
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.mark.server
def test_under_uvicorn_the_workers_start_in_the_lifespan_startup_and_stop_at_shutdown(tmp_path: Path) -> None:
    from fastapi import FastAPI

    from claude_guard.testing import serve

    guard = ClaudeGuard(settings=_guard_settings(tmp_path, entities=("PHONE_NUMBER",)))
    app = guard.install(FastAPI(lifespan=guard.lifespan))
    engine = _pool_of(guard)
    assert not engine.started
    with serve(app, startup_timeout=120):
        # The server accepts connections only after the startup: by then the worker is up and warm, and no
        # request has been made.
        pids = engine.worker_pids()
        assert len(pids) == 1 and _alive(pids[0]) and engine._light is not None
    # uvicorn's lifespan shutdown closed the guard: the worker is gone, in this same (living) process.
    assert not _alive(pids[0])
    assert not engine.started


@pytest.mark.server
def test_under_uvicorn_the_middleware_starts_the_pool_in_an_app_without_the_guards_lifespan(
    tmp_path: Path,
) -> None:
    # guard.install on an app whose lifespan is its own: the PII middleware starts the pool at the startup.
    from starlette.applications import Starlette

    from claude_guard.testing import serve

    guard = ClaudeGuard(settings=_guard_settings(tmp_path, entities=("IP_ADDRESS",)))
    app = guard.install(Starlette())
    engine = _pool_of(guard)
    assert not engine.started
    try:
        with serve(app, startup_timeout=120):
            pids = engine.worker_pids()
            assert len(pids) == 1 and _alive(pids[0]) and engine._light is not None
    finally:
        asyncio.run(guard.aclose())
    assert not _alive(pids[0])


async def test_a_request_of_several_blocks_is_one_hand_off_to_the_pool() -> None:
    # The text and its block boundaries both need Presidio: one round trip carries both analyses.
    from claude_guard.pii import Redactor

    engine = PIIEngine(PIIConfig(hmac_key="k", phone_regions=("US",), workers=1, timeout=60))
    try:
        pool = engine._pool
        assert pool is not None
        submitted: list[str] = []
        submit = pool.submit

        def counting_submit(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            submitted.append(fn.__name__)
            return submit(fn, *args, **kwargs)

        pool.submit = counting_submit  # type: ignore[method-assign]
        blocks = [
            {"type": "text", "text": PHONE_TEXT + "call +1 415 555"},
            {"type": "text", "text": " 0199 today"},
        ]
        body = {"messages": [{"role": "user", "content": blocks}]}
        result = await Redactor(engine=engine).redact(body, principal="p")
        assert submitted == ["_analyze_text_and_windows_in_worker"]
        # The number split across the two blocks was found through the window analysis.
        texts = [b["text"] for b in result.body["messages"][0]["content"]]
        assert "0199" not in texts[1] and "415 555 0100" not in texts[0]
    finally:
        engine.close()
