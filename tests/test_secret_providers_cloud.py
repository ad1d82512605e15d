"""Azure Key Vault and Google Secret Manager through their SDKs, against local HTTPS fakes with certificates
made here (``trustme``). The SDKs run their real authentication flows:

- Azure: ``DefaultAzureCredential`` from the environment (client secret) and from workload identity (the
  AKS federated token file), MSAL's tenant discovery and token request, and Key Vault's 401 challenge, whose
  scope the SDK checks against the vault's domain;
- Google: application default credentials from a service-account key file (the SDK signs a JWT that the fake
  verifies with the public key) and from a workload identity federation file (a token exchange at the
  ``token_url``), then ``AccessSecretVersion`` over the REST transport with the payload's CRC32C.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import google_crc32c
import pytest
import trustme
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from claude_guard.errors import ConfigurationError, SecretSourceError
from claude_guard.secret_providers import AzureKeyVaultSource, GCPSecretManagerSource, probe, source_from_env
from secret_fakes import FakeServer, Reply, Seen, fake_server

KEY_ONE = "sk-ant-fake-cloud-one-0000"
KEY_TWO = "sk-ant-fake-cloud-two-0000"
TENANT = "00000000-fake-tenant-0000-000000000000"
CLIENT_ID = "11111111-fake-client-1111-111111111111"
CLIENT_SECRET = "fake-azure-client-secret-canary-0000"
FEDERATED_TOKEN = "eyJfake.aks-federated-token.sig"
SUBJECT_TOKEN = "eyJfake.oidc-subject-for-google.sig"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """The test CA is what requests (Azure and Google's sync transports) trust, as a private CA would be."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    for name in list(os.environ):
        if name.startswith(("AZURE_", "GOOGLE_", "CLOUDSDK_", "MSI_", "IDENTITY_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.azure, no gcloud ADC file
    return ca


# --- Azure ------------------------------------------------------------------------------------------------


@dataclass
class FakeAzure:
    """Microsoft Entra ID (tenant discovery, token endpoint) and one Key Vault, on one host.

    Key Vault's client checks that the challenge's resource domain is a parent of the vault's host. The vault
    is ``127.0.0.1:<port>`` here, so the fake names ``0.0.1:<port>`` as the resource: a parent domain of it,
    which the SDK's real check accepts.
    """

    url: str = ""
    secrets: dict[str, list[str]] = field(default_factory=dict)
    allowed: bool = True
    challenge_resource: str | None = None
    tokens: set[str] = field(default_factory=set)
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    @property
    def resource(self) -> str:
        return self.challenge_resource or f"https://0.0.1:{self.url.rsplit(':', 1)[1]}"

    def __call__(self, request: Seen) -> Reply:
        path = request.path
        if path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            base = f"{self.url}/{TENANT}"
            return Reply(
                200,
                {
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    "issuer": f"{base}/v2.0",
                },
            )
        if path == f"/{TENANT}/oauth2/v2.0/token" and request.method == "POST":
            form = parse_qs(request.body.decode())
            self.token_requests.append(form)
            by_secret = form.get("client_secret") == [CLIENT_SECRET]
            by_assertion = form.get("client_assertion") == [FEDERATED_TOKEN] and form.get(
                "client_assertion_type"
            ) == ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
            if form.get("client_id") != [CLIENT_ID] or not (by_secret or by_assertion):
                return Reply(401, {"error": "invalid_client", "error_description": "AADSTS7000215"})
            if form.get("scope") != [f"{self.resource}/.default"]:
                return Reply(400, {"error": "invalid_scope"})
            token = f"fake-entra-access-token-{next(self._ids)}"
            self.tokens.add(token)
            return Reply(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})
        if path.startswith("/secrets/"):
            auth = request.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
                challenge = f'Bearer authorization="{self.url}/{TENANT}", resource="{self.resource}"'
                return Reply(401, {"error": {"code": "Unauthorized"}}, {"www-authenticate": challenge})
            if not self.allowed:
                return Reply(403, {"error": {"code": "Forbidden", "message": "no access policy"}})
            name, _, version = path.removeprefix("/secrets/").strip("/").partition("/")
            versions = self.secrets.get(name)
            if not versions or (version and not (version.isdigit() and int(version) < len(versions))):
                return Reply(404, {"error": {"code": "SecretNotFound", "message": "not found"}})
            index = int(version) if version else len(versions) - 1
            return Reply(
                200,
                {
                    "value": versions[index],
                    "id": f"{self.url}/secrets/{name}/{index}",
                    "attributes": {"enabled": True},
                },
            )
        return Reply(404, {"error": {"code": "NotFound"}})


@pytest.fixture
def azure(trusted: trustme.CA) -> Iterator[tuple[FakeAzure, FakeServer]]:
    fake = FakeAzure(secrets={"anthropic-key": [KEY_ONE]})
    with fake_server(fake, tls=trusted, host="127.0.0.1") as server:
        fake.url = server.url
        yield fake, server


def azure_env(monkeypatch: pytest.MonkeyPatch, server: FakeServer) -> None:
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", server.url)


def azure_source(server: FakeServer, url: str = "anthropic-key", **kwargs: Any) -> AzureKeyVaultSource:
    vault = server.url.removeprefix("https://")
    source = source_from_env({"CLAUDE_API_KEY_SOURCE": f"azure-keyvault://{vault}/{url}"})
    assert isinstance(source, AzureKeyVaultSource)
    # MSAL asks login.microsoftonline.com whether an authority it does not know is real; offline, it is told
    # not to, as for Azure Stack Hub. Everything else is DefaultAzureCredential as production builds it.
    source._credential_options = {"disable_instance_discovery": True, **kwargs}
    return source


async def test_azure_client_secret_from_the_environment_and_the_vault_challenge(
    azure: tuple[FakeAzure, FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, server = azure
    azure_env(monkeypatch, server)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    source = azure_source(server)
    assert (await source.get()).get_secret_value() == KEY_ONE
    flow = [(r.method, r.path, "authorization" in r.headers) for r in server.requests]
    assert flow == [
        ("GET", "/secrets/anthropic-key/", False),  # no token yet: the vault answers with its challenge
        ("GET", f"/{TENANT}/v2.0/.well-known/openid-configuration", False),
        ("POST", f"/{TENANT}/oauth2/v2.0/token", False),
        ("GET", "/secrets/anthropic-key/", True),
    ]
    assert fake.token_requests[0]["grant_type"] == ["client_credentials"]
    # A second read reuses the token: no new login.
    source.invalidate()
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert len(fake.token_requests) == 1
    await source.aclose()


async def test_azure_workload_identity_and_rotation(
    azure: tuple[FakeAzure, FakeServer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake, server = azure
    azure_env(monkeypatch, server)
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(FEDERATED_TOKEN)
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))  # what the AKS webhook injects
    source = azure_source(server)
    source.ttl = 0
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert fake.token_requests[0]["client_assertion"] == [FEDERATED_TOKEN]
    fake.secrets["anthropic-key"].append(KEY_TWO)  # a new version: the latest is read
    assert (await source.get()).get_secret_value() == KEY_TWO
    pinned = azure_source(server, "anthropic-key?version=0")
    assert pinned.version == "0"
    assert (await pinned.get()).get_secret_value() == KEY_ONE


async def test_azure_refusals_name_the_cause_never_a_credential(
    azure: tuple[FakeAzure, FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, server = azure
    azure_env(monkeypatch, server)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    fake.allowed = False
    with pytest.raises(SecretSourceError, match=r"'anthropic-key': HTTP 403, Forbidden") as caught:
        await azure_source(server).get()
    fake.allowed = True
    with pytest.raises(SecretSourceError, match="HTTP 404, SecretNotFound"):
        await azure_source(server, "other-key").get()
    # No credential at all (managed identity excluded: there is no instance metadata service here).
    monkeypatch.delenv("AZURE_CLIENT_SECRET")
    status = await probe(azure_source(server, exclude_managed_identity_credential=True))
    assert status.state == "failed"
    assert "no Azure credential worked" in status.detail
    assert CLIENT_SECRET not in str(caught.value) + status.detail


async def test_azure_refuses_a_challenge_naming_another_domain(
    trusted: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A vault of its own: the SDK caches each vault's accepted challenge for the whole process.
    fake = FakeAzure(
        secrets={"anthropic-key": [KEY_ONE]}, challenge_resource="https://vault.attacker.example"
    )
    with fake_server(fake, tls=trusted, host="127.0.0.1") as server:
        fake.url = server.url
        azure_env(monkeypatch, server)
        monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
        with pytest.raises(SecretSourceError, match="another domain"):
            await azure_source(server).get()
    assert fake.token_requests == []  # refused before any token was asked for the foreign scope


def test_azure_url_forms() -> None:
    source = source_from_env(
        {"CLAUDE_API_KEY_SOURCE": "azure-keyvault://prod-claude/anthropic-key?version=abc"}
    )
    assert isinstance(source, AzureKeyVaultSource)
    assert (source.vault_url, source.secret_name, source.version) == (
        "https://prod-claude.vault.azure.net",
        "anthropic-key",
        "abc",
    )
    assert source.name == "azure-keyvault:prod-claude.vault.azure.net/anthropic-key"
    china = source_from_env({"CLAUDE_API_KEY_SOURCE": "azure-keyvault://kv1.vault.azure.cn/k"})
    assert isinstance(china, AzureKeyVaultSource)
    assert china.vault_url == "https://kv1.vault.azure.cn"
    with pytest.raises(ConfigurationError, match="https"):
        AzureKeyVaultSource("http://kv1.vault.azure.net", "k")


# --- Google -----------------------------------------------------------------------------------------------


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


@dataclass
class FakeGoogle:
    """Secret Manager's REST API and an STS token endpoint. Bearer tokens are either access tokens issued by
    the token endpoint, or JWTs self-signed by the service account's key (checked with its public key)."""

    url: str = ""
    public_key: Any = None
    client_email: str = "claude-gateway@prod-ai.iam.gserviceaccount.com"
    versions: dict[str, list[bytes]] = field(default_factory=dict)
    allowed: bool = True
    corrupt: bool = False
    issued: set[str] = field(default_factory=set)
    exchanges: list[dict[str, list[str]]] = field(default_factory=list)
    jwt_claims: list[dict[str, Any]] = field(default_factory=list)

    def authorized(self, header: str) -> bool:
        if not header.startswith("Bearer "):
            return False
        token = header[7:]
        if token in self.issued:
            return True
        if self.public_key is None or token.count(".") != 2:
            return False
        head, body, signature = token.split(".")
        try:
            self.public_key.verify(
                _b64url(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return False
        claims = json.loads(_b64url(body))
        self.jwt_claims.append(claims)
        return bool(
            claims.get("iss") == claims.get("sub") == self.client_email
            and claims.get("aud") == "https://secretmanager.googleapis.com/"
            and claims.get("exp", 0) > time.time()
        )

    def __call__(self, request: Seen) -> Reply:
        if request.path == "/v1/token" and request.method == "POST":
            form = parse_qs(request.body.decode())
            self.exchanges.append(form)
            if form.get("subject_token") != [SUBJECT_TOKEN]:
                return Reply(400, {"error": "invalid_grant"})
            token = f"fake-google-access-token-{len(self.exchanges)}"
            self.issued.add(token)
            return Reply(
                200,
                {
                    "access_token": token,
                    "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                    "token_type": "Bearer",
                    "expires_in": 3600,
                },
            )
        if not self.authorized(request.headers.get("authorization", "")):
            return Reply(
                401, {"error": {"code": 401, "message": "unauthenticated", "status": "UNAUTHENTICATED"}}
            )
        if not self.allowed:
            return Reply(403, {"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}})
        name = request.path.removeprefix("/v1/").removesuffix(":access")
        secret, _, version = name.rpartition("/versions/")
        versions = self.versions.get(secret, [])
        index = len(versions) if version == "latest" else int(version) if version.isdigit() else 0
        if not 1 <= index <= len(versions):
            return Reply(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})
        data = versions[index - 1]
        crc = google_crc32c.value(data) + (1 if self.corrupt else 0)
        payload = {"data": base64.b64encode(data).decode(), "dataCrc32c": str(crc)}
        return Reply(200, {"name": f"{secret}/versions/{index}", "payload": payload})


@pytest.fixture
def google(trusted: trustme.CA) -> Iterator[tuple[FakeGoogle, FakeServer]]:
    fake = FakeGoogle(versions={"projects/prod-ai/secrets/anthropic-key": [KEY_ONE.encode()]})
    with fake_server(fake, tls=trusted, host="127.0.0.1") as server:
        fake.url = server.url
        yield fake, server


def service_account_file(fake: FakeGoogle, folder: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fake.public_key = key.public_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path = folder / "service-account.json"
    info = {
        "type": "service_account",
        "project_id": "prod-ai",
        "private_key_id": "fake-key-id-0000",
        "private_key": pem,
        "client_email": fake.client_email,
        "client_id": "100000000000000000000",
        "token_uri": f"{fake.url}/token",
    }
    path.write_text(json.dumps(info))
    return path


def google_source(
    server: FakeServer, resource: str = "projects/prod-ai/secrets/anthropic-key", **kw: Any
) -> Any:
    query = "&".join(f"{k}={v}" for k, v in {"endpoint": server.url, **kw}.items())
    return source_from_env({"CLAUDE_API_KEY_SOURCE": f"gcp-secretmanager://{resource}?{query}"})


async def test_google_service_account_key_file(
    google: tuple[FakeGoogle, FakeServer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake, server = google
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account_file(fake, tmp_path)))
    source = google_source(server)
    assert isinstance(source, GCPSecretManagerSource)
    assert (source.transport, source.version) == ("rest", "latest")
    assert (await source.get()).get_secret_value() == KEY_ONE
    (request,) = server.requests
    assert request.path == "/v1/projects/prod-ai/secrets/anthropic-key/versions/latest:access"
    assert fake.jwt_claims[0]["sub"] == fake.client_email
    await source.aclose()


async def test_google_workload_identity_federation_and_rotation(
    google: tuple[FakeGoogle, FakeServer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake, server = google
    subject = tmp_path / "oidc-token"
    subject.write_text(SUBJECT_TOKEN)
    config = tmp_path / "wif.json"
    config.write_text(
        json.dumps(
            {
                "type": "external_account",
                "audience": (
                    "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/o"
                ),
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "token_url": f"{fake.url}/v1/token",
                "credential_source": {"file": str(subject)},
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(config))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "prod-ai")  # else google-auth asks Resource Manager for it
    source = google_source(server, ttl="0")
    assert (await source.get()).get_secret_value() == KEY_ONE
    (exchange,) = fake.exchanges
    assert exchange["grant_type"] == ["urn:ietf:params:oauth:grant-type:token-exchange"]
    fake.versions["projects/prod-ai/secrets/anthropic-key"].append(KEY_TWO.encode())
    assert (await source.get()).get_secret_value() == KEY_TWO  # a new version, same token
    assert len(fake.exchanges) == 1
    pinned = google_source(server, "projects/prod-ai/secrets/anthropic-key/versions/1")
    assert (await pinned.get()).get_secret_value() == KEY_ONE


async def test_google_refusals_and_a_corrupted_payload(
    google: tuple[FakeGoogle, FakeServer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake, server = google
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account_file(fake, tmp_path)))
    fake.corrupt = True
    with pytest.raises(SecretSourceError, match="checksum") as corrupted:
        await google_source(server).get()
    fake.corrupt = False
    with pytest.raises(SecretSourceError, match="HTTP 404, NotFound"):
        await google_source(server, "projects/prod-ai/secrets/other").get()
    fake.allowed = False
    with pytest.raises(SecretSourceError, match="HTTP 403, Forbidden") as denied:
        await google_source(server).get()
    for error in (corrupted.value, denied.value):
        assert KEY_ONE not in str(error)
        assert "anthropic-key" in str(error)


async def test_google_without_credentials(trusted: trustme.CA, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # no metadata server answers here
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    status = await probe(GCPSecretManagerSource("projects/p/secrets/s", endpoint="https://127.0.0.1:9"))
    assert status.state == "failed"
    assert "no application default credentials" in status.detail
