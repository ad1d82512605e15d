"""HashiCorp Vault: KV version 1 and 2, namespaces, and the logins services really use.

Logins (each an ``auth`` method object given to ``VaultKVSource``):

- ``VaultTokenAuth``: a token from a variable, or from a file read again at every login (a Vault Agent sink);
- ``VaultKubernetesAuth``: the pod's service-account JWT (read from its file at every login, since the
  kubelet rotates projected tokens) posted to ``auth/<mount>/login`` with a role;
- ``VaultAppRoleAuth``: a role id and a secret id (a value or a file);
- ``VaultJWTAuth``: any JWT/OIDC token from a file (a CI job's OIDC token, a workload identity token).

The token a login returns is kept with its lease. Before a read, once two thirds of the lease have passed, the
token is renewed (``auth/token/renew-self``); when it cannot be renewed (not renewable, past its max TTL,
refused) or has expired, the source logs in again. A read refused with 403 (a token revoked behind our back)
logs in again and retries once. A plain token (``VaultTokenAuth``) is used as given: renewing it is Vault
Agent's job, and a 403 re-reads its file.

Why not hvac: hvac is synchronous and built on ``requests``; the gateway is asyncio and already has ``httpx``.
What is needed is four endpoints (a login, ``renew-self``, a KV read, for v1 or v2), each one small JSON
request, which is less code than adapting hvac's client to a thread, and it keeps the extra empty.

Example:
    >>> auth = VaultKubernetesAuth(role="claude-gateway", jwt_path="/var/run/secrets/kubernetes.io/serviceaccount/token")
    >>> VaultKVSource("claude/upstream", url="https://vault.internal:8200", auth=auth)
    VaultKVSource('claude/upstream', url='https://vault.internal:8200', mount='secret', field='api_key', kv_version=2, auth='kubernetes')
"""  # noqa: E501

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx

from ..errors import ConfigurationError, SecretSourceError
from ..logscrub import register
from ..secrets import (
    EnvSecretSource,
    FileSecretSource,
    Secret,
    SecretSource,
    check_https_url,
    read_secret_file,
)
from ._cached import DEFAULT_RETRY_AFTER_ERROR, CachedSecretSource

__all__: list[str] = []  # public through claude_guard.secret_providers (one place per name)

logger = logging.getLogger("claude_guard.secrets")

DEFAULT_SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path
_RENEW_AFTER = 2 / 3


@dataclass(frozen=True, slots=True)
class _Login:
    token: Secret
    lease: float | None  # seconds; None: no expiry known (a root or periodic token given as is)
    renewable: bool


def _read_file(path: Path, what: str) -> str:
    secret = read_secret_file(
        path,
        f"Vault login: {what}",
        SecretSourceError,
        unreadable="{name} file cannot be read ({reason})",
        empty="{name} file is empty",
    )
    return secret.get_secret_value()


@dataclass(frozen=True, slots=True, kw_only=True)
class VaultTokenAuth:
    """A Vault token given as is: from a variable or a file (read again at each login)."""

    token_source: SecretSource
    """Where the token comes from (``EnvSecretSource``, ``FileSecretSource`` ...)."""
    method: str = "token"


@dataclass(frozen=True, slots=True, kw_only=True)
class VaultKubernetesAuth:
    """Kubernetes auth: the pod's service-account JWT, posted to ``auth/<mount>/login`` with ``role``."""

    role: str
    """The Vault role bound to the service account."""
    jwt_path: str = DEFAULT_SERVICE_ACCOUNT_TOKEN
    """The service-account token file (projected; the kubelet rotates it, so it is read at every login)."""
    mount: str = "kubernetes"
    """The auth method's mount path."""
    method: str = "kubernetes"

    def body(self) -> dict[str, str]:
        return {"role": self.role, "jwt": _read_file(Path(self.jwt_path), "the service-account token")}


@dataclass(frozen=True, slots=True, kw_only=True)
class VaultJWTAuth:
    """JWT/OIDC auth: a token from a file (CI OIDC, workload identity) posted to ``auth/<mount>/login``."""

    role: str
    """The Vault role."""
    jwt_path: str
    """The file holding the JWT (read at every login)."""
    mount: str = "jwt"
    """The auth method's mount path."""
    method: str = "jwt"

    def body(self) -> dict[str, str]:
        return {"role": self.role, "jwt": _read_file(Path(self.jwt_path), "the JWT")}


@dataclass(frozen=True, slots=True, kw_only=True)
class VaultAppRoleAuth:
    """AppRole auth: ``role_id`` and a ``secret_id`` (a value or a file), posted to ``auth/<mount>/login``."""

    role_id: str
    """The role id (not secret by itself)."""
    secret_id: SecretSource | None = field(default=None, repr=False)
    """Where the secret id comes from; ``None`` for a role bound by CIDR only."""
    mount: str = "approle"
    """The auth method's mount path."""
    method: str = "approle"

    def body(self) -> dict[str, str]:  # the secret id is added by the source (it is read asynchronously)
        return {"role_id": self.role_id}


VaultAuth = VaultTokenAuth | VaultKubernetesAuth | VaultJWTAuth | VaultAppRoleAuth
"""A Vault login method."""


class VaultKVSource(CachedSecretSource):
    """A secret read from a HashiCorp Vault KV engine (v2: ``{mount}/data/{path}``; v1: ``{mount}/{path}``).

    Args:
        path: The secret's path inside the mount, e.g. ``claude/upstream``.
        url: Vault's address (``VAULT_ADDR``); https unless loopback.
        auth: The login method; ``token_source`` is the short form of ``VaultTokenAuth``.
        token_source: A ``SecretSource`` for a plain token, or the name of an environment variable.
        mount: The KV mount point.
        kv_version: 1 or 2.
        field: The member of the secret's data holding the key.
        namespace: Vault Enterprise namespace, sent as ``X-Vault-Namespace`` (logins included).
        ca_file: A CA bundle for Vault's certificate (``VAULT_CACERT``).
        ttl, jitter, retry_after_error, clock, rng: See ``CachedSecretSource``.
        timeout: Seconds for one call to Vault.
        client: An ``httpx.AsyncClient`` to use; by default one is opened per read.
    """

    kind = "vault"

    def __init__(
        self,
        path: str,
        *,
        url: str,
        auth: VaultAuth | None = None,
        token_source: SecretSource | str | None = None,
        mount: str = "secret",
        kv_version: Literal[1, 2] = 2,
        field: str = "api_key",
        namespace: str | None = None,
        ca_file: str | None = None,
        ttl: float = 300.0,
        jitter: float = 0.1,
        retry_after_error: float = DEFAULT_RETRY_AFTER_ERROR,
        timeout: float = 10.0,
        environ: Mapping[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(ttl=ttl, jitter=jitter, retry_after_error=retry_after_error, clock=clock, rng=rng)
        self.path = path.strip().strip("/")
        self.mount = mount.strip().strip("/")
        if not self.path or not self.mount:
            raise ConfigurationError("Vault: the secret path and the mount must not be empty.")
        if not field:
            raise ConfigurationError(f"Vault secret {self.path!r}: the field must not be empty.")
        if kv_version not in (1, 2):
            raise ConfigurationError(f"Vault secret {self.path!r}: kv_version must be 1 or 2.")
        if auth is not None and token_source is not None:
            raise ConfigurationError("Vault: pass auth= or token_source=, not both.")
        if auth is None:
            given = "VAULT_TOKEN" if token_source is None else token_source
            source = EnvSecretSource(given, environ) if isinstance(given, str) else given
            auth = VaultTokenAuth(token_source=source)
        if isinstance(auth, VaultKubernetesAuth | VaultJWTAuth) and not auth.role.strip():
            raise ConfigurationError(f"Vault {auth.method} login needs a role.")
        if isinstance(auth, VaultAppRoleAuth) and not auth.role_id.strip():
            raise ConfigurationError("Vault AppRole login needs a role id.")
        self.auth: VaultAuth = auth
        self.url = check_https_url(url.strip(), "VAULT_ADDR")
        self.name = f"vault:{self.mount}/{self.path}"
        self.kv_version = kv_version
        self.field = field
        self.namespace = namespace.strip().strip("/") if namespace and namespace.strip() else None
        self.ca_file = ca_file
        self.timeout = timeout
        self._client = client
        self._login: _Login | None = None
        self._login_at = 0.0

    @property
    def token_source(self) -> SecretSource | None:
        """The plain token's source, when the login method is a token."""
        return self.auth.token_source if isinstance(self.auth, VaultTokenAuth) else None

    def __repr__(self) -> str:
        return (
            f"VaultKVSource({self.path!r}, url={self.url!r}, mount={self.mount!r}, field={self.field!r}, "
            f"kv_version={self.kv_version}, auth={self.auth.method!r})"
        )

    def _fail(self, why: str) -> SecretSourceError:
        return SecretSourceError(f"Vault could not read secret {f'{self.mount}/{self.path}'!r}: {why}")

    def _details(self) -> Iterable[tuple[str, str]]:
        yield ("address", self.url)
        yield ("path", f"{self.mount}/{self.path}")
        yield ("kv_version", str(self.kv_version))
        yield ("auth", self.auth.method)
        if self.namespace:
            yield ("namespace", self.namespace)

    # --- HTTP ---------------------------------------------------------------------------------------------

    async def _call(
        self, method: str, api_path: str, *, token: Secret | None = None, json: Any = None
    ) -> httpx.Response:
        headers = {"accept": "application/json"}
        if token is not None:
            headers["x-vault-token"] = token.get_secret_value()
        if self.namespace:
            headers["x-vault-namespace"] = self.namespace
        request = httpx.Request(method, f"{self.url}/v1/{api_path}", headers=headers, json=json)
        request.extensions["timeout"] = httpx.Timeout(self.timeout).as_dict()
        try:
            if self._client is not None:
                return await self._client.send(request)
            verify: str | bool = self.ca_file or True
            async with httpx.AsyncClient(follow_redirects=False, verify=verify) as own:
                return await own.send(request)
        except httpx.HTTPError as exc:
            raise self._fail(f"Vault unreachable ({type(exc).__name__})") from None

    # --- tokens -------------------------------------------------------------------------------------------

    async def _log_in(self) -> _Login:
        auth = self.auth
        if isinstance(auth, VaultTokenAuth):
            token = await auth.token_source.get()
            register(token)
            return _Login(token, None, False)
        try:
            body = auth.body()
            if isinstance(auth, VaultAppRoleAuth) and auth.secret_id is not None:
                secret_id = await auth.secret_id.get()
                register(secret_id)
                body["secret_id"] = secret_id.get_secret_value()
        except SecretSourceError as exc:
            raise self._fail(exc.detail) from None
        response = await self._call("POST", f"auth/{quote(auth.mount.strip('/'), safe='/')}/login", json=body)
        if response.status_code != 200:
            raise self._fail(f"{auth.method} login refused (HTTP {response.status_code})")
        login = self._parse_auth(response)
        if login is None:
            raise self._fail(f"{auth.method} login answered without a token")
        logger.info("claude_guard: %s logged in to Vault (%s)", self.name, auth.method)
        return login

    def _parse_auth(self, response: httpx.Response) -> _Login | None:
        try:
            data = response.json()["auth"]
            token = data["client_token"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(token, str) or not token:
            return None
        register(Secret(token))
        lease = data.get("lease_duration")
        lease_seconds = float(lease) if isinstance(lease, int | float) and lease > 0 else None
        return _Login(Secret(token), lease_seconds, bool(data.get("renewable")))

    async def _renew(self, login: _Login) -> _Login | None:
        response = await self._call(
            "POST",
            "auth/token/renew-self",
            token=login.token,
            json={"increment": f"{int(login.lease or 0)}s"},
        )
        if response.status_code != 200:
            return None
        renewed = self._parse_auth(response)
        if renewed is None or renewed.lease is None:
            return None
        return renewed

    async def _token(self) -> Secret:
        login, now = self._login, self._clock()
        lease = login.lease if login is not None else None
        if login is not None and lease is not None:
            age = now - self._login_at
            if age >= lease:
                logger.info("claude_guard: the Vault token of %s expired; logging in again", self.name)
                login = None
            elif age >= lease * _RENEW_AFTER:
                renewed = await self._renew(login) if login.renewable else None
                # Renewal that cannot extend the lease (max TTL reached) is as good as a refusal.
                if renewed is not None and renewed.lease is not None and renewed.lease > lease - age:
                    login, self._login_at = renewed, now
                    self._login = login
                else:
                    logger.info(
                        "claude_guard: the Vault token of %s cannot be renewed; logging in", self.name
                    )
                    login = None
        if login is None:
            login = await self._log_in()
            self._login, self._login_at = login, self._clock()
        return login.token

    # --- the read -----------------------------------------------------------------------------------------

    async def _fetch(self) -> Secret:
        quoted = "/".join(quote(part, safe="") for part in self.path.split("/"))
        mount = quote(self.mount, safe="/")
        api_path = f"{mount}/data/{quoted}" if self.kv_version == 2 else f"{mount}/{quoted}"
        response = await self._call("GET", api_path, token=await self._token())
        if response.status_code == 403:
            # Revoked or expired behind our back: log in again (re-read the token) and try once more.
            self._login = None
            response = await self._call("GET", api_path, token=await self._token())
        status = response.status_code
        if status == 403:
            raise self._fail("HTTP 403, the token is invalid, expired or lacks a policy for this path")
        if status == 404:
            raise self._fail("HTTP 404, no such secret (or its latest version is deleted)")
        if status != 200:
            raise self._fail(f"HTTP {status}")
        try:
            data: Any = response.json()["data"]
            secret_data = data["data"] if self.kv_version == 2 else data
        except (ValueError, KeyError, TypeError):
            raise self._fail(f"the answer is not a KV version {self.kv_version} secret") from None
        if not isinstance(secret_data, dict):
            raise self._fail(f"the answer is not a KV version {self.kv_version} secret")
        value = secret_data.get(self.field)
        if not isinstance(value, str) or not value.strip():
            raise self._fail(f"it has no non-empty string field {self.field!r}")
        return Secret(value.strip())


def vault_auth_from_env(env: Mapping[str, str], params: Mapping[str, str]) -> VaultAuth:
    """The login from ``auth=`` (URL) or ``VAULT_AUTH_METHOD``, with its settings from the environment."""
    method = (params.get("auth") or env.get("VAULT_AUTH_METHOD", "")).strip().lower()
    role = (params.get("role") or env.get("VAULT_ROLE", "")).strip()
    auth_mount = (params.get("auth_mount") or env.get("VAULT_AUTH_MOUNT", "")).strip().strip("/")
    if method in ("", "token"):
        if "VAULT_TOKEN" in env and "VAULT_TOKEN_FILE" in env:
            raise ConfigurationError("Both VAULT_TOKEN and VAULT_TOKEN_FILE are set; set exactly one.")
        if "VAULT_TOKEN_FILE" in env:
            token: SecretSource = FileSecretSource(
                env["VAULT_TOKEN_FILE"].strip(), variable="VAULT_TOKEN_FILE"
            )
        elif "VAULT_TOKEN" in env:
            token = EnvSecretSource("VAULT_TOKEN", env)
        else:
            raise ConfigurationError(
                "CLAUDE_API_KEY_SOURCE names Vault: set VAULT_TOKEN, or VAULT_TOKEN_FILE to a file holding "
                "it, "
                "or log in with VAULT_AUTH_METHOD=kubernetes, approle or jwt."
            )
        return VaultTokenAuth(token_source=token)
    if method == "kubernetes":
        jwt_path = env.get("VAULT_K8S_TOKEN_FILE", "").strip() or DEFAULT_SERVICE_ACCOUNT_TOKEN
        if not role:
            raise ConfigurationError("Vault kubernetes login: set VAULT_ROLE (or role= in the URL).")
        return VaultKubernetesAuth(role=role, jwt_path=jwt_path, mount=auth_mount or "kubernetes")
    if method in ("jwt", "oidc"):
        jwt_path = env.get("VAULT_JWT_FILE", "").strip()
        if not role or not jwt_path:
            raise ConfigurationError("Vault jwt login: set VAULT_ROLE and VAULT_JWT_FILE.")
        return VaultJWTAuth(role=role, jwt_path=jwt_path, mount=auth_mount or method)
    if method == "approle":
        role_id = env.get("VAULT_ROLE_ID", "").strip()
        if not role_id:
            raise ConfigurationError("Vault AppRole login: set VAULT_ROLE_ID.")
        if "VAULT_SECRET_ID" in env and "VAULT_SECRET_ID_FILE" in env:
            raise ConfigurationError(
                "Both VAULT_SECRET_ID and VAULT_SECRET_ID_FILE are set; set exactly one."
            )
        secret_id: SecretSource | None = None
        if "VAULT_SECRET_ID_FILE" in env:
            secret_id = FileSecretSource(env["VAULT_SECRET_ID_FILE"].strip(), variable="VAULT_SECRET_ID_FILE")
        elif "VAULT_SECRET_ID" in env:
            secret_id = EnvSecretSource("VAULT_SECRET_ID", env)
        return VaultAppRoleAuth(role_id=role_id, secret_id=secret_id, mount=auth_mount or "approle")
    raise ConfigurationError(
        f"Vault: unknown login method {method!r}; use token, kubernetes, approle or jwt."
    )
