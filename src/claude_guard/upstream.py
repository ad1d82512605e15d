"""The connection to the upstream Claude API: the client the gateway, the SDK egress and count_tokens share.

``UpstreamClient`` sends a request upstream with the upstream key and hands back the answer unread
(`UpstreamResponse`); `upstream_error` turns an upstream error answer into a ``GuardError`` that carries
neither the upstream key nor upstream internals. The gateway's endpoint, ``MessagesProxy``, is a face and
lives in `claude_guard.gateway`.

The HTTP client is chosen here and nowhere else: a pooled ``aiohttp`` session by default (its C HTTP parser
spends a quarter of httpx's CPU on the hop, docs/benchmarks.md), or the ``httpx.AsyncClient`` a caller
passes (an ``ASGITransport`` in tests, a custom transport). Both answer with an `UpstreamResponse`, so the
rest of the package never sees which one served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from ._json import dumps_forward
from .errors import (
    BadRequestError,
    GuardError,
    UpstreamError,
    UpstreamTimeoutError,
)
from .messages._walker import first_unknown
from .secrets import Secret, SecretSource, scrub

if TYPE_CHECKING:
    import aiohttp
    import yarl

__all__ = ["UpstreamClient", "upstream_error"]

logger = logging.getLogger("claude_guard")

ANTHROPIC_VERSION = "2023-06-01"
_COUNT_TOKENS_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking")
# Upstream error types whose message is about the caller's request, so it helps to pass it on (scrubbed).
_CALLER_ERROR_TYPES = frozenset(
    {"invalid_request_error", "not_found_error", "request_too_large", "rate_limit_error", "overloaded_error"}
)


class _StreamTimeout(Exception):
    """The upstream went quiet mid-body for longer than the read timeout."""


class _StreamBroken(Exception):
    """The upstream connection failed mid-body (the argument names the client's exception type)."""


class UpstreamResponse:
    """An upstream answer whose body is not read yet: status, headers, and the body as it arrives.

    ``aiter_raw()`` yields the bytes as they came (never decompressed: ``accept-encoding: identity`` is
    asked for); ``aclose()`` gives the connection back to the pool, or drops it when the body was not read
    to its end.
    """

    __slots__ = ("headers", "raw_headers", "status_code")

    status_code: int
    headers: Mapping[str, str]
    raw_headers: Sequence[tuple[bytes, bytes]]
    """The headers as they came on the wire, names in their own case: what a relay copies without decoding."""

    def aiter_raw(self) -> AsyncIterator[bytes]:
        raise NotImplementedError

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self.aiter_raw()])

    def buffered_body(self) -> bytes | None:
        """The whole body when all of it has already arrived (read from the buffer, without waiting), else
        ``None``: then read it with `aiter_raw`."""
        return None

    async def aclose(self) -> None:
        raise NotImplementedError


class _HttpxResponse(UpstreamResponse):
    __slots__ = ("_chunks", "_response")

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.raw_headers = response.headers.raw
        self._response = response
        self._chunks: AsyncIterator[bytes] | None = None

    def aiter_raw(self) -> AsyncIterator[bytes]:
        return self

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._chunks is None:
            self._chunks = self._response.aiter_raw()
        try:
            return await self._chunks.__anext__()
        except httpx.TimeoutException:
            raise _StreamTimeout() from None
        except httpx.HTTPError as exc:
            raise _StreamBroken(type(exc).__name__) from None

    async def aclose(self) -> None:
        await self._response.aclose()


class _AiohttpResponse(UpstreamResponse):
    __slots__ = ("_response",)

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.status_code = response.status
        self.headers = response.headers
        self.raw_headers = response.raw_headers
        self._response = response

    def aiter_raw(self) -> AsyncIterator[bytes]:
        return self

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        import aiohttp

        try:
            chunk = await self._response.content.readany()
        except TimeoutError:
            raise _StreamTimeout() from None
        except aiohttp.ClientError as exc:
            raise _StreamBroken(type(exc).__name__) from None
        if not chunk:
            raise StopAsyncIteration
        return chunk

    def buffered_body(self) -> bytes | None:
        content = self._response.content
        if not content.is_eof() or content.exception() is not None:
            return None
        return content.read_nowait(-1)

    async def aclose(self) -> None:
        response = self._response
        if response.content.is_eof():
            response.release()  # read to its end: the connection goes back to the pool
        else:
            response.close()  # cut short (a disconnect, an error cap): the connection cannot be reused


class UpstreamClient:
    """The connection to Claude: base URL, the upstream key's source, timeouts and one pooled HTTP client.

    The key is re-read from its source every ``key_refresh`` seconds and right after an upstream 401, so a
    rotated upstream key is picked up without a restart.

    Without ``client``, calls go through one pooled ``aiohttp`` session (HTTP/1.1 keep-alive, up to 1000
    connections, proxies from ``HTTPS_PROXY``/``NO_PROXY`` as httpx reads them, certifi's CA bundle as
    httpx uses it, no cookie jar), created on first use in the running event loop. With ``client``
    (an ``httpx.AsyncClient``), calls go through it.
    """

    def __init__(
        self,
        *,
        base_url: str,
        key_source: SecretSource,
        timeout: float = 300.0,
        connect_timeout: float = 10.0,
        key_refresh: float = 300.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key_source = key_source
        self.timeout = timeout
        self.key_refresh = key_refresh
        self.connect_timeout = connect_timeout
        self._client = client
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, yarl.URL] = {}
        self._timeouts: dict[tuple[float, float], aiohttp.ClientTimeout] = {}
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._proxy: str | None = None
        self._key: Secret | None = None
        self._key_read_at = 0.0
        # Sources that keep an old key until a new one is accepted are told when one is.
        confirm = getattr(key_source, "confirm", None)
        self._confirm = confirm if callable(confirm) else None

    def __repr__(self) -> str:
        return f"UpstreamClient(base_url={self.base_url!r}, key_source={self.key_source!r})"

    async def key(self) -> Secret:
        now = time.monotonic()
        if self._key is None or now - self._key_read_at >= self.key_refresh:
            self._key = await self.key_source.get()
            self._key_read_at = now
        return self._key

    def invalidate_key(self, refused: Secret | None = None) -> None:
        """Forget the key (after an upstream 401): the next call reads it again, through any source cache.

        A source that can tell (``secret_providers.CachedSecretSource.reject``) learns which key was refused,
        so a new key refused before it was ever accepted gives way to the old one.
        """
        self._key = None
        reject = getattr(self.key_source, "reject", None)
        if refused is not None and callable(reject):
            reject(refused)
            return
        invalidate = getattr(self.key_source, "invalidate", None)
        if callable(invalidate):
            invalidate()

    def key_answered(self, key: Secret, status: int) -> None:
        """Tell the key's source how the upstream answered a call made with ``key``: a 401 refuses it (see
        ``invalidate_key``), any other answer below 500 confirms it (a source keeping an old key drops it
        then); a 5xx may come from before authentication, so it says nothing about the key."""
        if status == 401:
            self.invalidate_key(key)
        elif status < 500 and self._confirm is not None:
            self._confirm(key)

    async def known_secrets(self) -> list[Secret]:
        return [self._key] if self._key is not None else []

    async def send(
        self, path: str, body: bytes, headers: Mapping[str, str], *, deadline: float | None = None
    ) -> UpstreamResponse:
        """Send one request upstream and return the response with its body not yet read (streamed).

        Raises:
            UpstreamTimeoutError: no answer within the timeout (``deadline`` seconds, else ``timeout``).
            UpstreamError: the upstream could not be reached.
        """
        key = await self.key()
        request_headers = {
            **headers,
            "x-api-key": key.get_secret_value(),
            "content-type": "application/json",
            # The answer is relayed byte for byte (and read by the meter and the PII restorer): it must not
            # arrive compressed.
            "accept-encoding": "identity",
        }
        request_headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
        timeout = deadline or self.timeout
        connect = min(self.connect_timeout, timeout)
        response: UpstreamResponse
        if self._client is not None:
            response = await self._send_httpx(self._client, path, body, request_headers, timeout, connect)
        else:
            response = await self._send_aiohttp(path, body, request_headers, timeout, connect)
        self.key_answered(key, response.status_code)
        return response

    async def _send_httpx(
        self,
        client: httpx.AsyncClient,
        path: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,
        connect: float,
    ) -> UpstreamResponse:
        request = client.build_request(
            "POST",
            self.base_url + path,
            content=body,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=connect),
        )
        try:
            return _HttpxResponse(await client.send(request, stream=True, follow_redirects=False))
        except httpx.TimeoutException:
            raise UpstreamTimeoutError() from None
        except httpx.HTTPError as exc:
            logger.warning("claude_guard: upstream unreachable (%s)", type(exc).__name__)
            raise UpstreamError() from None

    async def _send_aiohttp(
        self, path: str, body: bytes, headers: dict[str, str], timeout: float, connect: float
    ) -> UpstreamResponse:
        import aiohttp
        import yarl

        session = self._aiohttp_session()
        target = self.base_url + path
        url = self._urls.get(target)
        if url is None:
            # Parsed once per target (two paths in practice), not per request; keyed by the whole
            # string, so a base_url changed at run time is followed; bounded all the same.
            url = yarl.URL(target)
            if len(self._urls) < 64:
                self._urls[target] = url
        timeouts = (timeout, connect)
        client_timeout = self._timeouts.get(timeouts)
        if client_timeout is None:
            client_timeout = aiohttp.ClientTimeout(
                total=None, connect=timeout, sock_connect=connect, sock_read=timeout
            )
            if len(self._timeouts) < 64:  # per-route deadlines are few; a computed one is not kept
                self._timeouts[timeouts] = client_timeout
        try:
            response = await session.post(
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                proxy=self._proxy,
                timeout=client_timeout,
            )
        except TimeoutError:
            raise UpstreamTimeoutError() from None
        except (aiohttp.ClientError, ValueError) as exc:
            logger.warning("claude_guard: upstream unreachable (%s)", type(exc).__name__)
            raise UpstreamError() from None
        return _AiohttpResponse(response)

    def _aiohttp_session(self) -> aiohttp.ClientSession:
        # A session belongs to the loop it was made in: a new loop (a new test, a worker's asyncio.run) gets
        # its own, and the old one is closed with its loop.
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and self._session_loop is loop and not session.closed:
            return session
        import aiohttp

        ssl: Any = True
        if self.base_url.startswith("https:"):
            import ssl as _ssl

            import certifi

            ssl = _ssl.create_default_context(cafile=certifi.where())
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1000, limit_per_host=0, ssl=ssl, keepalive_timeout=30.0),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            # Not ``trust_env``: it reads the proxy variables and ~/.netrc again on every request (a third
            # of the pass-through's CPU, measured); the proxy is resolved once per session instead, and
            # netrc credentials are never wanted for the upstream (the key is a header).
            trust_env=False,
        )
        self._proxy = _env_proxy(self.base_url)
        self._session_loop = loop
        return self._session

    async def count_tokens(self, body: Mapping[str, Any]) -> int | None:
        """The upstream's exact count of a Messages request's input tokens, or ``None`` when it cannot say
        (an error, a timeout): callers then fall back to their own bound."""
        fields = {k: body[k] for k in _COUNT_TOKENS_FIELDS if k in body}
        try:
            response = await self.send(
                "/v1/messages/count_tokens", dumps_forward(fields), {}, deadline=min(self.timeout, 10.0)
            )
        except GuardError:
            return None
        try:
            if response.status_code != 200:
                return None
            count = json.loads(await response.aread()).get("input_tokens")
            return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None
        except (ValueError, AttributeError, _StreamTimeout, _StreamBroken):
            return None
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        session, self._session = self._session, None
        if session is not None and not session.closed:
            with contextlib.suppress(RuntimeError):  # its loop is gone: the connections went with it
                await session.close()


def refuse_unknown_content(body: Mapping[str, Any]) -> None:
    """Raise a 400 when ``body`` holds content the shape table does not know (``unknown_content=refuse``).

    The error names where the unknown content starts by its known path only (no caller-chosen key).

    Raises:
        BadRequestError: ``code`` is ``unknown_content``.
    """
    leaf = first_unknown(body)
    if leaf is not None:
        where = ".".join(str(part) for part in leaf.path[: leaf.unknown_at]) or "body"
        raise BadRequestError(
            f"The request holds a block type or field this gateway does not know, in {where}.",
            code="unknown_content",
        )


def upstream_error(
    status: int, body: Any, headers: Mapping[str, str], known: Iterable[Secret] = (), *, who: str = "service"
) -> GuardError:
    """The ``GuardError`` a caller sees for an upstream error answer (gateway forwarding and SDK calls alike).

    The status and Anthropic error type pass through, with retry advice and rate-limit headers; the message
    only for errors about the caller's request, scrubbed of anything key-shaped. A 401 or 403 means our own
    upstream key was refused: the caller's key is fine and nothing of the upstream account is theirs to read,
    so it is a 502.
    """
    if status in (401, 403):
        logger.error("claude_guard: the upstream refused the %s's key (HTTP %d)", who, status)
        return UpstreamError(f"The {who} could not authenticate to the upstream API.")
    detail = body.get("error") if isinstance(body, dict) else None
    error_type = detail.get("type") if isinstance(detail, dict) else None
    message = detail.get("message") if isinstance(detail, dict) else None
    if not isinstance(error_type, str):
        error_type = None
    shown = scrub(message, known) if error_type in _CALLER_ERROR_TYPES and isinstance(message, str) else None
    error = GuardError(shown or _generic(status))
    error.status = status
    error.error_type = error_type or ("api_error" if status >= 500 else "invalid_request_error")
    retry = headers.get("x-should-retry")
    if retry in ("true", "false"):
        error.should_retry = retry == "true"
    for name in ("retry-after", "retry-after-ms"):
        if name in headers:
            error.headers[name] = headers[name]
    for name, value in headers.items():
        if name.lower().startswith("anthropic-ratelimit-"):
            error.headers[name.lower()] = value
    return error


def _generic(status: int) -> str:
    if status == 529:
        return "The upstream API is overloaded."
    if status >= 500:
        return "The upstream API failed."
    return "The upstream API refused the request."


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, upper or
    lower case, and ``NO_PROXY``), as httpx and aiohttp's ``trust_env`` read them, or ``None``."""
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    # proxy_bypass_environment is in CPython's urllib.request (NO_PROXY as curl reads it), not in typeshed.
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not proxy or bypass(parts.hostname or "", proxies):
        return None
    return proxy
