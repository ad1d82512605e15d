"""``claude-guard check``: a deliberately bad configuration fails with every problem named; the reference
gateway's production configuration passes; the JSON report keeps its shape."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from claude_guard._cli_check import key_shaped_literals, run_checks
from claude_guard.cli import main
from claude_guard.keys._keys import ClientKey, generate_key
from claude_guard.keys._store import KeyStore
from claude_guard.store import MemoryStore, StoreConfig, store_from_url
from conftest import REDIS_URL

ROOT = Path(__file__).resolve().parent.parent
IDS = [
    "upstream_key",
    "https",
    "least_privilege",
    "cost_limits",
    "validation",
    "error_hygiene",
    "audit_logging",
    "rate_limits",
    "pii",
    "key_rotation",
    "monitoring",
    "incident_response",
]


def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("CLAUDE_", "OTEL_")):
            monkeypatch.delenv(name)


def _jwt() -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return (
        part({"alg": "HS256", "typ": "JWT"})
        + "."
        + part({"sub": "svc-7731", "iat": 1700000000})
        + ".Q" * 1
        + "s9" * 20
    )


def _aws_like_key() -> str:
    # Built at run time so no scanner sees a literal here.
    return "AKIA" + "Q7" * 8


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["check", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


BAD_APP = """
from starlette.applications import Starlette
from claude_guard.keys import APIKeyMiddleware
from claude_guard.keys._authenticator import KeyAuthenticator
from claude_guard.keys._store import KeyStore
from claude_guard.store import MemoryStore

app = Starlette()
keys = KeyAuthenticator(KeyStore(MemoryStore()), environment="production")
app.add_middleware(APIKeyMiddleware, authenticator=keys)
"""


def test_a_bad_configuration_fails_with_every_problem_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _clean_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)  # no SECURITY.md here
    source = tmp_path / "service"
    source.mkdir()
    (source / "settings.py").write_text(f'UPSTREAM = "{_aws_like_key()}"\n', encoding="utf-8")
    (source / "badapp.py").write_text(BAD_APP, encoding="utf-8")
    profiles = tmp_path / "profiles.toml"
    profiles.write_text('[profiles.open]\nrate_limits = "10/minute"\n[profiles.loose]\ntools = ["Read"]\n')
    keys_file = tmp_path / "keys.json"

    async def old_key() -> None:
        issued = generate_key("production")
        record = ClientKey(
            key_id=issued.key_id,
            key_hash=issued.record.key_hash,
            profile="loose",
            environment="production",
            created_at=time.time() - 120 * 86400,
        )
        await KeyStore(MemoryStore(), keys_file=keys_file).put(record)

    asyncio.run(old_key())
    env = {
        "CLAUDE_GUARD_ENV": "production",
        "CLAUDE_API_URL": "http://127.0.0.1:9",
        "CLAUDE_GUARD_PROFILES_FILE": str(profiles),
        "CLAUDE_MAX_COST": "0",
        "CLAUDE_GUARD_VALIDATION_MODE": "off",
        "CLAUDE_GUARD_PROFILE_MODE": "off",
        "CLAUDE_GUARD_RATE_LIMIT_MODE": "off",
        "CLAUDE_GUARD_BUDGET_MODE": "shadow",
        "CLAUDE_GUARD_AUDIT_RETENTION_DAYS": "0",
        "CLAUDE_GUARD_PII": "off",
        "CLAUDE_GUARD_KEYS_FILE": str(keys_file),
        "CLAUDE_GUARD_KEY_MAX_AGE_DAYS": "365",
        "CLAUDE_GUARD_AUDIT_DB": str(tmp_path / "audit.db"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # A service started with the key on its command line.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; time.sleep(60)", "--api-key", _aws_like_key()]
    )
    try:
        code, report = _check(
            capsys,
            "--pid",
            str(holder.pid),
            "--source",
            str(source),
            "--app",
            "badapp:app",
            "--app-dir",
            str(source),
        )
    finally:
        holder.terminate()
        holder.wait()
    assert code == 1
    assert report["status"] == "fail"
    by_id = {c["id"]: c for c in report["checks"]}
    assert [c["id"] for c in report["checks"]] == IDS
    assert {i for i, c in by_id.items() if c["status"] == "fail"} == set(IDS)
    expected_words = {
        "upstream_key": ["No upstream Claude key", "argument 4 of process", "settings.py:1"],
        "https": ["http:// on a loopback host"],
        "least_privilege": ["without a tool allow-list: open", "CLAUDE_GUARD_PROFILE_MODE=off"],
        "cost_limits": ["no maximum cost", "no profile has a USD budget", "CLAUDE_GUARD_BUDGET_MODE=shadow"],
        "validation": ["CLAUDE_GUARD_VALIDATION_MODE=off"],
        "error_hygiene": ["no safe-error boundary", "the app given"],
        "audit_logging": ["kept forever", "not tamper-evident"],
        "rate_limits": ["without rate limits: loose", "CLAUDE_GUARD_RATE_LIMIT_MODE=off"],
        "pii": ["CLAUDE_GUARD_PII=off"],
        "key_rotation": ["older than 90 days", "without an expiry", "past 90 days"],
        "monitoring": ["no exporter"],
        "incident_response": ["no SECURITY.md"],
    }
    for check_id, words in expected_words.items():
        for word in words:
            assert word in by_id[check_id]["detail"], (check_id, word, by_id[check_id]["detail"])
        assert by_id[check_id]["fix"]
    # The report names places, never the literal.
    assert _aws_like_key() not in json.dumps(report)


def _write_secret(tmp: Path, name: str, value: str) -> str:
    path = tmp / name
    path.write_text(value + "\n", encoding="utf-8")
    return str(path)


def _production_environment(tmp_path: Path, key_prefix: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in (ROOT / "examples/fastapi_app/production.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    # The platform's mounts and services, as a test provides them.
    env["CLAUDE_API_KEY_FILE"] = _write_secret(tmp_path, "claude_api_key", "sk-ant-" + "fake-production-key")
    env["CLAUDE_GUARD_PII_KEY_FILE"] = _write_secret(
        tmp_path, "pii", base64.b64encode(os.urandom(32)).decode()
    )
    vault = base64.urlsafe_b64encode(os.urandom(32)).decode()
    env["CLAUDE_GUARD_VAULT_KEY_FILE"] = _write_secret(tmp_path, "vault", f"v1:{vault}")
    env["CLAUDE_GUARD_AUDIT_KEY_FILE"] = _write_secret(tmp_path, "audit", os.urandom(32).hex())
    env["CLAUDE_GUARD_STORAGE_URL"] = REDIS_URL
    env["CLAUDE_GUARD_STORAGE_PREFIX"] = key_prefix
    env["CLAUDE_GUARD_PROFILES_FILE"] = str(ROOT / env["CLAUDE_GUARD_PROFILES_FILE"])
    return env


def test_the_reference_gateway_production_configuration_passes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    key_prefix: str,
) -> None:
    _clean_environment(monkeypatch)
    for name, value in _production_environment(tmp_path, key_prefix).items():
        monkeypatch.setenv(name, value)

    async def keys() -> None:
        store = store_from_url(REDIS_URL, config=StoreConfig(prefix=key_prefix))
        try:
            await KeyStore(store).create(profile="analysis", environment="production", expires_in=30 * 86400)
        finally:
            await store.aclose()

    asyncio.run(keys())
    try:
        code, report = _check(capsys, "--source", str(ROOT / "examples/fastapi_app"))
        assert [(c["id"], c["status"], c["detail"]) for c in report["checks"] if c["status"] != "pass"] == []
        assert code == 0 and report["status"] == "pass"
        assert report["summary"] == {"pass": 12, "warn": 0, "fail": 0}
        # The table is the same verdict for people.
        capsys.readouterr()
        assert main(["check", "--source", str(ROOT / "examples/fastapi_app")]) == 0
        table = capsys.readouterr().out
        assert table.rstrip().endswith("PASS: 12 pass, 0 warn, 0 fail")
    finally:

        async def cleanup() -> None:
            store = store_from_url(REDIS_URL, config=StoreConfig(prefix=key_prefix))
            client = store.client  # type: ignore[attr-defined]
            found = [k async for k in client.scan_iter(match=f"{key_prefix}*", count=1000)]
            if found:
                await client.delete(*found)
            await store.aclose()

        asyncio.run(cleanup())


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


GOLDEN_SHAPE = {
    "checks": [{"detail": "str", "fix": "NoneType", "id": "str", "status": "str", "title": "str"}],
    "environment": "str",
    "schema": "str",
    "status": "str",
    "summary": {"fail": "int", "pass": "int", "warn": "int"},
}


def test_the_json_report_keeps_its_shape(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _clean_environment(monkeypatch)
    monkeypatch.setenv("CLAUDE_API_KEY", "sk-ant-" + "fake-shape-key")
    monkeypatch.setenv("CLAUDE_GUARD_PII", "off")
    _, report = _check(capsys)
    assert report["schema"] == "claude-guard-check/1"
    assert [c["id"] for c in report["checks"]] == IDS
    assert _shape(report) == GOLDEN_SHAPE
    for check in report["checks"]:
        assert set(check) == {"id", "title", "status", "detail", "fix"}
        assert check["status"] in ("pass", "warn", "fail")
        assert (check["fix"] is None) == (check["status"] == "pass")
    assert report["summary"] == {
        s: sum(c["status"] == s for c in report["checks"]) for s in ("pass", "warn", "fail")
    }


def test_run_checks_reads_the_same_settings_as_from_env() -> None:
    env = {
        "CLAUDE_API_KEY": "sk-ant-" + "fake-env-key",
        "CLAUDE_GUARD_ENV": "staging",
        "CLAUDE_GUARD_PII": "off",
    }
    environment, results = run_checks(env)
    assert environment == "staging"
    assert [r.id for r in results] == IDS
    assert results[0].status == "pass" and "CLAUDE_API_KEY" in results[0].detail


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("key = '" + "sk-ant-api03-" + "Zq9" * 10 + "'", True),
        ("AKIA" + "Q7" * 8, True),
        ("token = " + _jwt(), True),
        ("key = 'sk-ant-api03-fake-" + "0" * 24 + "'", False),
        ("api_key=os.environ['CLAUDE_API_KEY']", False),
        ("Authorization: Bearer {token}", False),
        ('DB_PASSWORD = "' + "h7Tq" + "2mXk" + "9PzR" + "4wVb" + '"', True),
        ("KEY_FILE=/run/secrets/claude_api_key\nSTORAGE_URL=redis://redis:6379/0\n", False),
    ],
    ids=["anthropic", "aws", "jwt", "fake-marked", "from-env", "template", "password", "name-ends-a-line"],
)
def test_key_shaped_literals(text: str, found: bool) -> None:
    assert bool(key_shaped_literals(text)) is found


def test_admin_keys_used_by_services_fail_least_privilege(tmp_path: Path) -> None:
    from claude_guard.audit import AuditRecord, SQLiteAuditSink

    db = tmp_path / "audit.db"

    async def used() -> None:
        sink = SQLiteAuditSink(db)
        now = time.time()
        await sink.write(
            [
                AuditRecord(
                    time=now, request_id="req_a", route="/v1/messages", outcome="allowed", profile="admin"
                ),
                AuditRecord(
                    time=now, request_id="req_b", route="/healthz", outcome="allowed", profile="admin"
                ),
                AuditRecord(
                    time=now, request_id="req_c", route="/v1/messages", outcome="allowed", profile="analysis"
                ),
            ]
        )
        await sink.aclose()

    asyncio.run(used())
    env = {
        "CLAUDE_API_KEY": "sk-ant-" + "fake-admin-key",
        "CLAUDE_GUARD_PII": "off",
        "CLAUDE_GUARD_AUDIT_DB": str(db),
    }
    _, results = run_checks(env)
    least = next(r for r in results if r.id == "least_privilege")
    assert least.status == "fail"
    assert "admin keys answered 1 request(s)" in least.detail


def test_a_key_source_that_does_not_answer_fails_the_upstream_key_check() -> None:
    from _uvicorn import free_port

    env = {
        "CLAUDE_API_KEY_SOURCE": "vault://claude/upstream?field=api_key",
        # Nothing listens here: the probe's read fails, the check names the source, never a token.
        "VAULT_ADDR": f"http://127.0.0.1:{free_port()}",
        "VAULT_TOKEN": "hvs." + "FAKE" * 6,
        "CLAUDE_GUARD_PII": "off",
    }
    _, results = run_checks(env)
    upstream = results[0]
    assert upstream.id == "upstream_key" and upstream.status == "fail"
    assert "did not answer" in upstream.detail
    assert env["VAULT_TOKEN"] not in upstream.detail


def test_a_readable_key_file_is_read_once_and_passes(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("sk-ant-" + "fake-file-key\n", encoding="utf-8")
    _, results = run_checks({"CLAUDE_API_KEY_FILE": str(path), "CLAUDE_GUARD_PII": "off"})
    assert results[0].status == "pass" and "file" in results[0].detail and "read once" in results[0].detail
