"""Shared by the benchmarks: the machine's description and latency measurement of ASGI apps.

Every benchmark measures the things it compares side by side in one run and reports ratios, so figures from
different machines stay comparable.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            mem_kb = int(fh.readline().split()[1])
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        mem = "unknown memory"
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


@dataclass(frozen=True)
class Stats:
    median_us: float
    p99_us: float
    n: int

    @classmethod
    def of(cls, samples: list[float]) -> Stats:
        ordered = sorted(samples)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return cls(statistics.median(ordered) * 1e6, p99 * 1e6, len(ordered))


async def time_calls(call: Callable[[], Awaitable[Any]], *, n: int, warmup: int = 50) -> Stats:
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return Stats.of(samples)


async def interleaved(
    calls: dict[str, Callable[[], Awaitable[Any]]], *, n: int, rounds: int = 5, warmup: int = 50
) -> dict[str, Stats]:
    """Time each call ``n`` times, in ``rounds`` alternating rounds, so drift hits every row alike."""
    for call in calls.values():
        for _ in range(warmup):
            await call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    per_round = max(1, n // rounds)
    for _ in range(rounds):
        for name, call in calls.items():
            for _ in range(per_round):
                start = time.perf_counter()
                await call()
                samples[name].append(time.perf_counter() - start)
    return {name: Stats.of(values) for name, values in samples.items()}


def asgi_client(app: Any, base_url: str = "http://bench") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


class ServerProcess:
    """``uvicorn module:factory --factory`` in its own process on a free loopback port."""

    def __init__(
        self, target: str, env: dict[str, str] | None = None, *, argv: list[str] | None = None
    ) -> None:
        """``argv``: another server's command line instead of uvicorn's, ``{port}`` standing for the port."""
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        here = os.path.dirname(os.path.abspath(__file__))
        self.proc = subprocess.Popen(
            [a.replace("{port}", str(self.port)) for a in argv]
            if argv
            else [
                sys.executable,
                "-m",
                "uvicorn",
                target,
                "--factory",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--app-dir",
                here,
            ],
            env={**os.environ, **(env or {})},
            # Not the benchmark's stdout, which is the markdown section (LiteLLM prints a banner there).
            stdout=sys.stderr,
        )

    def wait(self, path: str = "/healthz", timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.url} exited with {self.proc.returncode}")
            try:
                httpx.get(self.url + path, timeout=0.5)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"server {self.url} did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def run(coro: Awaitable[str]) -> None:
    print(asyncio.run(coro))  # type: ignore[arg-type]
