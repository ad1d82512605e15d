"""Run an ASGI app under uvicorn in a background thread, on a loopback port, for tests."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from claude_guard.testing._behaviours import ConnectionDroppedError

ASGIApp: TypeAlias = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


@dataclass(frozen=True, slots=True)
class RunningServer:
    """Where a server started by `serve()` listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """The base URL, e.g. "http://127.0.0.1:54321" (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class _HideIntendedDrops(logging.Filter):
    """uvicorn logs a traceback for every exception out of the app; a DropConnection is on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDroppedError))


@contextlib.contextmanager
def serve(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 60.0,
    shutdown_timeout: float = 5.0,
) -> Iterator[RunningServer]:
    """Serve `app` with uvicorn in a daemon thread until the `with` block ends.

    The socket is bound before the thread starts (port 0 picks a free port), so there is no race for
    the port; the block is entered only once uvicorn has started. On exit the server is asked to stop,
    requests still running get `shutdown_timeout` seconds to finish, then they are cancelled.

    Args:
        app: Any ASGI 3 application.
        host: The address to bind; loopback by default.
        port: The port to bind; 0 picks a free one.
        startup_timeout: Seconds to wait for uvicorn to start (the lifespan startup included: a guard with PII
            starts and warms its worker processes there) before `RuntimeError`.
        shutdown_timeout: Seconds to wait for running requests at exit.

    Example:
        >>> from claude_guard.testing import FakeClaude
        >>> import httpx
        >>> with serve(FakeClaude()) as server:
        ...     httpx.get(f"{server.url}/v1/models").status_code
        404
    """
    try:
        import uvicorn
    except ImportError as error:  # pragma: no cover - uvicorn ships with the fastapi/litestar extras
        raise ImportError("serve() needs uvicorn: pip install 'claude-guard[fastapi]'") from error

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    uvicorn_error_log = logging.getLogger("uvicorn.error")
    hide_drops = _HideIntendedDrops()
    uvicorn_error_log.addFilter(hide_drops)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        bound_port: int = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            lifespan="auto",
            log_level="warning",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=max(1, round(shutdown_timeout)),
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"claude-guard-serve-{bound_port}",
            daemon=True,
        )
        thread.start()
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn stopped during startup; see the log for the cause")
            if time.monotonic() >= deadline:
                server.should_exit = True
                thread.join(shutdown_timeout)
                raise RuntimeError(f"uvicorn did not start within {startup_timeout} s")
            time.sleep(0.005)
        body_failed = False
        try:
            yield RunningServer(host=host, port=bound_port)
        except BaseException:
            body_failed = True
            raise
        finally:
            server.should_exit = True
            # uvicorn polls should_exit every 0.1 s, then waits up to timeout_graceful_shutdown
            thread.join(shutdown_timeout + 2.0)
            if thread.is_alive():
                server.force_exit = True
                thread.join(2.0)
            if thread.is_alive() and not body_failed:
                raise RuntimeError("uvicorn did not shut down in time")
    finally:
        sock.close()
        uvicorn_error_log.removeFilter(hide_drops)
