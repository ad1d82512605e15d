"""Azure Key Vault, through ``azure-keyvault-secrets`` and ``azure-identity`` (the ``[azure]`` extra).

The credential is ``DefaultAzureCredential`` unless one is given: the environment (``AZURE_TENANT_ID``,
``AZURE_CLIENT_ID`` with ``AZURE_CLIENT_SECRET`` or ``AZURE_CLIENT_CERTIFICATE_PATH``), workload identity on
AKS (``AZURE_FEDERATED_TOKEN_FILE``, set by the webhook), managed identity (App Service, Container Apps, VMs),
then developer logins (Azure CLI, azd, PowerShell). ``AZURE_AUTHORITY_HOST`` selects a sovereign cloud. The
Key Vault client answers the vault's 401 challenge itself: it learns the tenant and the scope from it, and
checks that the scope belongs to the vault's domain.

The synchronous clients run in a worker thread: a key is read once per refresh interval, and the asynchronous
ones would add aiohttp. One client is built on first use and reused (it keeps its token until it expires).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import ConfigurationError, SecretSourceError
from ..secrets import Secret
from ._cached import DEFAULT_RETRY_AFTER_ERROR, CachedSecretSource
from .aws import pick_field

__all__: list[str] = []  # public through claude_guard.secret_providers (one place per name)

_EXTRA = "Azure Key Vault needs the [azure] extra: pip install 'claude-guard[azure]'."


def vault_url(vault: str) -> str:
    """The vault's URL from its name (``https://<name>.vault.azure.net``) or its host (kept as given).

    Example:
        >>> vault_url("prod-claude"), vault_url("prod-claude.vault.azure.cn")
        ('https://prod-claude.vault.azure.net', 'https://prod-claude.vault.azure.cn')
    """
    vault = vault.strip().rstrip("/")
    if vault.startswith("https://"):
        return vault
    if "://" in vault:
        raise ConfigurationError("Azure Key Vault: the vault's URL must be https.")
    if "." in vault or ":" in vault:
        return f"https://{vault}"
    return f"https://{vault}.vault.azure.net"


class AzureKeyVaultSource(CachedSecretSource):
    """A secret read from Azure Key Vault.

    Args:
        vault: The vault's name, host or ``https://`` URL.
        secret_name: The secret's name.
        version: A version id; the latest by default.
        field: When set, the secret is a JSON object and the key is its member ``field``.
        credential: An ``azure.core.credentials.TokenCredential``; ``DefaultAzureCredential()`` by default.
        credential_options: Keyword arguments for ``DefaultAzureCredential``, e.g.
            ``{"managed_identity_client_id": "..."}`` for a user-assigned identity, or
            ``{"disable_instance_discovery": True}`` for an authority Microsoft does not list (Azure Stack
            Hub, a private cloud).
        ttl, jitter, retry_after_error, clock, rng: See ``CachedSecretSource``.
        timeout: Seconds to connect to Azure, and to wait for an answer.

    Example:
        >>> AzureKeyVaultSource("prod-claude", "anthropic-api-key")
        AzureKeyVaultSource('https://prod-claude.vault.azure.net', 'anthropic-api-key', version=None)
    """

    kind = "azure-keyvault"
    quiet_loggers = (
        "azure.core.pipeline.policies.http_logging_policy",
        "azure.identity._internal.get_token_mixin",
        "azure.identity._credentials.environment",
        "msal.application",
        "msal.token_cache",
        "msal.authority",
    )

    def __init__(
        self,
        vault: str,
        secret_name: str,
        *,
        version: str | None = None,
        field: str | None = None,
        credential: Any = None,
        credential_options: Mapping[str, Any] | None = None,
        ttl: float = 300.0,
        jitter: float = 0.1,
        retry_after_error: float = DEFAULT_RETRY_AFTER_ERROR,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(ttl=ttl, jitter=jitter, retry_after_error=retry_after_error, clock=clock, rng=rng)
        try:
            import azure.identity
            import azure.keyvault.secrets  # noqa: F401
        except ImportError:
            raise ConfigurationError(_EXTRA) from None
        if not vault.strip() or not secret_name.strip() or "/" in secret_name.strip("/"):
            raise ConfigurationError(
                "Azure Key Vault: give a vault and a secret name (azure-keyvault://<vault>/<name>)."
            )
        self.vault_url = vault_url(vault)
        self.secret_name = secret_name.strip("/").strip()
        self.version = version or None
        self.field = field
        self.timeout = timeout
        self.name = f"azure-keyvault:{self.vault_url.removeprefix('https://')}/{self.secret_name}"
        self._credential = credential
        self._credential_options = dict(credential_options or {})
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AzureKeyVaultSource({self.vault_url!r}, {self.secret_name!r}, version={self.version!r})"

    def _fail(self, why: str) -> SecretSourceError:
        return SecretSourceError(f"Azure Key Vault could not read secret {self.secret_name!r}: {why}")

    def _details(self) -> Iterable[tuple[str, str]]:
        yield ("vault", self.vault_url)
        yield ("version", self.version or "latest")
        yield (
            "credential",
            type(self._credential).__name__ if self._credential else "DefaultAzureCredential",
        )

    def _secret_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from azure.identity import DefaultAzureCredential
                from azure.keyvault.secrets import SecretClient

                credential = self._credential or DefaultAzureCredential(**self._credential_options)
                self._client = SecretClient(
                    vault_url=self.vault_url,
                    credential=credential,
                    connection_timeout=self.timeout,
                    read_timeout=self.timeout,
                    retry_total=2,
                )
            return self._client

    def _read(self) -> str:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
        )

        try:
            secret = self._secret_client().get_secret(self.secret_name, self.version)
        except ClientAuthenticationError as exc:
            status = getattr(exc, "status_code", None)
            if status:
                raise self._fail(f"HTTP {status}, the identity is not allowed to get this secret") from None
            raise self._fail(
                "no Azure credential worked (DefaultAzureCredential tried the environment, workload "
                "identity, managed identity and the developer logins)"
            ) from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise self._fail(f"Azure unreachable ({type(exc).__name__})") from None
        except HttpResponseError as exc:
            code = exc.error.code if exc.error is not None and exc.error.code else type(exc).__name__
            raise self._fail(f"HTTP {exc.status_code}, {code}") from None
        except ValueError:
            # The Key Vault policy refuses a challenge whose scope is not in the vault's domain.
            raise self._fail("the vault's authentication challenge names another domain") from None
        value = secret.value
        if not isinstance(value, str):
            raise self._fail("the secret has no value")
        return value

    async def _fetch(self) -> Secret:
        text = await asyncio.to_thread(self._read)
        return Secret(pick_field(text, self.field, self._fail))

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)
