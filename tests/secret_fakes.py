"""Local HTTP(S) fakes for the secret-provider tests: a threaded stdlib server answering from a function.

The TLS certificates are made per test session with ``trustme``; clients trust them through
``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE`` (set by the tests with ``monkeypatch``), the way a private CA is
given to the SDKs in production.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import trustme


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Seen], Reply]


@dataclass
class FakeServer:
    url: str
    requests: list[Seen]


@contextlib.contextmanager
def fake_server(
    handler: Handler, *, tls: trustme.CA | None = None, host: str = "localhost"
) -> Iterator[FakeServer]:
    """Serve ``handler`` on a free loopback port (https when ``tls`` is given) until the block ends."""
    requests: list[Seen] = []

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            seen = Seen(
                self.command,
                parts.path,
                parts.query,
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            requests.append(seen)
            try:
                reply = handler(seen)
            except Exception as exc:  # a bug in a fake must show, not hang the client
                reply = Reply(500, {"error": f"fake failed: {type(exc).__name__}: {exc}"})
            if isinstance(reply.body, bytes | str):
                payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
                content_type = "text/plain"
            else:
                payload = json.dumps(reply.body if reply.body is not None else {}).encode()
                content_type = "application/json"
            self.send_response(reply.status)
            headers = {"content-type": content_type, **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.issue_cert(host, "127.0.0.1").configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield FakeServer(f"{scheme}://{host}:{server.server_address[1]}", requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
