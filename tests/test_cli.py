"""``claude-guard``: the demo serves the reference gateway and stops cleanly on Ctrl-C; configuration errors
exit 2 with a message that names the variables and never a value."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import anthropic
import httpx
import pytest

from _uvicorn import free_port
from claude_guard.cli import main

CLI = Path(sys.executable).with_name("claude-guard")
CANARY = "sk-ant-fake-upstream-canary-0000"
START_TIMEOUT = 60.0  # a liveness bound: the demo loads Presidio, slow on a busy machine
STOP_TIMEOUT = 10.0


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "OTEL_"))}
    env.update(extra)
    return env


@pytest.mark.server
def test_demo_serves_answers_and_stops_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [str(CLI), "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_clean_env(PYTHONUNBUFFERED="1", CLAUDE_GUARD_AUDIT_DB=str(tmp_path / "audit.sqlite3")),
    )
    lines: list[str] = []
    errors: list[str] = []

    def pump(stream: object, into: list[str]) -> None:
        for raw in stream:  # type: ignore[attr-defined]
            into.append(raw.decode(errors="replace"))

    readers = [
        threading.Thread(target=pump, args=(proc.stdout, lines), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, errors), daemon=True),
    ]
    for reader in readers:
        reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, f"the demo exited early: {''.join(errors)}"
            try:
                if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the demo did not answer /healthz in time"
            time.sleep(0.05)
        stdout = "".join(lines)
        assert base in stdout
        match = re.search(r"^\s*admin\s+(cg_dev_\S+)$", stdout, re.MULTILINE)
        assert match, stdout
        with anthropic.Anthropic(
            base_url=base, api_key=match.group(1), max_retries=0, timeout=10.0
        ) as client:
            message = client.messages.create(
                model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "Hi demo"}]
            )
        assert message.content[0].text == "echo: Hi demo"  # type: ignore[union-attr]
        assert f"Dashboard: {base}/dashboard/" in stdout
        # The request's compact line: its key id, profile, status, decisions, cost and latency.
        key_id = match.group(1).split("_")[2]
        pattern = re.compile(
            rf"^\S+ 200 POST /v1/messages key={key_id} \(admin\) auth:allowed .* \$[0-9.]+ \d+ ms$"
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not any(pattern.match(line.rstrip("\n")) for line in lines):
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_TIMEOUT) == 0, "".join(errors)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
        for reader in readers:
            reader.join(timeout=STOP_TIMEOUT)
    assert "Traceback" not in "".join(errors)


def test_missing_upstream_key_exits_2_naming_the_variable() -> None:
    result = subprocess.run(
        [str(CLI), "demo", "--port", str(free_port()), "--upstream", "https://api.anthropic.com"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=STOP_TIMEOUT * 3,
    )
    assert result.returncode == 2
    assert "CLAUDE_API_KEY" in result.stderr
    assert "CLAUDE_API_KEY_FILE" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"CLAUDE_API_KEY": "   "}, id="empty"),
        pytest.param({"CLAUDE_API_KEY": CANARY, "CLAUDE_API_KEY_FILE": "/run/secrets/claude"}, id="both"),
        pytest.param({"CLAUDE_API_KEY_FILE": "/nonexistent/claude-key"}, id="unreadable-file"),
        pytest.param(
            {"CLAUDE_API_KEY": CANARY, "CLAUDE_API_URL": "http://claude.example.com"}, id="plain-http"
        ),
    ],
)
def test_bad_upstream_configuration_exits_2_without_the_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str]
) -> None:
    for name in list(os.environ):
        if name.startswith("CLAUDE_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    upstream = env.get("CLAUDE_API_URL", "https://api.anthropic.com")
    assert main(["demo", "--port", str(free_port()), "--upstream", upstream]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("claude-guard: ")
    assert "CLAUDE_API_" in captured.err
    assert CANARY not in captured.err + captured.out


def test_an_upstream_url_cannot_carry_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"https://user:{CANARY}@api.anthropic.com"
    assert main(["demo", "--upstream", url]) == 2
    captured = capsys.readouterr()
    assert CANARY not in captured.err + captured.out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
    assert "usage" in capsys.readouterr().err


def _scenario(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "demo", "--scenario", *extra],
        env=_clean_env(CLAUDE_GUARD_AUDIT_DB=str(tmp_path / "audit.sqlite3"), PYTHONUNBUFFERED="1"),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.server
def test_demo_scenario_names_each_protection_decision_and_exits_0(tmp_path: Path) -> None:
    done = _scenario(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    steps = [line for line in out.splitlines() if re.match(r"^(ok  |FAIL) \d\. ", line)]
    assert [line[:4] for line in steps] == ["ok  "] * 6, out
    allowed, redacted, injection, tool, rate, budget = steps
    assert " 200 " in allowed and "validation:pass" in allowed and "budget:settled" in allowed
    assert " 200 " in redacted and "pii:redacted" in redacted and "EMAIL_ADDRESS:1" in redacted
    assert " 400 " in injection and "validation:blocked" in injection and "rule override." in injection
    assert " 403 " in tool and "profile:refused" in tool and "tool_not_allowed" in tool
    assert " 429 " in rate and "rate_limit:denied" in rate and "call 11" in rate
    assert " 402 " in budget and "budget:refused" in budget and "budget_usd_day" in budget
    assert "Tour done: every protection acted as expected." in out
    # One compact line per request: 2 + 1 + 1 + 11 + 2 requests, each with its key id and latency.
    lines = [line for line in out.splitlines() if re.match(r"^\d\d:\d\d:\d\d \d{3} POST /", line)]
    assert len(lines) == 17, out
    assert all(line.endswith(" ms") and " key=" in line for line in lines)
    assert any("pii=EMAIL_ADDRESS:1" in line for line in lines)
    assert "jane.doe@example.com" not in "\n".join(lines)  # the lines hold no PII value
    assert re.search(r"^Dashboard: http://127\.0\.0\.1:\d+/dashboard/", out, re.MULTILINE)
    assert '"trace_id"' not in out  # spans only with --spans


@pytest.mark.server
def test_demo_prints_spans_only_with_the_flag(tmp_path: Path) -> None:
    done = _scenario(tmp_path, "--spans")
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"trace_id"' in done.stdout
