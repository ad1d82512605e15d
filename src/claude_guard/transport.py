"""Transport security in production: HTTPS only, trusted proxies by CIDR, and HSTS.

A request is secure when the server itself saw TLS (``scope["scheme"]`` is ``https`` or ``wss``), or when the
socket peer is a trusted proxy (its address is in one of the configured CIDRs) and every protocol that proxy
reports in ``X-Forwarded-Proto`` and ``Forwarded: proto=`` is https. A peer outside the CIDRs cannot make a
request secure by sending those headers. An insecure request gets 403 ``permission_error`` in the
Anthropic envelope, or, with ``redirect=True``, a ``GET`` or ``HEAD`` gets a 308 to the same path on https
(other methods are still refused: their body already crossed the network in clear, and a redirect would only
invite sending it again).

Every response to a secure request carries ``Strict-Transport-Security`` (unless the app set its own). A
refusal does not: browsers ignore HSTS received over plain HTTP (RFC 6797, section 8.1).

WebSockets are checked the same way (``wss``, or a trusted proxy saying https); an insecure handshake is
closed with code 1008 (policy violation) before it is accepted, which servers answer with HTTP 403. Lifespan
scopes pass through. Outside production the middleware does nothing unless ``force=True``.

Note that uvicorn rewrites ``scope["scheme"]`` from ``X-Forwarded-Proto`` itself when the peer is in its
``--forwarded-allow-ips`` (default 127.0.0.1): keep that list as tight as ``trusted_proxies``.

Example:
    >>> async def app(scope, receive, send): ...
    >>> guarded = HTTPSOnlyMiddleware(app, environment="production", trusted_proxies=["10.0.0.0/8"])
    >>> guarded.active, guarded.hsts
    (True, 'max-age=31536000; includeSubDomains')
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ._asgi import ASGIApp, Receive, Scope, Send, add_response_headers
from ._proxies import TrustedProxies, forwarded_protos
from .context import GuardContext
from .errors import ConfigurationError, PermissionDeniedError
from .middleware import GuardMiddleware
from .responses import ErrorFormat

__all__ = ["HTTPSOnlyMiddleware"]

_HOST = re.compile(r"[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]")
_SECURE_SCHEMES = frozenset({"https", "wss"})


def is_secure_request(scope: Scope, trusted_proxies: TrustedProxies | Iterable[str] = ()) -> bool:
    """Whether the client reached us over TLS: directly, or through a trusted proxy that says so.

    Every protocol a trusted proxy chain reports must be https: one ``http`` hop anywhere is not secure.
    """
    if scope.get("scheme") in _SECURE_SCHEMES:
        return True
    protos = forwarded_protos(scope, TrustedProxies.of(trusted_proxies))
    return bool(protos) and all(p in _SECURE_SCHEMES for p in protos)


class HTTPSOnlyMiddleware(GuardMiddleware):
    """Refuse (or redirect) plain-HTTP requests in production and send HSTS on every response.

    Args:
        app: The ASGI app to protect.
        environment: ``development``, ``staging`` or ``production``; active only in production.
        trusted_proxies: CIDRs of the proxies allowed to report the original scheme (e.g. ``10.0.0.0/8``).
        redirect: Answer an insecure ``GET`` / ``HEAD`` with a 308 to https instead of 403.
        hsts_max_age: ``max-age`` of ``Strict-Transport-Security`` in seconds; 0 tells browsers to forget it.
        include_subdomains: Add ``includeSubDomains``.
        preload: Add ``preload`` (only once the domain qualifies for the browsers' preload lists).
        force: Be active whatever the environment (for a staging that is as strict as production).
        error_format: ``anthropic`` or ``problem``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        environment: str = "development",
        trusted_proxies: Iterable[str] = (),
        redirect: bool = False,
        hsts_max_age: int = 31536000,
        include_subdomains: bool = True,
        preload: bool = False,
        force: bool = False,
        error_format: ErrorFormat = "anthropic",
    ) -> None:
        super().__init__(app, error_format=error_format)
        trusted = TrustedProxies(trusted_proxies)
        if hsts_max_age < 0:
            raise ConfigurationError("hsts_max_age must not be negative.")
        self.trusted_proxies = trusted
        self.redirect = redirect
        self.active = force or environment == "production"
        directives = [f"max-age={hsts_max_age}"]
        if include_subdomains:
            directives.append("includeSubDomains")
        if preload:
            directives.append("preload")
        self.hsts = "; ".join(directives)
        self._hsts_header = (b"strict-transport-security", self.hsts.encode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.active or scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            if is_secure_request(scope, self.trusted_proxies):
                await self.app(scope, receive, self._with_hsts(send))
            else:
                await send({"type": "websocket.close", "code": 1008, "reason": "TLS is required."})
            return
        await super().__call__(scope, receive, send)

    async def handle(self, ctx: GuardContext, scope: Scope, receive: Receive, send: Send) -> None:
        if is_secure_request(scope, self.trusted_proxies):
            await self.app(scope, receive, self._with_hsts(send))
            return
        ctx.decide("transport", "refused_plain_http")
        if self.redirect and scope.get("method") in ("GET", "HEAD"):
            location = _https_location(scope)
            if location is not None:
                await _redirect(location, send)
                return
        raise PermissionDeniedError("HTTPS is required.", code="https_required")

    def _with_hsts(self, send: Send) -> Send:
        return add_response_headers(send, (self._hsts_header,), keep=True)


def _https_location(scope: Scope) -> str | None:
    host = None
    for name, value in scope.get("headers", ()):
        if name.lower() == b"host":
            host = value.decode("latin-1").strip()
            break
    if not host:
        return None
    # Drop the port: the plain-HTTP port is never the TLS one; https goes to 443.
    host = host.split("]")[0] + "]" if host.startswith("[") else host.split(":")[0]
    if not _HOST.fullmatch(host):
        return None
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) and raw_path else scope.get("path", "/")
    location = f"https://{host}{path}"
    query = scope.get("query_string", b"")
    if query:
        location += "?" + query.decode("latin-1")
    return location


async def _redirect(location: str, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 308,
            "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b"", "more_body": False})
