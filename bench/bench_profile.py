"""Where a guarded request's CPU goes: the reference gateway served by uvicorn, sampled by py-spy while an
aiohttp load generator (its own process) drives it, self time grouped by protection.

Run: ``.venv/bin/python bench/run.py profile`` — a 1 KB prompt, 8 concurrent callers, through the gateway with
every protection (PII on), with PII off, and through the bare pass-through (``MessagesProxy`` alone) to a
uvicorn FakeClaude; the server under test has a CPU to itself (`pin`). CPU per request is the server process's
user and system CPU (``/proc``) over an unprofiled run divided by its requests (the median of three). The
breakdown comes from a second, profiled run: py-spy samples only the threads holding the GIL (``--gil``), on a
core or waiting for one (hence `pin`), and each sample is charged to the file of its innermost Python
frame (a C function's time, a ``json.dumps`` or a socket ``send``, to the Python code that called it), grouped
by protection; the share of samples times the CPU per request is that group's µs. Sampling (``--nonblocking``)
does not pause the server. Why py-spy, not yappi or cProfile in-process: the in-process version had to drive
the gateway through httpx's ASGITransport, which cost as much as the app it drove and hid the real server and
upstream hop; py-spy attaches to the real server from outside. ``BENCH_BASELINE_SRC=/tmp/old/src`` (from ``git
archive <commit> src``) profiles the same servers on that tree too and adds "before" columns.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import ServerProcess, table
from bench_gateway import UPSTREAM_KEY, admin_key, load, process_tree

N = int(os.environ.get("BENCH_N", "3000"))

# First match wins: a claude_guard file is charged to its protection, libraries to what they serve.
GROUPS: list[tuple[str, str]] = [
    ("/claude_guard/pii/", "PII (claude_guard side: prefilter, placeholders, vault)"),
    ("/claude_guard/_credentials", "PII (claude_guard side: prefilter, placeholders, vault)"),
    ("/presidio", "PII (Presidio analysis, when run in the server process)"),
    ("spacy/", "PII (Presidio analysis, when run in the server process)"),
    ("/phonenumbers/", "PII (Presidio analysis, when run in the server process)"),
    ("/multiprocessing/", "PII (process pool hand-off)"),
    ("/claude_guard/validation/", "prompt validation"),
    ("/claude_guard/ledger/", "cost meter and ledger"),
    ("/claude_guard/pricing", "cost meter and ledger"),
    ("/claude_guard/ratelimit/", "rate limits"),
    ("/claude_guard/keys", "client keys"),
    ("/claude_guard/sandbox/", "tool-call sandbox"),
    ("/claude_guard/audit/", "audit record, spans and sink"),
    ("/opentelemetry/", "audit record, spans and sink"),
    ("/sqlite3/", "audit record, spans and sink"),
    ("/claude_guard/messages", "request walker and SSE"),
    ("/claude_guard/upstream", "upstream hop (aiohttp)"),
    ("/aiohttp/", "upstream hop (aiohttp)"),
    ("/yarl/", "upstream hop (aiohttp)"),
    ("/multidict/", "upstream hop (aiohttp)"),
    ("/claude_guard/gateway", "forwarding (MessagesProxy)"),
    ("/claude_guard/", "guard core (context, body capture, middleware base, errors, routes)"),
    ("/uvicorn/", "HTTP server (uvicorn, httptools)"),
    ("/starlette/", "Starlette and FastAPI (routing)"),
    ("/fastapi/", "Starlette and FastAPI (routing)"),
    ("/pydantic", "Starlette and FastAPI (routing)"),
    ("/asyncio/", "event loop (asyncio, uvloop)"),
    ("/concurrent/futures/", "thread hand-offs (executors)"),
    ("/threading.py", "thread hand-offs (executors)"),
    ("/queue.py", "thread hand-offs (executors)"),
    ("/json/", "json (stdlib)"),
    ("/re/", "regular expressions"),
]

_FRAME = re.compile(r"\(([^()]*?):\d+\)$")


def group_of(frame: str) -> str:
    match = _FRAME.search(frame)
    filename = "/" + (match.group(1) if match else frame)  # py-spy shortens paths: "aiohttp/client.py"
    for needle, name in GROUPS:
        if needle in filename:
            return name
    return "other"


CPUS = sorted(os.sched_getaffinity(0))


def pin(server: ServerProcess) -> None:
    """The server under test gets the first CPU to itself; its child processes (the PII pool's workers),
    FakeClaude and the load generator share the others (the benchmark process pins itself there first, so
    what it starts inherits it). Without this, on a machine of two cores, a send to FakeClaude or to the
    load generator woke that process on the server's core and descheduled the server inside its ``send``:
    py-spy (which samples the GIL holder, on a core or not) charged that wait to the frame that sent,
    about 300 µs per request to aiohttp's ``_writelines``, while the process's system CPU was 110 µs and
    callgrind counted 23 k instructions in uvloop. One CPU: nothing is pinned."""
    if len(CPUS) < 2:
        return
    main, *children = process_tree(server.proc.pid)
    os.sched_setaffinity(main, {CPUS[0]})
    for child in children:
        os.sched_setaffinity(child, set(CPUS[1:]))


def py_spy() -> str:
    here = Path(sys.executable).with_name("py-spy")
    found = str(here) if here.exists() else shutil.which("py-spy")
    if not found:
        raise RuntimeError("bench_profile needs py-spy (pip install -e '.[dev]')")
    return found


def samples(path: str) -> Counter[str]:
    """Samples per group from py-spy's raw output (one ``frame;frame;... count`` line per stack)."""
    by_group: Counter[str] = Counter()
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            by_group[group_of(stack.rsplit(";", 1)[-1])] += int(count)
    return by_group


async def measure(server: ServerProcess, key: str, out: str) -> tuple[float, Counter[str]]:
    """CPU µs per request (median of three unprofiled runs) and the profiled run's samples by group."""
    headers = {"x-api-key": key}
    pid = server.proc.pid
    await load(server.url, headers, 200, [pid])
    cpu = sorted([(await load(server.url, headers, N // 3, [pid]))[1] for _ in range(3)])[1]
    spy = subprocess.Popen(  # noqa: ASYNC220 - it runs beside the load, which must not wait for it
        [py_spy(), "record", "-p", str(pid), "-r", "400", "-f", "raw", "-o", out, "--gil", "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    await asyncio.sleep(1.0)  # attached
    await load(server.url, headers, N, [pid])
    spy.send_signal(signal.SIGINT)  # py-spy writes its samples and exits
    spy.wait(timeout=60)
    return cpu * 1e6, samples(out)


async def profile_tree(
    tmp: str, keys_file: str, key: str, src: str | None
) -> dict[str, tuple[float, Counter[str]]]:
    env = {"BENCH_UPSTREAM_KEY": UPSTREAM_KEY, "CLAUDE_GUARD_AUDIT_DB": os.path.join(tmp, "audit.sqlite3")}
    fake = ServerProcess("apps:fake", env)
    fake.wait("/")
    tree = {**env, "BENCH_UPSTREAM_URL": fake.url, "CLAUDE_GUARD_KEYS_FILE": keys_file}
    if src:
        tree["PYTHONPATH"] = src
    servers = {
        "every protection": ServerProcess("apps:gateway", {**tree, "CLAUDE_GUARD_PII": "on"}),
        "PII off": ServerProcess("apps:gateway", {**tree, "CLAUDE_GUARD_PII": "off"}),
        "bare pass-through": ServerProcess("apps:passthrough", tree),
    }
    results = {}
    try:
        for server in servers.values():
            server.wait(timeout=120.0)
            pin(server)
        for name, server in servers.items():
            results[name] = await measure(server, key, os.path.join(tmp, f"{name}.txt"))
    finally:
        for server in (*servers.values(), fake):
            server.stop()
    return results


async def main() -> str:
    if len(CPUS) >= 2:
        os.sched_setaffinity(0, set(CPUS[1:]))  # FakeClaude and the load generator (see `pin`)
    with tempfile.TemporaryDirectory() as tmp:
        keys_file = os.path.join(tmp, "keys.json")
        key = await admin_key(keys_file)
        now = await profile_tree(tmp, keys_file, key, None)
        baseline = os.environ.get("BENCH_BASELINE_SRC")
        before = await profile_tree(tmp, keys_file, key, baseline) if baseline else {}
    columns = list(now)

    def us(result: tuple[float, Counter[str]], group: str) -> float:
        cpu, by_group = result
        return cpu * by_group[group] / (sum(by_group.values()) or 1)

    groups = sorted({g for _, c in now.values() for g in c}, key=lambda g: -us(now["every protection"], g))
    rows = []
    for group in groups:
        row = [group]
        for name in columns:
            row.append(f"{us(now[name], group):.0f}")
            if before:
                row.append(f"{us(before[name], group):.0f}")
        rows.append(row)
    total = ["**CPU per request (measured)**"]
    for name in columns:
        total.append(f"**{now[name][0]:.0f}**")
        if before:
            total.append(f"{before[name][0]:.0f}")
    header = ["where (innermost Python frame)"]
    for name in columns:
        header += [f"{name}: µs"] + ([f"{name}: µs before"] if before else [])
    note = (
        f"'Before' columns are the same servers on the tree of `BENCH_BASELINE_SRC` ({baseline}), measured "
        "after the current tree in the same run."
        if before
        else ""
    )
    return "\n".join(
        [
            "## Where a request's CPU goes",
            "",
            "The reference gateway as it is served (uvicorn, one process, uvloop and httptools from "
            "`uvicorn[standard]`), a new 1 KB prompt each request, 8 concurrent callers from an aiohttp "
            "load generator in its own process, FakeClaude as the upstream in a third; the server has a "
            "core to itself, the load generator, FakeClaude and the PII pool's workers share the other "
            "(without that, py-spy charged the server's waits for a core to the frame that had woken the "
            "other process). CPU per request: the server process's user "
            f"and system CPU over an unprofiled run ({N // 3} requests, median of three). Breakdown: py-spy "
            f"sampling the server's GIL holder through a second run of {N} requests, each sample charged to "
            "its innermost Python frame's file (C calls and socket writes to the Python code that made "
            "them), the share of samples times the CPU per request. The PII process pool's workers are "
            "other processes and are not counted: what PII costs the server is the prefilter, the "
            "placeholders and the hand-off.",
            "",
            table(header, [*rows, total]),
            "",
            *([note, ""] if note else []),
        ]
    )


if __name__ == "__main__":
    print(asyncio.run(main()))
