"""Pytest fixtures for testing apps guarded by claude_guard against a fake Claude upstream.

Loaded through the `pytest11` entry point in every pytest run where claude-guard is installed, so it
imports nothing heavy: uvicorn is imported only by the fixture that starts a server.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from claude_guard.testing._fake import CANARY_API_KEY, FakeClaude
from claude_guard.testing._server import serve


@dataclass(frozen=True, slots=True)
class FakeClaudeServer:
    """A FakeClaude served over real HTTP on a loopback port."""

    fake: FakeClaude
    url: str
    port: int


@pytest.fixture
def fake_claude() -> FakeClaude:
    """A fresh FakeClaude that requires `fake_claude.api_key` (an obviously fake canary key)."""
    return FakeClaude(api_key=CANARY_API_KEY)


@pytest.fixture
def fake_claude_server(fake_claude: FakeClaude) -> Iterator[FakeClaudeServer]:
    """The `fake_claude` instance served by uvicorn in a background thread for the test."""
    with serve(fake_claude) as server:
        yield FakeClaudeServer(fake=fake_claude, url=server.url, port=server.port)
