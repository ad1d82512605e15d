"""Upstream key sources backed by a secrets manager: AWS Secrets Manager and HashiCorp Vault (KV v2).

Both speak the provider's plain HTTP API through ``httpx`` (already a dependency): AWS requests are signed
with SigV4 implemented here with ``hmac`` and ``hashlib``, so neither boto3 nor hvac is needed and the
extras stay empty.

Both sources implement ``SecretSource``: ``get()`` returns the cached value while it is younger than ``ttl``
seconds and reads it again afterwards, or at once after ``invalidate()`` (call it when the value was refused,
e.g. after an upstream 401). Concurrent reads share one request to the provider. When the provider cannot be
reached, the last good value is kept (unless it was invalidated) and the read is retried a few seconds later.

Every value read, the Vault token and the AWS secret key are registered with ``logscrub.default_registry``,
so log scrubbing masks them.

Errors name the provider and the secret id, never the value or a credential. A problem visible without the
network (a missing region, token or credential variable, an http URL to a remote host) raises
``ConfigurationError`` at construction; a failed read while serving raises ``SecretSourceError``, a 502
``UpstreamError`` whose caller-facing message is generic.

Example:
    >>> env = {"CLAUDE_API_KEY_SOURCE": "vault://claude/upstream?field=api_key",
    ...        "VAULT_ADDR": "https://vault.internal:8200", "VAULT_TOKEN": "hvs.fake-token"}
    >>> source_from_env(env)
    VaultKVSource('claude/upstream', url='https://vault.internal:8200', mount='secret', field='api_key')
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx

from .errors import ConfigurationError, UpstreamError
from .logscrub import register
from .secrets import (
    EnvSecretSource,
    FileSecretSource,
    Secret,
    SecretSource,
    check_https_url,
    upstream_key_source,
)

__all__ = [
    "AWSCredentials",
    "AWSSecretsManagerSource",
    "SecretSourceError",
    "VaultKVSource",
    "sign_v4",
    "source_from_env",
    "source_from_url",
]

logger = logging.getLogger("claude_guard")

_ERROR_RETRY_SECONDS = 10.0
_KEY_VARIABLES = ("CLAUDE_API_KEY", "CLAUDE_API_KEY_FILE", "CLAUDE_API_KEY_SOURCE")


class SecretSourceError(UpstreamError):
    """A secret could not be read from its provider while serving.

    The caller sees a generic 502; ``str(exc)`` (what logs show) names the provider and the secret id, never
    the value, a token or a signature.
    """

    default_message = "The gateway could not read its upstream credentials."

    def __init__(self, detail: str) -> None:
        super().__init__(code="secret_source")
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


class _CachedSource:
    """TTL cache, single-flight reads, invalidation and last-good-value fallback shared by the providers."""

    name: str

    def __init__(self, *, ttl: float, clock: Callable[[], float]) -> None:
        if ttl < 0:
            raise ConfigurationError(f"{type(self).__name__}: ttl must not be negative.")
        self.ttl = ttl
        self._clock = clock
        self._secret: Secret | None = None
        self._valid_until = float("-inf")
        # Bumped by invalidate(); a value read under an older generation is never served as fresh again.
        self._generation = 0
        self._secret_generation = -1
        self._inflight: asyncio.Task[Secret] | None = None
        self._inflight_generation = -1

    def invalidate(self) -> None:
        """Forget the cached value: the next ``get`` reads the provider again (e.g. after an upstream 401)."""
        self._generation += 1
        self._valid_until = float("-inf")

    async def get(self) -> Secret:
        if self._secret is not None and self._clock() < self._valid_until:
            return self._secret
        loop = asyncio.get_running_loop()
        task = self._inflight
        if (
            task is None
            or task.done()
            or task.get_loop() is not loop
            or self._inflight_generation != self._generation
        ):
            task = loop.create_task(self._refresh(self._generation))
            # Retrieve the outcome even when every waiter was cancelled, so nothing is reported as lost.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._inflight = task
            self._inflight_generation = self._generation
        # A cancelled request must not cancel the read other requests are waiting for.
        return await asyncio.shield(task)

    async def _refresh(self, generation: int) -> Secret:
        try:
            secret = await self._fetch()
        except SecretSourceError as exc:
            if self._secret is not None and self._secret_generation == self._generation:
                logger.warning("claude_guard: %s; keeping the last value read", exc)
                self._valid_until = self._clock() + min(self.ttl, _ERROR_RETRY_SECONDS)
                return self._secret
            raise
        # Values read and credentials used are masked in every log record from now on.
        register(secret)
        if generation == self._generation:
            self._secret = secret
            self._secret_generation = generation
            self._valid_until = self._clock() + self.ttl
        return secret

    async def _fetch(self) -> Secret:
        raise NotImplementedError

    async def _request(self, client: httpx.AsyncClient | None, request: httpx.Request) -> httpx.Response:
        if client is not None:
            return await client.send(request)
        async with httpx.AsyncClient(follow_redirects=False) as own:
            return await own.send(request)


# --- AWS Secrets Manager ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AWSCredentials:
    """AWS credentials for SigV4. ``from_env`` reads the standard variables."""

    access_key_id: str = field(repr=False)
    secret_access_key: Secret = field(repr=False)
    session_token: Secret | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AWSCredentials:
        """Credentials from ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``."""
        env = os.environ if environ is None else environ
        access = env.get("AWS_ACCESS_KEY_ID", "").strip()
        secret = env.get("AWS_SECRET_ACCESS_KEY", "").strip()
        if not access or not secret:
            raise ConfigurationError(
                "AWS Secrets Manager needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment."
            )
        token = env.get("AWS_SESSION_TOKEN", "").strip()
        return cls(access, Secret(secret), Secret(token) if token else None)


def _aws_quote(value: str) -> str:
    return quote(value, safe="-_.~")


def sign_v4(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    region: str,
    service: str,
    credentials: AWSCredentials,
    now: datetime | None = None,
) -> dict[str, str]:
    """Sign a request with AWS Signature Version 4; return the headers to send (lower-case names).

    ``host`` and ``x-amz-date`` (and ``x-amz-security-token`` with a session token) are added and signed
    with every given header; ``authorization`` carries the signature. The path is encoded once, which is
    right for the ``/`` of the JSON APIs (Secrets Manager).

    Example (the ``get-vanilla`` case of AWS's SigV4 test suite):
        >>> creds = AWSCredentials("AKIDEXAMPLE", Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
        >>> signed = sign_v4(method="GET", url="https://example.amazonaws.com/", headers={}, body=b"",
        ...                  region="us-east-1", service="service", credentials=creds,
        ...                  now=datetime(2015, 8, 30, 12, 36, tzinfo=UTC))
        >>> signed["authorization"].split("Signature=")[1]
        '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'
    """
    parts = urlsplit(url)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    out = {name.lower(): value for name, value in headers.items()}
    out.setdefault("host", _host_header(url))
    out["x-amz-date"] = amz_date
    if credentials.session_token is not None:
        out["x-amz-security-token"] = credentials.session_token.get_secret_value()
    out.pop("authorization", None)
    names = sorted(out)
    canonical_headers = "".join(f"{name}:{' '.join(out[name].split())}\n" for name in names)
    signed_headers = ";".join(names)
    query = sorted((_aws_quote(k), _aws_quote(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True))
    canonical_request = "\n".join(
        (
            method.upper(),
            quote(parts.path or "/", safe="/-_.~"),
            "&".join(f"{k}={v}" for k, v in query),
            canonical_headers,
            signed_headers,
            hashlib.sha256(body).hexdigest(),
        )
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        ("AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest())
    )
    key = ("AWS4" + credentials.secret_access_key.get_secret_value()).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    out["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return out


def _host_header(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port is not None and parts.port != default:
        host = f"{host}:{parts.port}"
    return host


class AWSSecretsManagerSource(_CachedSource):
    """A secret read from AWS Secrets Manager (``GetSecretValue`` over its JSON API, signed with SigV4).

    Args:
        secret_id: The secret's name or ARN.
        region: The AWS region; defaults to the ARN's region, then ``AWS_REGION`` / ``AWS_DEFAULT_REGION``.
        endpoint_url: Overrides ``https://secretsmanager.<region>.amazonaws.com`` (also read from
            ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` or ``AWS_ENDPOINT_URL``); https unless loopback.
        field: When set, ``SecretString`` is a JSON object and the key is its member ``field``; else the
            whole ``SecretString`` (or the UTF-8 text of ``SecretBinary``) is the key.
        version_stage: e.g. ``AWSPENDING`` to read a rotation's pending value; AWS defaults to ``AWSCURRENT``.
        credentials: Fixed credentials, or a callable returning them per read; by default the environment
            (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``) is read on every read,
            so refreshed session credentials are used.
        ttl: Seconds a value is served from the cache.
        timeout: Seconds for one call to AWS (connect, read and write each).
        client: An ``httpx.AsyncClient`` to use; by default one is opened per read (reads are rare).

    Example:
        >>> env = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "fake-secret"}
        >>> AWSSecretsManagerSource("prod/claude", region="eu-west-1", field="api_key", environ=env)
        AWSSecretsManagerSource('prod/claude', region='eu-west-1', field='api_key')
    """

    def __init__(
        self,
        secret_id: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        field: str | None = None,
        version_stage: str | None = None,
        credentials: AWSCredentials | Callable[[], AWSCredentials] | None = None,
        ttl: float = 300.0,
        timeout: float = 10.0,
        environ: Mapping[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(ttl=ttl, clock=clock)
        env = os.environ if environ is None else environ
        if not secret_id.strip():
            raise ConfigurationError("AWS Secrets Manager: the secret id is empty.")
        self.secret_id = secret_id.strip()
        self.name = f"aws-secretsmanager:{self.secret_id}"
        arn_region = None
        if self.secret_id.startswith("arn:"):
            arn = self.secret_id.split(":")
            arn_region = arn[3] if len(arn) > 3 and arn[3] else None
        region = region or arn_region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not region or not region.strip():
            raise ConfigurationError(
                f"AWS Secrets Manager secret {self.secret_id!r}: no region; "
                "pass region=, or set AWS_REGION or AWS_DEFAULT_REGION."
            )
        self.region = region.strip()
        endpoint = (
            endpoint_url
            or env.get("AWS_ENDPOINT_URL_SECRETS_MANAGER")
            or env.get("AWS_ENDPOINT_URL")
            or f"https://secretsmanager.{self.region}.amazonaws.com"
        )
        self.endpoint_url = check_https_url(endpoint.strip(), "The AWS Secrets Manager endpoint")
        self.field = field
        self.version_stage = version_stage
        if credentials is None:
            AWSCredentials.from_env(env)  # fail at start-up, not at the first request
            self._credentials: Callable[[], AWSCredentials] = lambda: AWSCredentials.from_env(env)
        elif isinstance(credentials, AWSCredentials):
            fixed = credentials
            self._credentials = lambda: fixed
        else:
            self._credentials = credentials
        self.timeout = timeout
        self._client = client

    def __repr__(self) -> str:
        return f"AWSSecretsManagerSource({self.secret_id!r}, region={self.region!r}, field={self.field!r})"

    def _fail(self, why: str) -> SecretSourceError:
        return SecretSourceError(f"AWS Secrets Manager could not read secret {self.secret_id!r}: {why}")

    async def _fetch(self) -> Secret:
        payload: dict[str, str] = {"SecretId": self.secret_id}
        if self.version_stage:
            payload["VersionStage"] = self.version_stage
        body = json.dumps(payload).encode()
        url = self.endpoint_url + "/"
        try:
            credentials = self._credentials()
        except ConfigurationError as exc:
            raise self._fail(exc.message) from None
        register(credentials.secret_access_key)
        if credentials.session_token is not None:
            register(credentials.session_token)
        headers = sign_v4(
            method="POST",
            url=url,
            headers={
                "content-type": "application/x-amz-json-1.1",
                "x-amz-target": "secretsmanager.GetSecretValue",
            },
            body=body,
            region=self.region,
            service="secretsmanager",
            credentials=credentials,
        )
        request = httpx.Request("POST", url, content=body, headers=headers)
        request.extensions["timeout"] = httpx.Timeout(self.timeout).as_dict()
        try:
            response = await self._request(self._client, request)
        except httpx.HTTPError as exc:
            raise self._fail(f"AWS unreachable ({type(exc).__name__})") from None
        try:
            data: Any = response.json()
        except ValueError:
            data = None
        if response.status_code != 200:
            kind = data.get("__type", "") if isinstance(data, dict) else ""
            kind = str(kind).rsplit("#", 1)[-1] or "unknown error"
            raise self._fail(f"HTTP {response.status_code}, {kind}")
        if not isinstance(data, dict):
            raise self._fail("the answer is not a JSON object")
        text = data.get("SecretString")
        if not isinstance(text, str):
            binary = data.get("SecretBinary")
            try:
                text = base64.b64decode(binary, validate=True).decode() if isinstance(binary, str) else None
            except (binascii.Error, UnicodeDecodeError):
                text = None
        if text is None:
            raise self._fail("it holds neither SecretString nor UTF-8 SecretBinary")
        return Secret(_pick(text, self.field, self._fail))


# --- HashiCorp Vault KV v2 ----------------------------------------------------------------------------


class VaultKVSource(_CachedSource):
    """A secret read from a HashiCorp Vault KV version 2 engine: ``GET {url}/v1/{mount}/data/{path}``.

    Args:
        path: The secret's path inside the mount, e.g. ``claude/upstream``.
        url: Vault's address (``VAULT_ADDR``); https unless loopback.
        token_source: Where the Vault token comes from: a ``SecretSource`` (a ``FileSecretSource`` for a
            Vault Agent token sink is re-read on every read), or the name of an environment variable.
        mount: The KV v2 mount point.
        field: The member of the secret's data holding the key.
        namespace: Vault Enterprise namespace, sent as ``X-Vault-Namespace``.
        ttl: Seconds a value is served from the cache.
        timeout: Seconds for one call to Vault.
        client: An ``httpx.AsyncClient`` to use; by default one is opened per read.

    Example:
        >>> VaultKVSource("claude/upstream", url="https://vault.internal:8200", token_source="VAULT_TOKEN",
        ...               environ={"VAULT_TOKEN": "hvs.fake-token"})
        VaultKVSource('claude/upstream', url='https://vault.internal:8200', mount='secret', field='api_key')
    """

    def __init__(
        self,
        path: str,
        *,
        url: str,
        token_source: SecretSource | str = "VAULT_TOKEN",  # noqa: S107 - a variable name, not a token
        mount: str = "secret",
        field: str = "api_key",
        namespace: str | None = None,
        ttl: float = 300.0,
        timeout: float = 10.0,
        environ: Mapping[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(ttl=ttl, clock=clock)
        self.path = path.strip().strip("/")
        self.mount = mount.strip().strip("/")
        if not self.path or not self.mount:
            raise ConfigurationError("Vault: the secret path and the mount must not be empty.")
        if not field:
            raise ConfigurationError(f"Vault secret {self.path!r}: the field must not be empty.")
        self.url = check_https_url(url.strip(), "VAULT_ADDR")
        self.name = f"vault:{self.mount}/{self.path}"
        self.field = field
        self.namespace = namespace.strip() if namespace and namespace.strip() else None
        self.token_source: SecretSource = (
            EnvSecretSource(token_source, environ) if isinstance(token_source, str) else token_source
        )
        self.timeout = timeout
        self._client = client

    def __repr__(self) -> str:
        return f"VaultKVSource({self.path!r}, url={self.url!r}, mount={self.mount!r}, field={self.field!r})"

    def _fail(self, why: str) -> SecretSourceError:
        return SecretSourceError(f"Vault could not read secret {f'{self.mount}/{self.path}'!r}: {why}")

    async def _fetch(self) -> Secret:
        token = await self.token_source.get()
        register(token)
        headers = {"x-vault-token": token.get_secret_value(), "accept": "application/json"}
        if self.namespace:
            headers["x-vault-namespace"] = self.namespace
        quoted = "/".join(quote(part, safe="") for part in self.path.split("/"))
        url = f"{self.url}/v1/{quote(self.mount, safe='/')}/data/{quoted}"
        request = httpx.Request("GET", url, headers=headers)
        request.extensions["timeout"] = httpx.Timeout(self.timeout).as_dict()
        try:
            response = await self._request(self._client, request)
        except httpx.HTTPError as exc:
            raise self._fail(f"Vault unreachable ({type(exc).__name__})") from None
        status = response.status_code
        if status == 403:
            raise self._fail("HTTP 403, the token is invalid, expired or lacks a policy for this path")
        if status == 404:
            raise self._fail("HTTP 404, no such secret (or its latest version is deleted)")
        if status != 200:
            raise self._fail(f"HTTP {status}")
        try:
            data: Any = response.json()
            secret_data = data["data"]["data"]
        except (ValueError, KeyError, TypeError):
            raise self._fail("the answer is not a KV version 2 secret") from None
        if not isinstance(secret_data, dict):
            raise self._fail("the answer is not a KV version 2 secret")
        value = secret_data.get(self.field)
        if not isinstance(value, str) or not value.strip():
            raise self._fail(f"it has no non-empty string field {self.field!r}")
        return Secret(value.strip())


def _pick(text: str, field: str | None, fail: Callable[[str], SecretSourceError]) -> str:
    if field is None:
        value = text.strip()
    else:
        try:
            document = json.loads(text)
        except ValueError:
            raise fail(f"field {field!r} was asked for but the secret is not a JSON object") from None
        member = document.get(field) if isinstance(document, dict) else None
        if not isinstance(member, str):
            raise fail(f"it has no string field {field!r}")
        value = member.strip()
    if not value:
        raise fail("the value is empty")
    return value


# --- choosing the upstream key's source ----------------------------------------------------------------


def source_from_url(url: str, environ: Mapping[str, str] | None = None) -> SecretSource:
    """A provider source from a ``CLAUDE_API_KEY_SOURCE`` URL.

    - ``aws-secretsmanager://<secret-id or ARN>?region=..&field=..&version_stage=..&ttl=..``, with
      credentials from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``;
    - ``vault://<path>?field=..&mount=..&namespace=..&ttl=..``, with ``VAULT_ADDR``, ``VAULT_TOKEN`` or
      ``VAULT_TOKEN_FILE``, and ``VAULT_NAMESPACE``.

    ``ttl`` defaults to 0 here: the guard's ``UpstreamClient`` already keeps the key for its refresh interval
    and asks again after a 401, so each of its asks reaches the provider (concurrent asks share one read).
    """
    env = os.environ if environ is None else environ
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        raise ConfigurationError(
            "CLAUDE_API_KEY_SOURCE must be aws-secretsmanager://<secret-id> or vault://<path>."
        )
    target, _, query = rest.partition("?")
    target = unquote(target).strip("/")
    params = dict(parse_qsl(query, keep_blank_values=True))
    ttl = _ttl(params.pop("ttl", None))
    scheme = scheme.lower()
    if scheme == "aws-secretsmanager":
        _no_unknown(params, {"region", "field", "version_stage"})
        return AWSSecretsManagerSource(
            target,
            region=params.get("region") or None,
            field=params.get("field") or None,
            version_stage=params.get("version_stage") or None,
            ttl=ttl,
            environ=env,
        )
    if scheme == "vault":
        _no_unknown(params, {"field", "mount", "namespace"})
        address = env.get("VAULT_ADDR", "").strip()
        if not address:
            raise ConfigurationError("CLAUDE_API_KEY_SOURCE names Vault but VAULT_ADDR is not set.")
        token: SecretSource
        if "VAULT_TOKEN" in env and "VAULT_TOKEN_FILE" in env:
            raise ConfigurationError("Both VAULT_TOKEN and VAULT_TOKEN_FILE are set; set exactly one.")
        if "VAULT_TOKEN_FILE" in env:
            token = FileSecretSource(env["VAULT_TOKEN_FILE"].strip(), variable="VAULT_TOKEN_FILE")
        elif "VAULT_TOKEN" in env:
            token = EnvSecretSource("VAULT_TOKEN", env)
        else:
            raise ConfigurationError(
                "CLAUDE_API_KEY_SOURCE names Vault: set VAULT_TOKEN, "
                "or VAULT_TOKEN_FILE to a file holding it."
            )
        return VaultKVSource(
            target,
            url=address,
            token_source=token,
            mount=params.get("mount") or "secret",
            field=params.get("field") or "api_key",
            namespace=params.get("namespace") or env.get("VAULT_NAMESPACE") or None,
            ttl=ttl,
            environ=env,
        )
    raise ConfigurationError(
        f"CLAUDE_API_KEY_SOURCE has an unknown scheme {scheme!r}; use aws-secretsmanager:// or vault://."
    )


def source_from_env(environ: Mapping[str, str] | None = None) -> SecretSource:
    """The upstream key's source: ``CLAUDE_API_KEY``, ``CLAUDE_API_KEY_FILE`` or ``CLAUDE_API_KEY_SOURCE``.

    Exactly one of the three must be set. Errors name the variables, never a value.
    """
    env = os.environ if environ is None else environ
    chosen = [name for name in _KEY_VARIABLES if name in env]
    if len(chosen) > 1:
        raise ConfigurationError(
            f"{' and '.join(chosen)} are set; set exactly one of {', '.join(_KEY_VARIABLES)}."
        )
    if not chosen:
        raise ConfigurationError(
            "No upstream Claude key: set CLAUDE_API_KEY, CLAUDE_API_KEY_FILE to a file holding it, or "
            "CLAUDE_API_KEY_SOURCE to aws-secretsmanager://<secret-id> or vault://<path>."
        )
    if chosen[0] == "CLAUDE_API_KEY_SOURCE":
        return source_from_url(env["CLAUDE_API_KEY_SOURCE"], env)
    return upstream_key_source(env)


def _ttl(raw: str | None) -> float:
    if raw is None or not raw.strip():
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError("CLAUDE_API_KEY_SOURCE: ttl must be a number of seconds.") from None
    if not value >= 0:
        raise ConfigurationError("CLAUDE_API_KEY_SOURCE: ttl must not be negative.")
    return value


def _no_unknown(params: Mapping[str, str], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConfigurationError(
            f"CLAUDE_API_KEY_SOURCE has unknown parameters {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed | {'ttl'}))}."
        )
