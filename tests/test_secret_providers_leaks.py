"""No source's value (nor a credential it uses) appears in any log line, error or span.

Every source is driven through success, rotation, refusals and malformed answers with every logger at every
level (the SDKs' own loggers included, even those that do not propagate), spans recorded, and every error
kept. Then each canary is searched for in all of it. A companion test proves the capture works: the values
did travel, the SDK loggers did log, the spans were made.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from claude_guard import ClaudeGuard, GuardSettings
from claude_guard.errors import GuardError
from claude_guard.reference_app import create_app
from claude_guard.secret_providers import (
    AWSSecretsManagerSource,
    CachedSecretSource,
    MountedSecretFileSource,
    VaultAppRoleAuth,
    VaultKVSource,
    ensure_source_answers,
    probe,
)
from claude_guard.secrets import EnvSecretSource
from claude_guard.testing import ErrorResponse, FakeClaude, serve
from secret_fakes import fake_server
from test_secret_providers_aws import admin, new_secret, write_profile
from test_secret_providers_cloud import (
    CLIENT_SECRET,
    FakeAzure,
    FakeGoogle,
    azure_env,
    azure_source,
    google_source,
    service_account_file,
)
from test_secret_providers_files import SecretVolume
from test_secret_providers_vault import ROLE_ID, FakeVault
from test_secret_providers_vault import FakeClock as VaultClock

pytestmark = pytest.mark.server

# Canaries: obviously fake, assembled at run time.
VALUE = "sk-ant-" + "fake-provider-canary-" + "V" * 12
ROTATED = "sk-ant-" + "fake-provider-canary-" + "R" * 12
VAULT_SECRET_ID = "fake-approle-" + "S" * 16
SDK_LOGGERS = ("botocore", "urllib3", "azure", "msal", "google", "httpx", "httpcore", "claude_guard")


@dataclass
class Capture:
    records: list[logging.LogRecord] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    exporter: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    provider: TracerProvider = field(default_factory=TracerProvider)

    def __post_init__(self) -> None:
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def traced(self, source: Any) -> Any:
        source.tracer_provider = self.provider
        return source

    async def attempt(self, source: Any) -> str | None:
        try:
            return (await source.get()).get_secret_value()
        except GuardError as exc:
            self.errors.append(exc)
            return None

    def texts(self) -> list[str]:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        out = []
        for record in self.records:
            out.append(formatter.format(record))
            out.append(repr(record.args))
            out.append(repr(vars(record)))
        for error in self.errors:
            out += [str(error), repr(error), str(getattr(error, "message", "")), repr(vars(error))]
        for span in self.exporter.get_finished_spans():
            out.append(span.to_json())
        return out

    def assert_clean(self, *canaries: str) -> None:
        assert self.records, "nothing was logged: the capture is broken"
        for text in self.texts():
            for canary in canaries:
                assert canary not in text, f"a canary leaked: {text[:400]}"


class _Keep(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(0)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@contextmanager
def everything_logged() -> Iterator[Capture]:
    capture = Capture()
    handler = _Keep(capture.records)
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in SDK_LOGGERS)]
    saved = [(lg, lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.setLevel(0)
        lg.addHandler(handler)
        lg.propagate = lg is logging.getLogger()  # each record reaches the handler once, wherever logged
    try:
        yield capture
    finally:
        for lg, level, propagate in saved:
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate


def spans_of(capture: Capture, kind: str) -> list[Any]:
    return [
        s
        for s in capture.exporter.get_finished_spans()
        if s.attributes and s.attributes.get("claude_guard.secret_source.kind") == kind
    ]


# --- per source -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


async def test_aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_PROFILE", "claude")
    write_profile(tmp_path)
    from test_secret_providers_aws import PROFILE_SECRET

    name = new_secret(moto_url, "leaks/aws", json.dumps({"api_key": VALUE, "note": VALUE}))
    with everything_logged() as capture:
        source = capture.traced(AWSSecretsManagerSource(name, endpoint_url=moto_url, field="api_key", ttl=0))
        assert await capture.attempt(source) == VALUE
        admin(moto_url).put_secret_value(SecretId=name, SecretString=json.dumps({"api_key": ROTATED}))
        assert await capture.attempt(source) == ROTATED
        wrong_field = capture.traced(AWSSecretsManagerSource(name, endpoint_url=moto_url, field="nope"))
        assert await capture.attempt(wrong_field) is None
        assert (await probe(wrong_field)).state == "failed"
        missing = capture.traced(AWSSecretsManagerSource("leaks/none", endpoint_url=moto_url))
        assert await capture.attempt(missing) is None
    capture.assert_clean(VALUE, ROTATED, PROFILE_SECRET)
    assert any(r.name.startswith("botocore") for r in capture.records)  # botocore did log
    assert {
        s.attributes["claude_guard.secret_source.outcome"] for s in spans_of(capture, "aws-secretsmanager")
    } == {
        "read",
        "failed",
    }


async def test_vault(tmp_path: Path) -> None:
    clock = VaultClock()
    fake = FakeVault(clock, kv2={"claude/upstream": {"api_key": VALUE}}, secret_id=VAULT_SECRET_ID)
    with fake_server(fake, host="127.0.0.1") as server, everything_logged() as capture:
        auth = VaultAppRoleAuth(role_id=ROLE_ID, secret_id=EnvSecretSource("S", {"S": VAULT_SECRET_ID}))
        source = capture.traced(
            VaultKVSource("claude/upstream", url=server.url, auth=auth, ttl=0, clock=clock)
        )
        assert await capture.attempt(source) == VALUE
        clock.now += 45
        fake.kv2["claude/upstream"] = {"api_key": ROTATED}
        assert await capture.attempt(source) == ROTATED  # after a renewal
        fake.revoke_all()
        assert await capture.attempt(source) == ROTATED  # after a 403 and a new login
        fake.kv2["claude/upstream"] = {"other": VALUE}
        source.invalidate()
        assert await capture.attempt(source) is None
    assert fake.renewals == 1
    assert fake.logins == ["approle", "approle"]
    issued = [t for t in fake.tokens if t.startswith("hvs.fake-issued")]
    assert issued
    capture.assert_clean(VALUE, ROTATED, VAULT_SECRET_ID, *issued)
    assert any(r.name.startswith(("httpx", "httpcore")) for r in capture.records)
    assert spans_of(capture, "vault")


async def test_azure(trusted: trustme.CA, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeAzure(secrets={"anthropic-key": [VALUE]})
    with fake_server(fake, tls=trusted, host="127.0.0.1") as server, everything_logged() as capture:
        fake.url = server.url
        azure_env(monkeypatch, server)
        monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
        source = capture.traced(azure_source(server))
        source.ttl = 0
        assert await capture.attempt(source) == VALUE
        fake.secrets["anthropic-key"].append(ROTATED)
        assert await capture.attempt(source) == ROTATED
        assert await capture.attempt(capture.traced(azure_source(server, "missing"))) is None
        fake.allowed = False
        assert await capture.attempt(capture.traced(azure_source(server))) is None
    capture.assert_clean(VALUE, ROTATED, CLIENT_SECRET, *fake.tokens)
    assert any(r.name.startswith(("azure", "msal")) for r in capture.records)
    assert spans_of(capture, "azure-keyvault")


async def test_google(trusted: trustme.CA, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Google's structured client logging on: its REST transport would log whole answers, payload included.
    monkeypatch.setenv("GOOGLE_SDK_PYTHON_LOGGING_SCOPE", "google")
    fake = FakeGoogle(versions={"projects/prod-ai/secrets/anthropic-key": [VALUE.encode()]})
    with fake_server(fake, tls=trusted, host="127.0.0.1") as server, everything_logged() as capture:
        fake.url = server.url
        key_file = service_account_file(fake, tmp_path)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
        private_key_body = json.loads(key_file.read_text())["private_key"].splitlines()[1]
        source = capture.traced(google_source(server, ttl="0"))
        assert await capture.attempt(source) == VALUE
        fake.versions["projects/prod-ai/secrets/anthropic-key"].append(ROTATED.encode())
        assert await capture.attempt(source) == ROTATED
        fake.corrupt = True
        assert await capture.attempt(source) == ROTATED  # checksum wrong: the last good value is kept
        assert await capture.attempt(capture.traced(google_source(server, field="api_key"))) is None
    import base64

    encoded = [base64.b64encode(v.encode()).decode() for v in (VALUE, ROTATED)]
    capture.assert_clean(VALUE, ROTATED, private_key_body, *encoded)
    assert any(r.name.startswith(("google", "urllib3")) for r in capture.records)
    outcomes = {
        s.attributes["claude_guard.secret_source.outcome"] for s in spans_of(capture, "gcp-secretmanager")
    }
    assert outcomes == {"read", "kept_last_value", "failed"}


async def test_kubernetes_file(tmp_path: Path) -> None:
    volume = SecretVolume(tmp_path / "claude")
    volume.root.mkdir()
    volume.publish(api_key=VALUE)
    with everything_logged() as capture:
        source = capture.traced(MountedSecretFileSource(volume.root / "api_key", watch_interval=0))
        assert await capture.attempt(source) == VALUE
        volume.publish(api_key=ROTATED)
        assert await capture.attempt(source) == ROTATED
        (volume.root / "api_key").unlink()
        assert await capture.attempt(source) == ROTATED  # missing during a swap: kept, with a warning
        source.invalidate()
        assert await capture.attempt(source) is None
        try:
            await ensure_source_answers(source)
        except GuardError as exc:
            capture.errors.append(exc)
    capture.assert_clean(VALUE, ROTATED)
    assert len(capture.errors) == 2


# --- through the gateway: a provider's key echoed back by the upstream is masked --------------------------


async def test_gateway_masks_a_provider_key_the_upstream_echoes(tmp_path: Path) -> None:
    """The guard gives provider sources to the upstream client unwrapped (they register what they read):
    the key they return must still be masked wherever the upstream echoes it."""
    import httpx

    volume = SecretVolume(tmp_path / "claude")
    volume.root.mkdir()
    volume.publish(api_key=VALUE)
    fake = FakeClaude(api_key=VALUE)
    with serve(fake) as upstream, everything_logged() as capture:
        settings = GuardSettings.from_env({"CLAUDE_API_KEY_FILE": str(volume.root / "api_key")})
        assert isinstance(settings.api_key_source, CachedSecretSource)
        guard = ClaudeGuard(
            settings=GuardSettings(api_key_source=settings.api_key_source, api_url=upstream.url)
        )
        admin_key = (await guard.keys.create(profile="admin", environment="development")).key
        app = create_app(guard)
        bodies = []
        async with (
            guard.lifespan(),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
        ):
            for status in (401, 500, 400):
                fake.enqueue(ErrorResponse(status, message=f"upstream echoes {VALUE}"))
                response = await client.post(
                    "/v1/messages",
                    headers={"x-api-key": admin_key},
                    json={
                        "model": "claude-sonnet-4-6",
                        "max_tokens": 8,
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                )
                bodies.append(response.text)
                logging.getLogger("claude_guard").warning("upstream said %s", response.text)
        await guard.aclose()
    assert fake.requests  # the key did travel upstream
    assert all(VALUE not in body for body in bodies)
    capture.assert_clean(VALUE)


@pytest.fixture
def trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    import os

    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    for name in list(os.environ):
        if name.startswith(("AZURE_", "GOOGLE_", "CLOUDSDK_", "MSI_", "IDENTITY_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    return ca
