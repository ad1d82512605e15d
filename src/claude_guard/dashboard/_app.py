"""``DashboardApp``: the read-only dashboard as a pure ASGI app, behind an admin-profile key.

Routes (relative to where it is mounted): ``/`` the page, ``/api/summary`` the figures as JSON (with each
section's HTML, for the live refresh), ``/static/…`` the page's own script and stylesheet.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from importlib import resources
from typing import TYPE_CHECKING, Final

from .._asgi import ASGIApp, Receive, Scope, Send, header
from ..errors import GuardError
from ..keys import presented_key
from ._render import render_page, render_sections
from ._summary import DashboardConfig, collect

if TYPE_CHECKING:
    from ..guard import ClaudeGuard

__all__ = ["DashboardApp", "with_dashboard"]

logger = logging.getLogger("claude_guard")

_STATIC: Final = {
    "dashboard.js": b"text/javascript; charset=utf-8",
    "dashboard.css": b"text/css; charset=utf-8",
    # Its own icon, so a browser does not ask the app behind it for /favicon.ico.
    "favicon.svg": b"image/svg+xml",
}
_SECURITY_HEADERS: Final = [
    # The page runs its own script only: no inline script, nothing from elsewhere, never framed.
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_REALM: Final = b'Basic realm="claude_guard dashboard", charset="UTF-8"'


def _static_files() -> dict[str, bytes]:
    folder = resources.files(__package__).joinpath("static")
    return {name: folder.joinpath(name).read_bytes() for name in _STATIC}


def _dashboard_key(scope: Scope) -> str | None:
    """The key presented: ``x-api-key`` or ``Authorization: Bearer`` like the gateway, or the password of
    HTTP Basic, which a browser asks for and then sends with the page's own requests."""
    key = presented_key(scope)
    if key:
        return key
    auth = header(scope, b"authorization")
    if auth is None:
        return None
    scheme, _, token = auth.decode("latin-1").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2].strip() or None


class DashboardApp:
    """The dashboard of one guard: its audit log, ledger and keys, shown to admin keys only.

    Serve it alone (``claude-guard dashboard``), beside a gateway
    (``with_dashboard(app, DashboardApp(guard))``), or mounted in a Starlette or FastAPI app
    (``app.mount("/dashboard", DashboardApp(guard))``; inside a guarded app, callers then authenticate with
    ``x-api-key`` as for any route). It never writes anything.

    Example:
        >>> from claude_guard import ClaudeGuard
        >>> dashboard = DashboardApp(ClaudeGuard(), config=DashboardConfig(refresh_seconds=2))
        >>> dashboard.config.window_hours
        24.0
    """

    def __init__(self, guard: ClaudeGuard, *, config: DashboardConfig | None = None) -> None:
        self.guard = guard
        self.config = config or DashboardConfig(profiles=guard.settings.profiles)
        self._static = _static_files()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        root = str(scope.get("root_path", ""))
        path = str(scope.get("path", "/"))
        route = path[len(root) :] if root and path.startswith(root) else path
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            await _send(send, 405, b"Method not allowed.", b"text/plain; charset=utf-8", [(b"allow", b"GET")])
            return
        if route.startswith("/static/") and route[len("/static/") :] in self._static:
            name = route[len("/static/") :]
            await _send(send, 200, self._static[name], _STATIC[name], [(b"cache-control", b"no-cache")])
            return
        if route == "":
            await _send(send, 308, b"", b"text/plain", [(b"location", (root + "/").encode("latin-1"))])
            return
        if route not in ("/", "/api/summary"):
            await _send(send, 404, b"Not found.", b"text/plain; charset=utf-8")
            return
        refused = await self._refusal(scope)
        if refused is not None:
            status, text, extra = refused
            await _send(send, status, _message_page(text), b"text/html; charset=utf-8", extra)
            return
        try:
            summary = await collect(self.guard, self.config)
        except Exception:
            # A store or audit log that cannot be read: say so, never a traceback.
            logger.exception("claude_guard: the dashboard could not read the audit log or the ledger")
            await _send(
                send, 503, b"The audit log or the ledger cannot be read.", b"text/plain; charset=utf-8"
            )
            return
        if route == "/api/summary":
            body = json.dumps({"data": summary, "html": render_sections(summary)}, separators=(",", ":"))
            await _send(send, 200, body.encode(), b"application/json")
        else:
            page = render_page(summary, static=(root.rstrip("/") + "/static") if root else "static")
            await _send(send, 200, page.encode(), b"text/html; charset=utf-8")

    async def _refusal(self, scope: Scope) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        key = _dashboard_key(scope)
        challenge = [(b"www-authenticate", _REALM)]
        if key is None:
            return 401, "This dashboard needs an admin key (the password; any user name).", challenge
        try:
            check = await self.guard.authenticator.check(key)
        except GuardError as exc:
            if exc.status == 401:
                return 401, "This key is not valid.", challenge
            return exc.status, "This key may not open the dashboard.", []
        if check.principal.profile != "admin":
            logger.warning(
                "claude_guard: dashboard refused key %s (profile %s)",
                check.principal.key_id,
                check.principal.profile,
            )
            return 403, "This dashboard needs a key of the admin profile.", []
        return None


def _message_page(text: str) -> bytes:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>claude_guard dashboard</title></head>"
        f"<body><p>{text}</p></body></html>"
    ).encode()


async def _send(
    send: Send, status: int, body: bytes, content_type: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *_SECURITY_HEADERS,
    ]
    if extra:
        names = {name for name, _ in extra}
        headers = [h for h in headers if h[0] not in names] + extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def with_dashboard(app: ASGIApp, dashboard: ASGIApp, *, path: str = "/dashboard") -> ASGIApp:
    """``app`` with ``dashboard`` answering under ``path`` (its own authentication; lifespan goes to ``app``).

    Example:
        >>> async def gateway(scope, receive, send): ...
        >>> from claude_guard import ClaudeGuard
        >>> served = with_dashboard(gateway, DashboardApp(ClaudeGuard()))
    """
    prefix = "/" + path.strip("/")

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        request_path = str(scope.get("path", ""))
        if scope["type"] == "http" and (request_path == prefix or request_path.startswith(prefix + "/")):
            scope = {**scope, "root_path": str(scope.get("root_path", "")) + prefix}
            await dashboard(scope, receive, send)
            return
        await app(scope, receive, send)

    return dispatch
