"""Real uvicorn servers in processes of their own, for the tests that cross process boundaries."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def uvicorn_processes(
    target: str,
    *,
    app_dir: Path,
    env: Mapping[str, str],
    count: int = 1,
    args: Sequence[str] = (),
    timeout: float = 60.0,
) -> Iterator[list[str]]:
    """``count`` processes of ``uvicorn TARGET`` on free loopback ports, each listening before this yields
    their URLs; all are stopped (terminated, then killed) when the block ends."""
    procs: list[subprocess.Popen[bytes]] = []
    ports: list[int] = []
    try:
        for _ in range(count):
            port = free_port()
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                target,
                "--app-dir",
                str(app_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                *args,
            ]
            procs.append(
                subprocess.Popen(
                    command, cwd=ROOT, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                )
            )
            ports.append(port)
        deadline = time.monotonic() + timeout
        for proc, port in zip(procs, ports, strict=True):
            while not _listening(port):
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{target} exited: {proc.stderr.read().decode() if proc.stderr else ''}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{target} did not start within {timeout:.0f} s")
                time.sleep(0.05)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            if proc.stderr is not None:
                proc.stderr.close()
