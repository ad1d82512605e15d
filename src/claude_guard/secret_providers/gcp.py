"""Google Secret Manager, through ``google-cloud-secret-manager`` (the ``[gcp]`` extra).

Credentials are the application default credentials of ``google-auth``: ``GOOGLE_APPLICATION_CREDENTIALS``
(a service-account key, an external-account / workload identity federation file, or an authorized-user file),
the gcloud user's ADC file, then the metadata server (GKE workload identity, Cloud Run, GCE). Tokens are
refreshed by google-auth before they expire.

The client speaks the REST transport by default, not gRPC: gRPC's threads do not survive ``fork`` (pre-forking
servers, ``multiprocessing``), and one small GET per refresh interval gains nothing from a channel. Pass
``transport="grpc"`` to use it anyway. The synchronous client runs in a worker thread; one is built on first
use and reused.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

from ..errors import ConfigurationError, SecretSourceError
from ..secrets import Secret, check_https_url
from ._cached import DEFAULT_RETRY_AFTER_ERROR, CachedSecretSource
from .aws import pick_field

__all__: list[str] = []  # public through claude_guard.secret_providers (one place per name)

_EXTRA = "Google Secret Manager needs the [gcp] extra: pip install 'claude-guard[gcp]'."
_RESOURCE = re.compile(
    r"projects/(?P<project>[^/]+)/secrets/(?P<secret>[^/]+)(?:/versions/(?P<version>[^/]+))?"
)


class GCPSecretManagerSource(CachedSecretSource):
    """A secret version read from Google Secret Manager with ``AccessSecretVersion``.

    Args:
        resource: ``projects/<project>/secrets/<secret>[/versions/<version>]``; the version defaults to
            ``latest`` (a number or an alias also work).
        field: When set, the payload is a JSON object and the key is its member ``field``.
        transport: ``rest`` (default) or ``grpc``.
        endpoint: Overrides the API endpoint (a regional or Private Service Connect one); https unless
            loopback.
        credentials: ``google.auth`` credentials; application default credentials otherwise.
        ttl, jitter, retry_after_error, clock, rng: See ``CachedSecretSource``.
        timeout: Seconds for one call.

    Example:
        >>> GCPSecretManagerSource("projects/prod-ai/secrets/anthropic-key")
        GCPSecretManagerSource('projects/prod-ai/secrets/anthropic-key/versions/latest')
    """

    kind = "gcp-secretmanager"
    # The REST transport logs the whole answer (the payload) at DEBUG when Google's client logging is on.
    quiet_loggers = (
        "google.cloud.secretmanager_v1.services.secret_manager_service.transports.rest",
        "google.cloud.secretmanager_v1.services.secret_manager_service.client",
        "google.auth.transport.requests",
        "google.auth._default",
    )

    def __init__(
        self,
        resource: str,
        *,
        field: str | None = None,
        transport: Literal["rest", "grpc"] = "rest",
        endpoint: str | None = None,
        credentials: Any = None,
        ttl: float = 300.0,
        jitter: float = 0.1,
        retry_after_error: float = DEFAULT_RETRY_AFTER_ERROR,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(ttl=ttl, jitter=jitter, retry_after_error=retry_after_error, clock=clock, rng=rng)
        try:
            import google.cloud.secretmanager  # noqa: F401
        except ImportError:
            raise ConfigurationError(_EXTRA) from None
        match = _RESOURCE.fullmatch(resource.strip().strip("/"))
        if match is None:
            raise ConfigurationError(
                "Google Secret Manager: the secret must be projects/<project>/secrets/<secret>"
                "[/versions/<version>]."
            )
        if transport not in ("rest", "grpc"):
            raise ConfigurationError("Google Secret Manager: transport must be rest or grpc.")
        self.project, self.secret = match["project"], match["secret"]
        self.version = match["version"] or "latest"
        self.resource = f"projects/{self.project}/secrets/{self.secret}/versions/{self.version}"
        self.field = field
        self.transport: Literal["rest", "grpc"] = transport
        self.endpoint = check_https_url(endpoint.strip(), "The Secret Manager endpoint") if endpoint else None
        if self.endpoint is not None and transport == "grpc":
            self.endpoint = self.endpoint.removeprefix("https://")
        self.timeout = timeout
        self.name = f"gcp-secretmanager:{self.resource}"
        self._credentials = credentials
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"GCPSecretManagerSource({self.resource!r})"

    def _fail(self, why: str) -> SecretSourceError:
        return SecretSourceError(f"Google Secret Manager could not read {self.resource!r}: {why}")

    def _details(self) -> Iterable[tuple[str, str]]:
        yield ("project", self.project)
        yield ("version", self.version)
        yield ("transport", self.transport)
        if self.endpoint:
            yield ("endpoint", self.endpoint)

    def _secret_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud.secretmanager import SecretManagerServiceClient

                options = {"api_endpoint": self.endpoint} if self.endpoint else None
                self._client = SecretManagerServiceClient(
                    credentials=self._credentials, transport=self.transport, client_options=options
                )
            return self._client

    def _read(self) -> bytes:
        import google.api_core.exceptions as gex
        import google.auth.exceptions as aex
        import google_crc32c

        try:
            answer = self._secret_client().access_secret_version(
                name=self.resource, timeout=self.timeout, retry=None
            )
        except aex.DefaultCredentialsError:
            raise self._fail(
                "no application default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC file, "
                "the metadata server)"
            ) from None
        except aex.RefreshError:
            raise self._fail("the credentials could not get an access token (refresh refused)") from None
        except aex.TransportError as exc:
            raise self._fail(f"Google unreachable ({type(exc).__name__})") from None
        except gex.GoogleAPICallError as exc:
            raise self._fail(f"HTTP {exc.code}, {type(exc).__name__}") from None
        except gex.GoogleAPIError as exc:
            raise self._fail(f"{type(exc).__name__}") from None
        payload = answer.payload
        data = bytes(payload.data)
        # Google's own advice: check the payload's CRC32C when the answer carries one.
        if payload.data_crc32c and int(google_crc32c.value(data)) != payload.data_crc32c:
            raise self._fail("the payload's checksum does not match (corrupted in transit)")
        return data

    async def _fetch(self) -> Secret:
        data = await asyncio.to_thread(self._read)
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise self._fail("the payload is not UTF-8 text") from None
        return Secret(pick_field(text, self.field, self._fail))

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.transport.close)
