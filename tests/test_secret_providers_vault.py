"""HashiCorp Vault against a local fake of its HTTP API: token, token file, Kubernetes, AppRole and JWT
logins, token renewal before expiry and a new login after, a token revoked mid-run, KV v1 and v2, namespaces.

The fake keeps token leases on the same fake clock as the source, so expiry is exact and needs no sleeping.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from claude_guard.errors import ConfigurationError, SecretSourceError
from claude_guard.logscrub import default_registry
from claude_guard.secret_providers import (
    VaultAppRoleAuth,
    VaultJWTAuth,
    VaultKubernetesAuth,
    VaultKVSource,
    VaultTokenAuth,
    source_from_env,
    source_from_url,
)
from claude_guard.secrets import EnvSecretSource, FileSecretSource
from secret_fakes import FakeServer, Reply, Seen, fake_server

KEY_ONE = "sk-ant-fake-vault-one-0000"
KEY_TWO = "sk-ant-fake-vault-two-0000"
ROOT_TOKEN = "hvs.fake-root-token-canary-0000"
SA_JWT_ONE = "eyJfake.service-account-one.sig"
SA_JWT_TWO = "eyJfake.service-account-two.sig"
SECRET_ID = "fake-approle-secret-id-canary-0000"
ROLE_ID = "fake-role-id-0000"
CI_JWT = "eyJfake.ci-oidc-token.sig"
LEASE = 60
MAX_TTL = 150


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Token:
    expires_at: float | None
    max_expires_at: float | None
    renewable: bool


@dataclass
class FakeVault:
    clock: FakeClock
    kv2: dict[str, dict[str, str]] = field(default_factory=dict)
    kv1: dict[str, dict[str, str]] = field(default_factory=dict)
    namespace: str | None = None
    service_account_jwt: str = SA_JWT_ONE
    secret_id: str = SECRET_ID
    tokens: dict[str, Token] = field(default_factory=dict)
    logins: list[str] = field(default_factory=list)
    renewals: int = 0
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.tokens[ROOT_TOKEN] = Token(None, None, False)

    def issue(self, method: str) -> Reply:
        token = f"hvs.fake-issued-{method}-{next(self._ids):04d}"
        now = self.clock()
        self.tokens[token] = Token(now + LEASE, now + MAX_TTL, True)
        self.logins.append(method)
        return Reply(200, {"auth": {"client_token": token, "lease_duration": LEASE, "renewable": True}})

    def valid(self, token: str | None) -> Token | None:
        entry = self.tokens.get(token or "")
        if entry is None or (entry.expires_at is not None and self.clock() >= entry.expires_at):
            return None
        return entry

    def __call__(self, request: Seen) -> Reply:
        if self.namespace is not None and request.headers.get("x-vault-namespace") != self.namespace:
            return Reply(403, {"errors": ["permission denied (namespace)"]})
        path = request.path
        if request.method == "POST" and path == "/v1/auth/kubernetes/login":
            body = request.json()
            if body == {"role": "claude", "jwt": self.service_account_jwt}:
                return self.issue("kubernetes")
            return Reply(400, {"errors": ["invalid role or service account token"]})
        if request.method == "POST" and path == "/v1/auth/approle/login":
            if request.json() == {"role_id": ROLE_ID, "secret_id": self.secret_id}:
                return self.issue("approle")
            return Reply(400, {"errors": ["invalid role or secret ID"]})
        if request.method == "POST" and path == "/v1/auth/ci-jwt/login":
            if request.json() == {"role": "gateway", "jwt": CI_JWT}:
                return self.issue("jwt")
            return Reply(400, {"errors": ["invalid jwt"]})
        token = request.headers.get("x-vault-token")
        entry = self.valid(token)
        if entry is None:
            return Reply(403, {"errors": ["permission denied"]})
        if request.method == "POST" and path == "/v1/auth/token/renew-self":
            if not entry.renewable or entry.max_expires_at is None:
                return Reply(400, {"errors": ["lease is not renewable"]})
            self.renewals += 1
            now = self.clock()
            entry.expires_at = min(now + LEASE, entry.max_expires_at)
            lease = int(entry.expires_at - now)
            return Reply(200, {"auth": {"client_token": token, "lease_duration": lease, "renewable": True}})
        if request.method == "GET" and path.startswith("/v1/secret/data/"):
            data = self.kv2.get(path.removeprefix("/v1/secret/data/"))
            if data is None:
                return Reply(404, {"errors": []})
            return Reply(200, {"data": {"data": dict(data), "metadata": {"version": 3}}})
        if request.method == "GET" and path.startswith("/v1/kv/"):
            data = self.kv1.get(path.removeprefix("/v1/kv/"))
            if data is None:
                return Reply(404, {"errors": []})
            return Reply(200, {"data": dict(data), "lease_duration": 2764800})
        return Reply(404, {"errors": []})

    def revoke_all(self) -> None:
        self.tokens = {ROOT_TOKEN: self.tokens[ROOT_TOKEN]}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def vault(clock: FakeClock) -> Iterator[tuple[FakeVault, FakeServer]]:
    fake = FakeVault(clock, kv2={"claude/upstream": {"api_key": KEY_ONE}})
    with fake_server(fake, host="127.0.0.1") as server:
        yield fake, server


def kv_paths(server: FakeServer) -> list[str]:
    return [f"{r.method} {r.path}" for r in server.requests]


# --- logins -----------------------------------------------------------------------------------------------


async def test_kubernetes_login_reads_the_rotated_service_account_token(
    vault: tuple[FakeVault, FakeServer], clock: FakeClock, tmp_path: Path
) -> None:
    fake, server = vault
    jwt_file = tmp_path / "token"
    jwt_file.write_text(SA_JWT_ONE + "\n")
    auth = VaultKubernetesAuth(role="claude", jwt_path=str(jwt_file))
    source = VaultKVSource("claude/upstream", url=server.url, auth=auth, ttl=0, clock=clock)
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert kv_paths(server) == ["POST /v1/auth/kubernetes/login", "GET /v1/secret/data/claude/upstream"]
    assert fake.logins == ["kubernetes"]
    # The kubelet rotates the projected token; the next login (after expiry) must send the new one.
    fake.service_account_jwt = SA_JWT_TWO
    jwt_file.write_text(SA_JWT_TWO)
    clock.now += LEASE + 1
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert fake.logins == ["kubernetes", "kubernetes"]
    issued = {s.get_secret_value() for s in default_registry.snapshot()}
    assert any(value.startswith("hvs.fake-issued-kubernetes") for value in issued)


async def test_renewal_before_expiry_then_login_after_max_ttl(
    vault: tuple[FakeVault, FakeServer], clock: FakeClock, tmp_path: Path
) -> None:
    fake, server = vault
    jwt_file = tmp_path / "token"
    jwt_file.write_text(SA_JWT_ONE)
    auth = VaultKubernetesAuth(role="claude", jwt_path=str(jwt_file))
    source = VaultKVSource("claude/upstream", url=server.url, auth=auth, ttl=0, clock=clock)
    await source.get()
    clock.now += 30  # half the lease: the token is used as is
    await source.get()
    assert (fake.logins, fake.renewals) == (["kubernetes"], 0)
    clock.now += 15  # 45 s of 60: past two thirds, so it is renewed first
    await source.get()
    assert (fake.logins, fake.renewals) == (["kubernetes"], 1)
    clock.now += 45  # renewed at 1045 for 60 s: renewed again at 1090
    await source.get()
    assert (fake.logins, fake.renewals) == (["kubernetes"], 2)
    # 1090 + 45 = 1135: the max TTL (1150) caps the renewal at 15 s, less than what was left: log in again.
    clock.now += 45
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert fake.logins == ["kubernetes", "kubernetes"]
    assert "POST /v1/auth/token/renew-self" in kv_paths(server)


async def test_token_expired_or_revoked_mid_run_logs_in_again(
    vault: tuple[FakeVault, FakeServer], clock: FakeClock
) -> None:
    fake, server = vault
    auth = VaultAppRoleAuth(role_id=ROLE_ID, secret_id=EnvSecretSource("S", {"S": SECRET_ID}))
    source = VaultKVSource("claude/upstream", url=server.url, auth=auth, ttl=0, clock=clock)
    assert (await source.get()).get_secret_value() == KEY_ONE
    # Expired while idle: the source knows the lease and logs in before reading.
    clock.now += LEASE + 5
    fake.kv2["claude/upstream"] = {"api_key": KEY_TWO}
    assert (await source.get()).get_secret_value() == KEY_TWO
    assert fake.logins == ["approle", "approle"]
    before = len(server.requests)
    # Revoked behind its back (the lease still looks fine locally): a 403, a new login, the read again.
    fake.revoke_all()
    assert (await source.get()).get_secret_value() == KEY_TWO
    assert [f"{r.method} {r.path}" for r in server.requests[before:]] == [
        "GET /v1/secret/data/claude/upstream",
        "POST /v1/auth/approle/login",
        "GET /v1/secret/data/claude/upstream",
    ]


async def test_jwt_login_with_a_custom_mount(vault: tuple[FakeVault, FakeServer], tmp_path: Path) -> None:
    fake, server = vault
    jwt_file = tmp_path / "oidc"
    jwt_file.write_text(CI_JWT)
    auth = VaultJWTAuth(role="gateway", jwt_path=str(jwt_file), mount="ci-jwt")
    source = VaultKVSource("claude/upstream", url=server.url, auth=auth)
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert fake.logins == ["jwt"]


@pytest.mark.parametrize(
    ("auth", "match"),
    [
        pytest.param(
            VaultAppRoleAuth(role_id=ROLE_ID, secret_id=EnvSecretSource("S", {"S": "fake-wrong-secret-id"})),
            r"approle login refused \(HTTP 400\)",
            id="approle-refused",
        ),
        pytest.param(
            VaultKubernetesAuth(role="claude", jwt_path="/nonexistent/token"),
            r"service-account token file cannot be read \(FileNotFoundError\)",
            id="no-jwt-file",
        ),
    ],
)
async def test_login_failures_name_the_method_never_the_credential(
    vault: tuple[FakeVault, FakeServer], auth: Any, match: str
) -> None:
    _, server = vault
    source = VaultKVSource("claude/upstream", url=server.url, auth=auth)
    with pytest.raises(SecretSourceError, match=match) as caught:
        await source.get()
    assert "claude/upstream" in str(caught.value)
    for needle in ("fake-wrong-secret-id", SECRET_ID, SA_JWT_ONE):
        assert needle not in str(caught.value)


# --- plain tokens, KV versions, namespaces ----------------------------------------------------------------


async def test_token_file_is_reread_after_a_403(
    vault: tuple[FakeVault, FakeServer], clock: FakeClock, tmp_path: Path
) -> None:
    fake, server = vault
    token_file = tmp_path / "vault-token"
    token_file.write_text(ROOT_TOKEN)
    source = VaultKVSource(
        "claude/upstream", url=server.url, token_source=FileSecretSource(token_file), ttl=0, clock=clock
    )
    assert (await source.get()).get_secret_value() == KEY_ONE
    # Vault Agent renewed the token into its sink; the old one is gone.
    renewed = "hvs.fake-agent-renewed-0001"
    fake.tokens = {renewed: Token(None, None, False)}
    token_file.write_text(renewed)
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert server.requests[-1].headers["x-vault-token"] == renewed


async def test_kv_version_1_and_a_namespace(vault: tuple[FakeVault, FakeServer]) -> None:
    fake, server = vault
    fake.kv1["claude"] = {"key": KEY_TWO}
    fake.namespace = "team-a/ai"
    token = VaultTokenAuth(token_source=EnvSecretSource("T", {"T": ROOT_TOKEN}))
    source = VaultKVSource("claude", url=server.url, auth=token, mount="kv", kv_version=1, field="key")
    with pytest.raises(SecretSourceError, match="403"):
        await source.get()  # no namespace: refused
    source = VaultKVSource(
        "claude", url=server.url, auth=token, mount="kv", kv_version=1, field="key", namespace="team-a/ai"
    )
    assert (await source.get()).get_secret_value() == KEY_TWO
    assert server.requests[-1].path == "/v1/kv/claude"
    assert server.requests[-1].headers["x-vault-namespace"] == "team-a/ai"


@pytest.mark.parametrize(
    ("stored", "match"),
    [
        pytest.param(None, "404", id="missing"),
        pytest.param({"other": KEY_ONE}, "'api_key'", id="no-field"),
        pytest.param({"api_key": ""}, "'api_key'", id="empty-field"),
    ],
)
async def test_bad_secrets(
    vault: tuple[FakeVault, FakeServer], stored: dict[str, str] | None, match: str
) -> None:
    fake, server = vault
    fake.kv2.clear()
    if stored is not None:
        fake.kv2["claude/upstream"] = stored
    source = VaultKVSource(
        "claude/upstream", url=server.url, token_source=EnvSecretSource("T", {"T": ROOT_TOKEN})
    )
    with pytest.raises(SecretSourceError, match=match) as caught:
        await source.get()
    assert KEY_ONE not in str(caught.value)


def test_configuration_errors() -> None:
    token = EnvSecretSource("VAULT_TOKEN", {"VAULT_TOKEN": ROOT_TOKEN})
    with pytest.raises(ConfigurationError, match="https"):
        VaultKVSource("p", url="http://vault.example:8200", token_source=token)
    with pytest.raises(ConfigurationError, match="empty"):
        VaultKVSource("", url="https://vault.example", token_source=token)
    with pytest.raises(ConfigurationError, match="VAULT_TOKEN"):
        VaultKVSource(
            "p", url="https://vault.example", token_source="VAULT_TOKEN", environ={"VAULT_TOKEN": " "}
        )
    with pytest.raises(ConfigurationError, match="role"):
        VaultKVSource("p", url="https://vault.example", auth=VaultKubernetesAuth(role=" "))
    with pytest.raises(ConfigurationError, match="kv_version"):
        VaultKVSource("p", url="https://vault.example", token_source=token, kv_version=3)  # type: ignore[arg-type]


# --- from the environment ---------------------------------------------------------------------------------


def test_source_from_env_each_login(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(ROOT_TOKEN)
    base = {"CLAUDE_API_KEY_SOURCE": "vault://claude/upstream", "VAULT_ADDR": "https://vault.internal:8200/"}
    source = source_from_env({**base, "VAULT_TOKEN_FILE": str(token_file), "VAULT_NAMESPACE": "team-a"})
    assert isinstance(source, VaultKVSource)
    assert (source.url, source.namespace, source.auth.method) == (
        "https://vault.internal:8200",
        "team-a",
        "token",
    )
    assert isinstance(source.token_source, FileSecretSource)
    assert ROOT_TOKEN not in repr(source)
    k8s = source_from_env(
        {**base, "CLAUDE_API_KEY_SOURCE": "vault://claude/upstream?auth=kubernetes&role=claude&kv=1&mount=kv"}
    )
    assert isinstance(k8s, VaultKVSource)
    assert k8s.auth == VaultKubernetesAuth(role="claude")
    assert (k8s.kv_version, k8s.mount) == (1, "kv")
    approle = source_from_env(
        {**base, "VAULT_AUTH_METHOD": "approle", "VAULT_ROLE_ID": ROLE_ID, "VAULT_SECRET_ID": SECRET_ID}
    )
    assert isinstance(approle, VaultKVSource)
    assert isinstance(approle.auth, VaultAppRoleAuth)
    assert SECRET_ID not in repr(approle.auth)
    jwt = source_from_env(
        {
            **base,
            "VAULT_AUTH_METHOD": "jwt",
            "VAULT_ROLE": "gw",
            "VAULT_JWT_FILE": "/run/oidc",
            "VAULT_AUTH_MOUNT": "ci",
        }
    )
    assert isinstance(jwt, VaultKVSource)
    assert jwt.auth == VaultJWTAuth(role="gw", jwt_path="/run/oidc", mount="ci")
    assert jwt.describe().details[3] == ("auth", "jwt")


@pytest.mark.parametrize(
    ("url", "extra", "match"),
    [
        pytest.param("vault://p", {}, "VAULT_ADDR", id="no-addr"),
        pytest.param("vault://p", {"VAULT_ADDR": "https://v"}, "VAULT_TOKEN", id="no-token"),
        pytest.param(
            "vault://p",
            {"VAULT_ADDR": "https://v", "VAULT_TOKEN": "t", "VAULT_TOKEN_FILE": "/f"},
            "exactly one",
            id="two-tokens",
        ),
        pytest.param(
            "vault://p", {"VAULT_ADDR": "http://vault.example", "VAULT_TOKEN": "t"}, "https", id="http"
        ),
        pytest.param(
            "vault://p?feild=x", {"VAULT_ADDR": "https://v", "VAULT_TOKEN": "t"}, "feild", id="typo"
        ),
        pytest.param("vault://p?ttl=-1", {"VAULT_ADDR": "https://v", "VAULT_TOKEN": "t"}, "ttl", id="ttl"),
        pytest.param("vault://p?kv=3", {"VAULT_ADDR": "https://v", "VAULT_TOKEN": "t"}, "kv", id="kv"),
        pytest.param("vault://p?auth=ldap", {"VAULT_ADDR": "https://v"}, "ldap", id="auth"),
        pytest.param("vault://p?auth=kubernetes", {"VAULT_ADDR": "https://v"}, "VAULT_ROLE", id="k8s-role"),
        pytest.param("vault://p?auth=approle", {"VAULT_ADDR": "https://v"}, "VAULT_ROLE_ID", id="approle"),
    ],
)
def test_source_from_url_errors(url: str, extra: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        source_from_url(url, extra)


async def test_nothing_secret_in_the_logs_of_a_whole_session(
    vault: tuple[FakeVault, FakeServer], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake, server = vault
    auth = VaultAppRoleAuth(role_id=ROLE_ID, secret_id=EnvSecretSource("S", {"S": SECRET_ID}))
    with caplog.at_level(logging.DEBUG):
        source = VaultKVSource("claude/upstream", url=server.url, auth=auth, ttl=0, clock=clock)
        await source.get()
        clock.now += 45
        await source.get()  # renewed
        fake.revoke_all()
        await source.get()  # 403, login again
        fake.kv2.clear()
        await source.get()  # 404: the last good value is kept, with a warning
    assert "keeping the last value" in caplog.text
    issued = [t for t in fake.tokens if t != ROOT_TOKEN]
    for needle in (KEY_ONE, SECRET_ID, *issued):
        assert needle not in caplog.text
