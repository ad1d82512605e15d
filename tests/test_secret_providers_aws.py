"""AWS Secrets Manager through botocore against a real local endpoint (moto in server mode), with the
credentials production uses: a shared-config profile, an SSO profile from the token cache, web identity
(IRSA, through moto's STS), a container-credentials endpoint (ECS / EKS Pod Identity) and IMDSv2, the
endpoints of the last three served here. And the SigV4 fallback used when botocore is absent, against a
fake that recomputes the signature on its own.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from moto.server import ThreadedMotoServer

from claude_guard.errors import ConfigurationError, SecretSourceError, UpstreamError
from claude_guard.logscrub import default_registry
from claude_guard.secret_providers import AWSSecretsManagerSource, probe, sign_v4, source_from_env
from claude_guard.secret_providers._sigv4 import AWSCredentials
from claude_guard.secrets import Secret
from claude_guard.testing import RunningServer, serve
from secret_fakes import Reply, Seen, fake_server

pytestmark = pytest.mark.server

# Obviously fake credentials; the access key ids are not AKIA-shaped so no scanner mistakes them.
PROFILE_KEY_ID = "FAKEPROFILEKEYID0001"
PROFILE_SECRET = "fake-profile-secret-canary-0001"
CONTAINER_KEY_ID = "FAKECONTAINERKEY0002"
CONTAINER_SECRET = "fake-container-secret-canary-0002"
CONTAINER_TOKEN = "fake-container-session-canary-0002"
POD_IDENTITY_TOKEN = "fake-pod-identity-authorization-0002"
KEY_ONE = "sk-ant-fake-aws-one-0000"
KEY_TWO = "sk-ant-fake-aws-two-0000"
REGION = "eu-west-1"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean AWS environment: no variables from the machine, no ~/.aws, no instance metadata."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    return tmp_path


def admin(moto_url: str) -> Any:
    """A botocore client of the test itself, to create and rotate secrets in moto."""
    import botocore.session

    return botocore.session.Session().create_client(
        "secretsmanager",
        region_name=REGION,
        endpoint_url=moto_url,
        aws_access_key_id="FAKEADMINKEYID000000",
        aws_secret_access_key="fake-admin-secret",
    )


def new_secret(moto_url: str, name: str, value: str) -> str:
    admin(moto_url).create_secret(Name=name, SecretString=value)
    return name


def write_profile(folder: Path, profile: str = "claude", region: str | None = REGION) -> None:
    config = f"[profile {profile}]\n" + (f"region = {region}\n" if region else "")
    (folder / "aws-config").write_text(config)
    (folder / "aws-credentials").write_text(
        f"[{profile}]\naws_access_key_id = {PROFILE_KEY_ID}\naws_secret_access_key = {PROFILE_SECRET}\n"
    )


def used_access_key(source: AWSSecretsManagerSource) -> tuple[str, str]:
    credentials = source._session.get_credentials()
    return credentials.method, credentials.get_frozen_credentials().access_key


# --- the credential chain ---------------------------------------------------------------------------------


async def test_profile_from_the_shared_config_files(
    aws_env: Path, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = new_secret(moto_url, "prod/claude/profile", KEY_ONE)
    write_profile(aws_env)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_url)
    # ?profile= in the URL; the region comes from the profile, the endpoint from botocore's per-service
    # variable.
    source = source_from_env({"CLAUDE_API_KEY_SOURCE": f"aws-secretsmanager://{name}?profile=claude"})
    assert isinstance(source, AWSSecretsManagerSource)
    assert source.region == REGION
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert used_access_key(source) == ("shared-credentials-file", PROFILE_KEY_ID)
    # AWS_PROFILE does the same without the parameter.
    monkeypatch.setenv("AWS_PROFILE", "claude")
    source = AWSSecretsManagerSource(name)
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert used_access_key(source)[1] == PROFILE_KEY_ID


async def test_web_identity_through_sts_of_the_same_server(
    aws_env: Path, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = new_secret(moto_url, "prod/claude/irsa", json.dumps({"api_key": KEY_ONE, "other": "x"}))
    token_file = aws_env / "eks-token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmYWtlIn0.ZmFrZS1zaWduYXR1cmU")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/claude-gateway")
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "claude-guard-test")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_url)
    monkeypatch.setenv(
        "AWS_REGION", REGION
    )  # what the EKS webhook sets; botocore alone reads AWS_DEFAULT_REGION
    source = source_from_env({"CLAUDE_API_KEY_SOURCE": f"aws-secretsmanager://{name}?field=api_key"})
    assert isinstance(source, AWSSecretsManagerSource)
    assert (await source.get()).get_secret_value() == KEY_ONE
    method, key_id = used_access_key(source)
    assert method == "assume-role-with-web-identity"
    assert key_id != PROFILE_KEY_ID
    # The temporary credentials are registered for log scrubbing.
    frozen = source._session.get_credentials().get_frozen_credentials()
    known = {s.get_secret_value() for s in default_registry.snapshot()}
    assert {frozen.secret_key, frozen.token} <= known


@dataclass
class ContainerCredentials:
    """The ECS / EKS Pod Identity credentials endpoint: answers with credentials when the token matches."""

    authorization: str = POD_IDENTITY_TOKEN
    seen: list[Seen] = field(default_factory=list)

    def __call__(self, request: Seen) -> Reply:
        self.seen.append(request)
        if request.headers.get("authorization") != self.authorization:
            return Reply(401, {"message": "no"})
        expiration = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Reply(
            200,
            {
                "AccessKeyId": CONTAINER_KEY_ID,
                "SecretAccessKey": CONTAINER_SECRET,
                "Token": CONTAINER_TOKEN,
                "Expiration": expiration,
            },
        )


async def test_container_credentials_endpoint(
    aws_env: Path, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = new_secret(moto_url, "prod/claude/container", KEY_ONE)
    endpoint = ContainerCredentials()
    token_file = aws_env / "pod-identity-token"
    token_file.write_text(POD_IDENTITY_TOKEN)
    with fake_server(endpoint, host="127.0.0.1") as server:
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{server.url}/v1/credentials")
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        source = AWSSecretsManagerSource(name, endpoint_url=moto_url)
        assert (await source.get()).get_secret_value() == KEY_ONE
        assert used_access_key(source) == ("container-role", CONTAINER_KEY_ID)
    assert [r.path for r in endpoint.seen] == ["/v1/credentials"]
    known = {s.get_secret_value() for s in default_registry.snapshot()}
    assert {CONTAINER_SECRET, CONTAINER_TOKEN} <= known


async def test_no_credentials_anywhere_names_the_chain_and_fails_start_up(
    aws_env: Path, moto_url: str
) -> None:
    source = AWSSecretsManagerSource("prod/claude/none", region=REGION, endpoint_url=moto_url)
    with pytest.raises(SecretSourceError, match="no AWS credentials found") as caught:
        await source.get()
    assert "web identity" in str(caught.value)
    status = await probe(source)
    assert (status.state, status.kind) == ("failed", "aws-secretsmanager")
    assert "no AWS credentials" in status.detail


# --- reading: rotation, stages, fields, errors ------------------------------------------------------------


async def test_a_rotated_secret_is_picked_up_without_restart(
    aws_env: Path, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = new_secret(moto_url, "prod/claude/rotating", KEY_ONE)
    write_profile(aws_env)
    monkeypatch.setenv("AWS_PROFILE", "claude")
    clock = FakeClock()
    source = AWSSecretsManagerSource(
        name, endpoint_url=moto_url, ttl=60, jitter=0.5, clock=clock, rng=lambda: 1.0
    )
    pending = AWSSecretsManagerSource(name, endpoint_url=moto_url, version_stage="AWSPENDING", ttl=0)
    assert (await source.get()).get_secret_value() == KEY_ONE
    # Rotation, as a rotation Lambda does it: first the new value as AWSPENDING (readable by its stage)...
    client = admin(moto_url)
    client.put_secret_value(SecretId=name, SecretString=KEY_TWO, VersionStages=["AWSPENDING"])
    assert (await pending.get()).get_secret_value() == KEY_TWO
    assert (await source.get()).get_secret_value() == KEY_ONE
    # ...then AWSCURRENT. (moto's update_secret_version_stage leaves GetSecretValue on the old version, so the
    # promotion is done by writing the value as the new current version.)
    client.put_secret_value(SecretId=name, SecretString=KEY_TWO)
    clock.now += 29  # jitter 0.5 with rng 1.0: the refresh comes at 30 s, not 60
    assert (await source.get()).get_secret_value() == KEY_ONE
    clock.now += 1
    assert (await source.get()).get_secret_value() == KEY_TWO
    previous = AWSSecretsManagerSource(name, endpoint_url=moto_url, version_stage="AWSPREVIOUS")
    assert (await previous.get()).get_secret_value() == KEY_ONE


@pytest.mark.parametrize(
    ("stored", "field_name"),
    [
        pytest.param({"SecretString": json.dumps({"api_key": KEY_ONE})}, "api_key", id="json-field"),
        pytest.param({"SecretBinary": KEY_ONE.encode()}, None, id="binary"),
        pytest.param({"SecretString": f"  {KEY_ONE}\n"}, None, id="string-trimmed"),
    ],
)
async def test_secret_shapes(
    aws_env: Path,
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    stored: dict[str, Any],
    field_name: str | None,
) -> None:
    name = f"shapes/{request.node.callspec.id}"
    admin(moto_url).create_secret(Name=name, **stored)
    write_profile(aws_env)
    monkeypatch.setenv("AWS_PROFILE", "claude")
    source = AWSSecretsManagerSource(name, endpoint_url=moto_url, field=field_name)
    assert (await source.get()).get_secret_value() == KEY_ONE


async def test_unknown_secret_and_missing_field_name_the_secret_never_the_value(
    aws_env: Path, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_profile(aws_env)
    monkeypatch.setenv("AWS_PROFILE", "claude")
    with pytest.raises(
        SecretSourceError, match=r"'missing/secret'.*HTTP 4\d\d, ResourceNotFoundException"
    ) as e:
        await AWSSecretsManagerSource("missing/secret", endpoint_url=moto_url).get()
    assert isinstance(e.value, UpstreamError)
    assert e.value.status == 502
    assert e.value.message == "The gateway could not read its upstream credentials."
    name = new_secret(moto_url, "fields/other", json.dumps({"other": KEY_ONE}))
    with pytest.raises(SecretSourceError, match="'api_key'") as caught:
        await AWSSecretsManagerSource(name, endpoint_url=moto_url, field="api_key").get()
    assert KEY_ONE not in str(caught.value)
    assert PROFILE_SECRET not in str(caught.value)


async def test_unreachable_endpoint(aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_profile(aws_env)
    monkeypatch.setenv("AWS_PROFILE", "claude")
    with fake_server(lambda r: Reply(200, {}), host="127.0.0.1") as server:
        url = server.url  # a port that was just freed: nothing listens there afterwards
    source = AWSSecretsManagerSource("x", endpoint_url=url, timeout=2)
    with pytest.raises(SecretSourceError, match="AWS unreachable"):
        await source.get()


def test_region_resolution(aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = "arn:aws:secretsmanager:ap-south-1:123456789012:secret:claude-AbCdEf"
    assert AWSSecretsManagerSource(arn).region == "ap-south-1"
    assert AWSSecretsManagerSource(arn, region="us-east-2").region == "us-east-2"
    with pytest.raises(ConfigurationError, match="no region"):
        AWSSecretsManagerSource("plain-name")
    write_profile(aws_env, region="ca-central-1")
    assert AWSSecretsManagerSource("plain-name", profile="claude").region == "ca-central-1"
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    assert AWSSecretsManagerSource("plain-name").region == "sa-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    assert AWSSecretsManagerSource("plain-name").region == "eu-north-1"  # botocore's own variable first
    with pytest.raises(ConfigurationError, match="profile 'nope'"):
        AWSSecretsManagerSource("plain-name", profile="nope")


def test_endpoint_must_be_https_unless_loopback(aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="https"):
        AWSSecretsManagerSource("s", region=REGION, endpoint_url="http://aws.example")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://aws.example:4566")
    with pytest.raises(ConfigurationError, match="https"):
        AWSSecretsManagerSource("s", region=REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://vpce-0123.secretsmanager.eu-west-1.vpce.amazonaws.com")
    assert AWSSecretsManagerSource("s", region=REGION).describe().details[0] == ("region", REGION)


# --- the fallback without botocore: SigV4 written here, static credentials --------------------------------

ACCESS_KEY_ID = "AKIDEXAMPLE"
SECRET_ACCESS_KEY = "fake-aws-secret-access-key-canary-0000"
SESSION_TOKEN = "fake-aws-session-token-canary-0000"
AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<akid>[A-Z0-9]+)/(?P<day>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})"
)


@pytest.fixture
def no_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    """The [aws] extra absent: importing botocore fails."""
    for name in ("botocore", "botocore.session", "botocore.exceptions"):
        monkeypatch.setitem(sys.modules, name, None)


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


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _json(send: Any, status: int, payload: Any) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


@dataclass
class FakeSecretsManager:
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    secret_access_key: str = SECRET_ACCESS_KEY
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await _body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.requests.append({"headers": headers, "body": body, "path": scope["path"]})
        if headers.get("x-amz-target") != "secretsmanager.GetSecretValue":
            await _json(send, 400, {"__type": "UnknownOperationException"})
            return
        match = AUTHORIZATION.fullmatch(headers.get("authorization", ""))
        if match is None:
            await _json(send, 400, {"__type": "IncompleteSignatureException"})
            return
        signature = expected_signature("POST", "/", headers, body, self.secret_access_key)
        if not hmac.compare_digest(signature, match["sig"]):
            await _json(send, 403, {"__type": "InvalidSignatureException", "message": "no"})
            return
        secret_id = json.loads(body)["SecretId"]
        if secret_id not in self.secrets:
            await _json(send, 400, {"__type": "com.amazonaws.secretsmanager#ResourceNotFoundException"})
            return
        await _json(send, 200, {"Name": secret_id, **self.secrets[secret_id]})


@pytest.fixture
def fake_aws() -> Iterator[tuple[FakeSecretsManager, RunningServer]]:
    fake = FakeSecretsManager()
    with serve(fake) as server:
        yield fake, server


def static_env(server: RunningServer, **extra: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_ENDPOINT_URL": server.url,
        **extra,
    }


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


async def test_fallback_without_botocore_signs_itself(
    no_botocore: None, fake_aws: tuple[FakeSecretsManager, RunningServer], caplog: pytest.LogCaptureFixture
) -> None:
    fake, server = fake_aws
    fake.secrets["prod/claude"] = {"SecretString": json.dumps({"api_key": KEY_ONE})}
    env = static_env(server, AWS_SESSION_TOKEN=SESSION_TOKEN, AWS_REGION="us-east-2")
    source = AWSSecretsManagerSource("prod/claude", field="api_key", environ=env)
    assert not source.uses_botocore
    assert "install claude-guard[aws]" in caplog.text
    assert (await source.get()).get_secret_value() == KEY_ONE
    headers = fake.requests[0]["headers"]
    assert headers["x-amz-security-token"] == SESSION_TOKEN
    assert "/us-east-2/secretsmanager/" in headers["authorization"]
    known = {s.get_secret_value() for s in default_registry.snapshot()}
    assert {SECRET_ACCESS_KEY, SESSION_TOKEN} <= known
    fake.secrets["b"] = {"SecretBinary": base64.b64encode(KEY_TWO.encode()).decode()}
    assert (await AWSSecretsManagerSource("b", environ=env).get()).get_secret_value() == KEY_TWO


async def test_fallback_wrong_signature_and_configuration_errors(
    no_botocore: None, fake_aws: tuple[FakeSecretsManager, RunningServer]
) -> None:
    fake, server = fake_aws
    fake.secrets["s"] = {"SecretString": KEY_ONE}
    fake.secret_access_key = "a-different-fake-secret"
    source = AWSSecretsManagerSource("s", region=REGION, environ=static_env(server))
    with pytest.raises(SecretSourceError, match="InvalidSignatureException") as caught:
        await source.get()
    assert SECRET_ACCESS_KEY not in str(caught.value)
    with pytest.raises(ConfigurationError, match=r"AWS_ACCESS_KEY_ID.*claude-guard\[aws\]"):
        AWSSecretsManagerSource("s", region=REGION, environ={})


async def test_botocore_signature_is_accepted_by_the_independent_verifier(
    aws_env: Path, fake_aws: tuple[FakeSecretsManager, RunningServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore's own signing, checked by the spec-written verifier too (and fixed credentials in code)."""
    fake, server = fake_aws
    fake.secrets["s"] = {"SecretString": KEY_ONE}
    creds = AWSCredentials(ACCESS_KEY_ID, Secret(SECRET_ACCESS_KEY), Secret(SESSION_TOKEN))
    source = AWSSecretsManagerSource("s", region=REGION, endpoint_url=server.url, credentials=creds)
    assert source.uses_botocore
    assert (await source.get()).get_secret_value() == KEY_ONE
    assert fake.requests[-1]["headers"]["x-amz-security-token"] == SESSION_TOKEN
    # Credentials from a callable are asked for at every read: rotated ones are used at once.
    current = [creds]
    rotating = AWSSecretsManagerSource(
        "s", region=REGION, endpoint_url=server.url, credentials=lambda: current[0], ttl=0
    )
    assert (await rotating.get()).get_secret_value() == KEY_ONE
    fake.secret_access_key = "fake-rotated-secret-access-key-0001"
    current[0] = AWSCredentials(ACCESS_KEY_ID, Secret(fake.secret_access_key))
    assert (await rotating.get()).get_secret_value() == KEY_ONE
    assert "x-amz-security-token" not in fake.requests[-1]["headers"]
    await rotating.aclose()


async def test_concurrent_reads_share_one_botocore_call(
    aws_env: Path, fake_aws: tuple[FakeSecretsManager, RunningServer]
) -> None:
    fake, server = fake_aws
    fake.secrets["s"] = {"SecretString": KEY_ONE}
    creds = AWSCredentials(ACCESS_KEY_ID, Secret(SECRET_ACCESS_KEY))
    source = AWSSecretsManagerSource("s", region=REGION, endpoint_url=server.url, credentials=creds, ttl=0)
    values = await asyncio.gather(*(source.get() for _ in range(20)))
    assert {v.get_secret_value() for v in values} == {KEY_ONE}
    assert len(fake.requests) == 1
    await source.aclose()


DUPLICATE = f'{{"api_key": "{KEY_ONE}", "api_key": "{KEY_TWO}"}}'
NESTED = f'{{"api_key": "{KEY_ONE}", "meta": {{"api_key": "{KEY_TWO}"}}}}'


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        pytest.param(DUPLICATE, None, id="duplicate-field"),
        pytest.param(NESTED, KEY_ONE, id="nested"),
        pytest.param("\ufeff" + json.dumps({"api_key": KEY_ONE}), KEY_ONE, id="bom"),
        pytest.param(json.dumps([KEY_ONE]), None, id="not-an-object"),
    ],
)
async def test_json_fields_that_are_ambiguous_are_refused(
    aws_env: Path,
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    stored: str,
    expected: str | None,
) -> None:
    write_profile(aws_env)
    monkeypatch.setenv("AWS_PROFILE", "claude")
    name = new_secret(moto_url, f"json/{request.node.callspec.id}", stored)
    source = AWSSecretsManagerSource(name, endpoint_url=moto_url, field="api_key")
    if expected is not None:
        assert (await source.get()).get_secret_value() == expected
        return
    with pytest.raises(SecretSourceError, match="'api_key'") as caught:
        await source.get()
    assert KEY_ONE not in str(caught.value)
    assert KEY_TWO not in str(caught.value)


# --- IMDSv2 and IAM Identity Center (SSO), with their endpoints served here --------------------------------

IMDS_KEY_ID = "FAKEINSTANCEKEYID003"
IMDS_SECRET = "fake-instance-secret-canary-0003"
SSO_KEY_ID = "FAKESSOROLEKEYID0004"
SSO_SECRET = "fake-sso-role-secret-canary-0004"
SSO_ACCESS_TOKEN = "fake-sso-portal-access-token-0004"


@dataclass
class InstanceMetadata:
    """EC2's instance metadata service, v2 only: every GET needs the session token from a PUT."""

    token: str = "fake-imds-session-token-0003"
    seen: list[Seen] = field(default_factory=list)

    def __call__(self, request: Seen) -> Reply:
        self.seen.append(request)
        if request.method == "PUT" and request.path == "/latest/api/token":
            if not request.headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
                return Reply(400, "missing ttl")
            return Reply(200, self.token)
        if request.headers.get("x-aws-ec2-metadata-token") != self.token:
            return Reply(401, "IMDSv1 is disabled")
        expiration = (datetime.now(UTC) + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
        answers: dict[str, Any] = {
            "/latest/meta-data/placement/availability-zone/": "eu-west-1b",
            "/latest/meta-data/iam/security-credentials/": "claude-gateway-role",
            "/latest/meta-data/iam/security-credentials/claude-gateway-role": {
                "Code": "Success",
                "Type": "AWS-HMAC",
                "AccessKeyId": IMDS_KEY_ID,
                "SecretAccessKey": IMDS_SECRET,
                "Token": "fake-instance-session-0003",
                "Expiration": expiration,
                "LastUpdated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }
        if request.path not in answers:
            return Reply(404, "not found")
        return Reply(200, answers[request.path])


async def test_instance_profile_through_imdsv2_with_its_region(
    aws_env: Path, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = new_secret(moto_url, "prod/claude/ec2", KEY_ONE)
    imds = InstanceMetadata()
    with fake_server(imds, host="127.0.0.1") as server:
        monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url + "/")
        source = AWSSecretsManagerSource(name, endpoint_url=moto_url)
        assert source.region == "eu-west-1"  # from the availability zone IMDS gave
        assert (await source.get()).get_secret_value() == KEY_ONE
        assert used_access_key(source) == ("iam-role", IMDS_KEY_ID)
    assert any(r.method == "PUT" for r in imds.seen)
    assert all(
        r.headers.get("x-aws-ec2-metadata-token") == imds.token for r in imds.seen if r.method == "GET"
    )


@dataclass
class SSOPortal:
    """IAM Identity Center's portal API: role credentials for the cached access token."""

    seen: list[Seen] = field(default_factory=list)

    def __call__(self, request: Seen) -> Reply:
        self.seen.append(request)
        if request.path != "/federation/credentials":
            return Reply(404, {"message": "no"})
        if request.headers.get("x-amz-sso_bearer_token") != SSO_ACCESS_TOKEN:
            return Reply(401, {"message": "Session token not found or invalid"})
        expiration = int((time.time() + 3600) * 1000)
        return Reply(
            200,
            {
                "roleCredentials": {
                    "accessKeyId": SSO_KEY_ID,
                    "secretAccessKey": SSO_SECRET,
                    "sessionToken": "fake-sso-session-0004",
                    "expiration": expiration,
                }
            },
        )


async def test_sso_profile_from_the_token_cache(
    aws_env: Path, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = new_secret(moto_url, "prod/claude/sso", KEY_ONE)
    (aws_env / "aws-config").write_text(
        "[profile claude-sso]\n"
        "sso_session = corp\n"
        "sso_account_id = 123456789012\n"
        "sso_role_name = ClaudeGateway\n"
        "region = eu-west-1\n"
        "[sso-session corp]\n"
        "sso_start_url = https://corp-fake.awsapps.com/start\n"
        "sso_region = eu-west-1\n"
    )
    # What `aws sso login --sso-session corp` leaves behind: ~/.aws/sso/cache/<sha1 of the session name>.json
    home = aws_env / "home"
    cache = home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    expires = (datetime.now(UTC) + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (cache / f"{hashlib.sha1(b'corp').hexdigest()}.json").write_text(
        json.dumps(
            {
                "startUrl": "https://corp-fake.awsapps.com/start",
                "region": "eu-west-1",
                "accessToken": SSO_ACCESS_TOKEN,
                "expiresAt": expires,
            }
        )
    )
    # botocore computes ~/.aws/sso/cache once, at import: point that constant at the test's home.
    import botocore.credentials
    import botocore.tokens

    monkeypatch.setattr(botocore.tokens.SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    portal = SSOPortal()
    with fake_server(portal, host="127.0.0.1") as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", server.url)
        source = source_from_env(
            {"CLAUDE_API_KEY_SOURCE": f"aws-secretsmanager://{name}?profile=claude-sso&endpoint={moto_url}"}
        )
        assert isinstance(source, AWSSecretsManagerSource)
        assert (await source.get()).get_secret_value() == KEY_ONE
        assert used_access_key(source) == ("sso", SSO_KEY_ID)
    (request,) = portal.seen
    assert parse_qs(request.query) == {"role_name": ["ClaudeGateway"], "account_id": ["123456789012"]}
