"""Secret providers against local fakes of AWS Secrets Manager and Vault, served on loopback.

The fakes check what the real services check: the AWS fake recomputes the SigV4 signature on its own (an
implementation separate from the one under test) and refuses a wrong one; the Vault fake refuses a wrong
token. Values change while a source is in use, as in a rotation.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest

from claude_guard.errors import ConfigurationError, UpstreamError
from claude_guard.logscrub import default_registry
from claude_guard.secret_providers import (
    AWSCredentials,
    AWSSecretsManagerSource,
    SecretSourceError,
    VaultKVSource,
    sign_v4,
    source_from_env,
    source_from_url,
)
from claude_guard.secrets import EnvSecretSource, FileSecretSource, Secret
from claude_guard.testing import FakeClaude, RunningServer, serve
from claude_guard.upstream import UpstreamClient

pytestmark = pytest.mark.server

ACCESS_KEY_ID = "AKIDEXAMPLE"
SECRET_ACCESS_KEY = "fake-aws-secret-access-key-canary-0000"
SESSION_TOKEN = "fake-aws-session-token-canary-0000"
VAULT_TOKEN = "hvs.fake-vault-token-canary-0000"
KEY_ONE = "sk-ant-fake-rotation-one-0000"
KEY_TWO = "sk-ant-fake-rotation-two-0000"
AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<akid>[A-Z0-9]+)/(?P<day>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})"
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _json(send: Any, status: int, payload: Any, content_type: str = "application/json") -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


# --- a fake AWS Secrets Manager -------------------------------------------------------------------


def expected_signature(method: str, path: str, headers: dict[str, str], body: bytes, secret_key: str) -> str:
    """SigV4 recomputed from what arrived on the wire, written from the spec independently of sign_v4."""
    match = AUTHORIZATION.fullmatch(headers["authorization"])
    assert match is not None
    signed = match["signed"].split(";")
    canonical = (
        f"{method}\n{path}\n\n"
        + "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
        + f"\n{match['signed']}\n{hashlib.sha256(body).hexdigest()}"
    )
    scope = f"{match['day']}/{match['region']}/{match['service']}/aws4_request"
    to_sign = (
        f"AWS4-HMAC-SHA256\n{headers['x-amz-date']}\n{scope}\n"
        + hashlib.sha256(canonical.encode()).hexdigest()
    )
    key = f"AWS4{secret_key}".encode()
    for part in (match["day"], match["region"], match["service"], "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass
class FakeSecretsManager:
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    secret_access_key: str = SECRET_ACCESS_KEY
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await _body(receive)
        headers = _headers(scope)
        self.requests.append({"headers": headers, "body": body, "path": scope["path"]})
        if scope["method"] != "POST" or scope["path"] != "/":
            await _json(send, 404, {"__type": "UnknownOperationException"})
            return
        if headers.get("x-amz-target") != "secretsmanager.GetSecretValue":
            await _json(send, 400, {"__type": "UnknownOperationException"})
            return
        match = AUTHORIZATION.fullmatch(headers.get("authorization", ""))
        if match is None or not re.fullmatch(r"\d{8}T\d{6}Z", headers.get("x-amz-date", "")):
            await _json(send, 400, {"__type": "IncompleteSignatureException"})
            return
        signature = expected_signature("POST", "/", headers, body, self.secret_access_key)
        if not hmac.compare_digest(signature, match["sig"]):
            await _json(send, 403, {"__type": "InvalidSignatureException", "message": "no"})
            return
        secret_id = json.loads(body)["SecretId"]
        if secret_id not in self.secrets:
            await _json(
                send,
                400,
                {"__type": "com.amazonaws.secretsmanager#ResourceNotFoundException", "message": "nope"},
            )
            return
        await _json(send, 200, {"Name": secret_id, **self.secrets[secret_id]}, "application/x-amz-json-1.1")


@pytest.fixture
def aws() -> Iterator[tuple[FakeSecretsManager, RunningServer]]:
    fake = FakeSecretsManager()
    with serve(fake) as server:
        yield fake, server


def aws_env(server: RunningServer, **extra: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_ENDPOINT_URL": server.url,
        **extra,
    }


# --- a fake Vault ---------------------------------------------------------------------------------


@dataclass
class FakeVault:
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    token: str = VAULT_TOKEN
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = _headers(scope)
        self.requests.append({"headers": headers, "path": scope["path"], "method": scope["method"]})
        if headers.get("x-vault-token") != self.token:
            await _json(send, 403, {"errors": ["permission denied"]})
            return
        prefix = "/v1/secret/data/"
        path = unquote(scope["path"])
        if scope["method"] != "GET" or not path.startswith(prefix) or path[len(prefix) :] not in self.secrets:
            await _json(send, 404, {"errors": []})
            return
        data = self.secrets[path[len(prefix) :]]
        await _json(send, 200, {"data": {"data": dict(data), "metadata": {"version": 1}}})


@pytest.fixture
def vault() -> Iterator[tuple[FakeVault, RunningServer]]:
    fake = FakeVault()
    with serve(fake) as server:
        yield fake, server


def vault_source(server: RunningServer, path: str = "claude/upstream", **kwargs: Any) -> VaultKVSource:
    kwargs.setdefault("token_source", EnvSecretSource("VAULT_TOKEN", {"VAULT_TOKEN": VAULT_TOKEN}))
    return VaultKVSource(path, url=server.url, **kwargs)


# --- SigV4 ----------------------------------------------------------------------------------------


def test_sign_v4_matches_the_aws_test_suite_vector() -> None:
    creds = AWSCredentials("AKIDEXAMPLE", Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
    signed = sign_v4(
        method="GET",
        url="https://example.amazonaws.com/",
        headers={},
        body=b"",
        region="us-east-1",
        service="service",
        credentials=creds,
        now=datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
    )
    assert signed["x-amz-date"] == "20150830T123600Z"
    assert signed["host"] == "example.amazonaws.com"
    assert signed["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_sign_v4_signs_the_session_token_and_never_shows_the_secret_key() -> None:
    creds = AWSCredentials(ACCESS_KEY_ID, Secret(SECRET_ACCESS_KEY), Secret(SESSION_TOKEN))
    signed = sign_v4(
        method="POST",
        url="http://127.0.0.1:8123/",
        headers={"Content-Type": "application/x-amz-json-1.1"},
        body=b"{}",
        region="eu-west-1",
        service="secretsmanager",
        credentials=creds,
    )
    assert signed["host"] == "127.0.0.1:8123"
    assert signed["x-amz-security-token"] == SESSION_TOKEN
    match = AUTHORIZATION.fullmatch(signed["authorization"])
    assert match is not None
    assert match["signed"] == "content-type;host;x-amz-date;x-amz-security-token"
    assert SECRET_ACCESS_KEY not in json.dumps(signed)
    assert SECRET_ACCESS_KEY not in repr(creds)
    assert ACCESS_KEY_ID not in repr(creds)


# --- AWS Secrets Manager --------------------------------------------------------------------------


async def test_aws_reads_a_signed_secret(aws: tuple[FakeSecretsManager, RunningServer]) -> None:
    fake, server = aws
    fake.secrets["prod/claude"] = {"SecretString": KEY_ONE}
    source = AWSSecretsManagerSource("prod/claude", region="eu-west-1", environ=aws_env(server))
    assert (await source.get()).get_secret_value() == KEY_ONE
    (request,) = fake.requests
    headers = request["headers"]
    match = AUTHORIZATION.fullmatch(headers["authorization"])
    assert match is not None
    assert (match["akid"], match["region"], match["service"]) == (
        ACCESS_KEY_ID,
        "eu-west-1",
        "secretsmanager",
    )
    assert headers["x-amz-date"].startswith(match["day"])
    assert {"host", "x-amz-date", "x-amz-target", "content-type"} <= set(match["signed"].split(";"))
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert json.loads(request["body"]) == {"SecretId": "prod/claude"}
    assert "x-amz-security-token" not in headers


async def test_aws_session_token_is_sent_and_signed(aws: tuple[FakeSecretsManager, RunningServer]) -> None:
    fake, server = aws
    fake.secrets["k"] = {"SecretString": KEY_ONE}
    env = aws_env(server, AWS_SESSION_TOKEN=SESSION_TOKEN, AWS_REGION="us-east-2")
    source = AWSSecretsManagerSource("k", environ=env)
    assert (await source.get()).get_secret_value() == KEY_ONE
    headers = fake.requests[0]["headers"]
    assert headers["x-amz-security-token"] == SESSION_TOKEN
    assert "x-amz-security-token" in headers["authorization"]
    assert "/us-east-2/" in headers["authorization"]


@pytest.mark.parametrize(
    ("stored", "field_name"),
    [
        pytest.param(
            {"SecretString": json.dumps({"api_key": KEY_ONE, "other": "x"})}, "api_key", id="json-field"
        ),
        pytest.param({"SecretBinary": base64.b64encode(KEY_ONE.encode()).decode()}, None, id="binary"),
        pytest.param({"SecretString": f"  {KEY_ONE}\n"}, None, id="string-trimmed"),
    ],
)
async def test_aws_secret_shapes(
    aws: tuple[FakeSecretsManager, RunningServer], stored: dict[str, str], field_name: str | None
) -> None:
    fake, server = aws
    fake.secrets["s"] = stored
    source = AWSSecretsManagerSource("s", region="eu-west-1", field=field_name, environ=aws_env(server))
    assert (await source.get()).get_secret_value() == KEY_ONE


async def test_aws_value_changed_while_serving_is_picked_up_after_ttl_and_invalidate(
    aws: tuple[FakeSecretsManager, RunningServer],
) -> None:
    fake, server = aws
    fake.secrets["rot"] = {"SecretString": KEY_ONE}
    clock = FakeClock()
    source = AWSSecretsManagerSource("rot", region="eu-west-1", ttl=60, clock=clock, environ=aws_env(server))
    assert (await source.get()).get_secret_value() == KEY_ONE
    fake.secrets["rot"] = {"SecretString": KEY_TWO}
    clock.now += 30
    assert (await source.get()).get_secret_value() == KEY_ONE  # still within the TTL: from the cache
    assert len(fake.requests) == 1
    clock.now += 31
    assert (await source.get()).get_secret_value() == KEY_TWO  # TTL passed: read again
    fake.secrets["rot"] = {"SecretString": KEY_ONE}
    source.invalidate()
    assert (await source.get()).get_secret_value() == KEY_ONE  # invalidated: read at once
    assert len(fake.requests) == 3


async def test_aws_wrong_signature_is_an_error_naming_the_secret_only(
    aws: tuple[FakeSecretsManager, RunningServer],
) -> None:
    fake, server = aws
    fake.secrets["s"] = {"SecretString": KEY_ONE}
    fake.secret_access_key = "a-different-fake-secret"
    source = AWSSecretsManagerSource("s", region="eu-west-1", environ=aws_env(server))
    with pytest.raises(SecretSourceError) as caught:
        await source.get()
    text = str(caught.value)
    assert "AWS Secrets Manager" in text
    assert "'s'" in text
    assert "InvalidSignatureException" in text
    assert SECRET_ACCESS_KEY not in text
    assert isinstance(caught.value, UpstreamError)
    assert caught.value.status == 502
    # The caller-facing message names nothing internal.
    assert caught.value.message == "The gateway could not read its upstream credentials."


async def test_aws_unknown_secret(aws: tuple[FakeSecretsManager, RunningServer]) -> None:
    _, server = aws
    source = AWSSecretsManagerSource("missing", region="eu-west-1", environ=aws_env(server))
    with pytest.raises(SecretSourceError, match=r"'missing'.*HTTP 400, ResourceNotFoundException"):
        await source.get()


async def test_aws_missing_field_names_the_field_not_the_value(
    aws: tuple[FakeSecretsManager, RunningServer],
) -> None:
    fake, server = aws
    fake.secrets["s"] = {"SecretString": json.dumps({"other": KEY_ONE})}
    source = AWSSecretsManagerSource("s", region="eu-west-1", field="api_key", environ=aws_env(server))
    with pytest.raises(SecretSourceError) as caught:
        await source.get()
    assert "'api_key'" in str(caught.value)
    assert KEY_ONE not in str(caught.value)


def test_aws_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="AWS_ACCESS_KEY_ID"):
        AWSSecretsManagerSource("s", region="eu-west-1", environ={})
    creds = {"AWS_ACCESS_KEY_ID": ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY}
    with pytest.raises(ConfigurationError, match="region"):
        AWSSecretsManagerSource("s", environ=creds)
    with pytest.raises(ConfigurationError, match="https"):
        AWSSecretsManagerSource("s", region="eu-west-1", endpoint_url="http://aws.example", environ=creds)
    arn = "arn:aws:secretsmanager:ap-south-1:123456789012:secret:claude-AbCdEf"
    source = AWSSecretsManagerSource(arn, environ=creds)
    assert source.region == "ap-south-1"
    assert source.endpoint_url == "https://secretsmanager.ap-south-1.amazonaws.com"


# --- Vault ----------------------------------------------------------------------------------------


async def test_vault_reads_with_token_and_namespace(vault: tuple[FakeVault, RunningServer]) -> None:
    fake, server = vault
    fake.secrets["claude/upstream"] = {"api_key": KEY_ONE}
    source = vault_source(server, namespace="team-a")
    assert (await source.get()).get_secret_value() == KEY_ONE
    (request,) = fake.requests
    assert request["method"] == "GET"
    assert request["path"] == "/v1/secret/data/claude/upstream"
    assert request["headers"]["x-vault-token"] == VAULT_TOKEN
    assert request["headers"]["x-vault-namespace"] == "team-a"


async def test_vault_value_changed_while_serving(vault: tuple[FakeVault, RunningServer]) -> None:
    fake, server = vault
    fake.secrets["claude/upstream"] = {"api_key": KEY_ONE}
    clock = FakeClock()
    source = vault_source(server, ttl=300, clock=clock)
    assert (await source.get()).get_secret_value() == KEY_ONE
    fake.secrets["claude/upstream"] = {"api_key": KEY_TWO}
    assert (await source.get()).get_secret_value() == KEY_ONE
    source.invalidate()
    assert (await source.get()).get_secret_value() == KEY_TWO
    fake.secrets["claude/upstream"] = {"api_key": KEY_ONE}
    clock.now += 301
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert len(fake.requests) == 3


async def test_vault_token_file_is_reread_so_a_renewed_token_is_used(
    vault: tuple[FakeVault, RunningServer], tmp_path: Path
) -> None:
    fake, server = vault
    fake.secrets["claude/upstream"] = {"api_key": KEY_ONE}
    token_file = tmp_path / "vault-token"
    token_file.write_text(VAULT_TOKEN)
    source = vault_source(server, token_source=FileSecretSource(token_file), ttl=0)
    assert (await source.get()).get_secret_value() == KEY_ONE
    fake.token = "hvs.fake-renewed-token-0001"
    token_file.write_text(fake.token)
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert fake.requests[-1]["headers"]["x-vault-token"] == "hvs.fake-renewed-token-0001"


async def test_vault_refused_token_is_an_error_without_the_token(
    vault: tuple[FakeVault, RunningServer],
) -> None:
    fake, server = vault
    fake.secrets["claude/upstream"] = {"api_key": KEY_ONE}
    fake.token = "hvs.some-other-token"
    with pytest.raises(SecretSourceError) as caught:
        await vault_source(server).get()
    assert "Vault" in str(caught.value)
    assert "claude/upstream" in str(caught.value)
    assert "403" in str(caught.value)
    assert VAULT_TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("stored", "match"),
    [
        pytest.param(None, "404", id="missing"),
        pytest.param({"other": KEY_ONE}, "'api_key'", id="no-field"),
        pytest.param({"api_key": ""}, "'api_key'", id="empty-field"),
    ],
)
async def test_vault_bad_secrets(
    vault: tuple[FakeVault, RunningServer], stored: dict[str, str] | None, match: str
) -> None:
    fake, server = vault
    if stored is not None:
        fake.secrets["claude/upstream"] = stored
    with pytest.raises(SecretSourceError, match=match) as caught:
        await vault_source(server).get()
    assert KEY_ONE not in str(caught.value)


def test_vault_configuration_errors() -> None:
    token = EnvSecretSource("VAULT_TOKEN", {"VAULT_TOKEN": VAULT_TOKEN})
    with pytest.raises(ConfigurationError, match="https"):
        VaultKVSource("p", url="http://vault.example:8200", token_source=token)
    with pytest.raises(ConfigurationError, match="empty"):
        VaultKVSource("", url="https://vault.example", token_source=token)
    with pytest.raises(ConfigurationError, match="VAULT_TOKEN"):
        VaultKVSource(
            "p", url="https://vault.example", token_source="VAULT_TOKEN", environ={"VAULT_TOKEN": " "}
        )


# --- caching behaviour shared by both providers ---------------------------------------------------


async def test_concurrent_reads_share_one_request(vault: tuple[FakeVault, RunningServer]) -> None:
    fake, server = vault
    fake.secrets["claude/upstream"] = {"api_key": KEY_ONE}
    source = vault_source(server, ttl=0)
    values = await asyncio.gather(*(source.get() for _ in range(20)))
    assert {v.get_secret_value() for v in values} == {KEY_ONE}
    assert len(fake.requests) == 1


async def test_outage_keeps_the_last_good_value_unless_invalidated(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeVault(secrets={"claude/upstream": {"api_key": KEY_ONE}})
    clock = FakeClock()
    with serve(fake) as server:
        source = vault_source(server, ttl=60, clock=clock)
        assert (await source.get()).get_secret_value() == KEY_ONE
    # The server is gone now.
    clock.now += 61
    with caplog.at_level(logging.WARNING, logger="claude_guard"):
        assert (await source.get()).get_secret_value() == KEY_ONE
    assert "keeping the last value" in caplog.text
    assert KEY_ONE not in caplog.text
    source.invalidate()
    with pytest.raises(SecretSourceError, match="unreachable"):
        await source.get()


# --- choosing the source from the environment -----------------------------------------------------


def test_source_from_env_exactly_one_of_three(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CLAUDE_API_KEY_SOURCE") as none:
        source_from_env({})
    assert "CLAUDE_API_KEY_FILE" in str(none.value)
    both = {"CLAUDE_API_KEY": KEY_ONE, "CLAUDE_API_KEY_SOURCE": "vault://x"}
    with pytest.raises(ConfigurationError, match="exactly one") as caught:
        source_from_env(both)
    assert KEY_ONE not in str(caught.value)
    assert isinstance(source_from_env({"CLAUDE_API_KEY": KEY_ONE}), EnvSecretSource)
    key_file = tmp_path / "key"
    key_file.write_text(KEY_ONE)
    assert isinstance(source_from_env({"CLAUDE_API_KEY_FILE": str(key_file)}), FileSecretSource)


def test_source_from_env_aws() -> None:
    env = {
        "CLAUDE_API_KEY_SOURCE": "aws-secretsmanager://prod/claude/upstream?region=eu-west-1&field=api_key",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }
    source = source_from_env(env)
    assert isinstance(source, AWSSecretsManagerSource)
    assert (source.secret_id, source.region, source.field, source.ttl) == (
        "prod/claude/upstream",
        "eu-west-1",
        "api_key",
        0.0,
    )
    arn = "arn:aws:secretsmanager:us-west-2:123456789012:secret:claude-AbCdEf"
    source = source_from_env({**env, "CLAUDE_API_KEY_SOURCE": f"aws-secretsmanager://{quote(arn)}?ttl=30"})
    assert isinstance(source, AWSSecretsManagerSource)
    assert (source.secret_id, source.region, source.ttl) == (arn, "us-west-2", 30.0)


def test_source_from_env_vault(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(VAULT_TOKEN)
    env = {
        "CLAUDE_API_KEY_SOURCE": "vault://claude/upstream?field=key&mount=kv",
        "VAULT_ADDR": "https://vault.internal:8200/",
        "VAULT_TOKEN_FILE": str(token_file),
        "VAULT_NAMESPACE": "team-a",
    }
    source = source_from_env(env)
    assert isinstance(source, VaultKVSource)
    assert (source.path, source.mount, source.field, source.namespace, source.url) == (
        "claude/upstream",
        "kv",
        "key",
        "team-a",
        "https://vault.internal:8200",
    )
    assert isinstance(source.token_source, FileSecretSource)
    assert VAULT_TOKEN not in repr(source)


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
        pytest.param("gcp-secretmanager://p", {}, "unknown scheme", id="scheme"),
        pytest.param("not a url", {}, "aws-secretsmanager://", id="garbage"),
    ],
)
def test_source_from_url_errors(url: str, extra: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        source_from_url(url, extra)


# --- end to end: UpstreamClient against FakeClaude, the key rotated in Vault ----------------------


class SwitchableUpstream:
    """Serves whichever FakeClaude is current, so the test can rotate the key the upstream accepts."""

    def __init__(self, fake: FakeClaude) -> None:
        self.fake = fake

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.fake(scope, receive, send)


BODY = json.dumps(
    {"model": "claude-sonnet-4-6", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
).encode()


async def _call(upstream: UpstreamClient) -> int:
    response = await upstream.send("/v1/messages", BODY, {})
    try:
        await response.aread()
        return response.status_code
    finally:
        await response.aclose()


async def test_upstream_401_rereads_the_rotated_key_from_vault(
    vault: tuple[FakeVault, RunningServer],
) -> None:
    fake_vault, vault_server = vault
    fake_vault.secrets["claude/upstream"] = {"api_key": KEY_ONE}
    claude = SwitchableUpstream(FakeClaude(api_key=KEY_ONE))
    # The source does not cache (as source_from_env builds it): the client's key_refresh is the only cache,
    # an hour here, so only the 401 can explain a second read.
    source = vault_source(vault_server, ttl=0)
    with serve(claude) as claude_server:
        upstream = UpstreamClient(base_url=claude_server.url, key_source=source, key_refresh=3600)
        try:
            assert await _call(upstream) == 200
            assert claude.fake.last.headers["x-api-key"] == KEY_ONE
            # Rotation: the new key is stored in Vault and the upstream stops accepting the old one.
            fake_vault.secrets["claude/upstream"] = {"api_key": KEY_TWO}
            claude.fake = FakeClaude(api_key=KEY_TWO)
            assert await _call(upstream) == 401  # the client still holds the old key
            assert await _call(upstream) == 200  # the 401 made it read Vault again
            assert claude.fake.last.headers["x-api-key"] == KEY_TWO
        finally:
            await upstream.aclose()
    assert len(fake_vault.requests) == 2


async def test_upstream_refresh_interval_picks_up_the_rotated_key_from_aws(
    aws: tuple[FakeSecretsManager, RunningServer],
) -> None:
    fake_aws, aws_server = aws
    fake_aws.secrets["prod/claude"] = {"SecretString": json.dumps({"api_key": KEY_ONE})}
    claude = SwitchableUpstream(FakeClaude(api_key=KEY_ONE))
    source = AWSSecretsManagerSource(
        "prod/claude", region="eu-west-1", field="api_key", ttl=0, environ=aws_env(aws_server)
    )
    with serve(claude) as claude_server:
        # key_refresh=0: every call asks the source, so a rotation is seen without any 401.
        upstream = UpstreamClient(base_url=claude_server.url, key_source=source, key_refresh=0)
        try:
            assert await _call(upstream) == 200
            fake_aws.secrets["prod/claude"] = {"SecretString": json.dumps({"api_key": KEY_TWO})}
            claude.fake = FakeClaude(api_key=KEY_TWO)
            assert await _call(upstream) == 200
            assert claude.fake.last.headers["x-api-key"] == KEY_TWO
        finally:
            await upstream.aclose()


async def test_upstream_401_invalidates_a_caching_source(vault: tuple[FakeVault, RunningServer]) -> None:
    fake_vault, vault_server = vault
    fake_vault.secrets["claude/upstream"] = {"api_key": KEY_ONE}
    claude = SwitchableUpstream(FakeClaude(api_key=KEY_ONE))
    source = vault_source(vault_server, ttl=3600)
    with serve(claude) as claude_server:
        upstream = UpstreamClient(base_url=claude_server.url, key_source=source, key_refresh=3600)
        try:
            assert await _call(upstream) == 200
            fake_vault.secrets["claude/upstream"] = {"api_key": KEY_TWO}
            claude.fake = FakeClaude(api_key=KEY_TWO)
            assert await _call(upstream) == 401
            assert await _call(upstream) == 200
        finally:
            await upstream.aclose()


async def test_secret_values_never_reach_the_log(
    vault: tuple[FakeVault, RunningServer], caplog: pytest.LogCaptureFixture
) -> None:
    fake, server = vault
    fake.secrets["claude/upstream"] = {"api_key": KEY_ONE}
    with caplog.at_level(logging.DEBUG):
        source = vault_source(server, ttl=0)
        await source.get()
        fake.token = "hvs.other"
        await source.get()  # refused: the last good value is kept, with a warning
        source.invalidate()
        with pytest.raises(SecretSourceError):
            await source.get()
    assert "keeping the last value" in caplog.text
    for needle in (KEY_ONE, VAULT_TOKEN):
        assert needle not in caplog.text
    known = {secret.get_secret_value() for secret in default_registry.snapshot()}
    assert {KEY_ONE, VAULT_TOKEN} <= known  # registered for log scrubbing


async def test_aws_credentials_and_values_are_registered_for_scrubbing(
    aws: tuple[FakeSecretsManager, RunningServer],
) -> None:
    fake, server = aws
    fake.secrets["s"] = {"SecretString": KEY_TWO}
    env = aws_env(server, AWS_SESSION_TOKEN=SESSION_TOKEN)
    await AWSSecretsManagerSource("s", region="eu-west-1", environ=env).get()
    known = {secret.get_secret_value() for secret in default_registry.snapshot()}
    assert {KEY_TWO, SECRET_ACCESS_KEY, SESSION_TOKEN} <= known
