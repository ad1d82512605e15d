"""Fixtures shared by the whole suite.

Redis tests use the server at ``CLAUDE_GUARD_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``). They
never flush it: every test gets its own key prefix, so tests and parallel runs cannot see each other's keys.
Tests that must stop Redis start a private ``redis-server`` of their own (``private_redis``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from _redis_topologies import RedisClusterNodes, SentinelSet, TLSRedis
from _uvicorn import free_port
from claude_guard.store import Store, StoreConfig, store_from_url

REDIS_URL = os.environ.get("CLAUDE_GUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def key_prefix() -> str:
    return f"cgtest:{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, key_prefix: str) -> AsyncIterator[Store]:
    """Every storage kind, each with a fresh key namespace: one test body runs over all of them."""
    url = "memory://" if request.param == "memory" else REDIS_URL
    s = store_from_url(url, config=StoreConfig(prefix=key_prefix))
    try:
        yield s
    finally:
        if s.kind == "redis":
            client = s.client  # type: ignore[attr-defined]
            keys = [k async for k in client.scan_iter(match=f"{key_prefix}*", count=1000)]
            if keys:
                await client.delete(*keys)
        await s.aclose()


class PrivateRedis:
    """A redis-server of one test's own, which the test may stop and start again on the same port."""

    def __init__(self, tmp: str) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (.ci/run installs it)")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.tmp,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        pytest.fail("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis(tmp_path: object) -> Iterator[PrivateRedis]:
    server = PrivateRedis(str(tmp_path))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    """A Redis Cluster of three masters and three replicas of this test session's own (started once)."""
    cluster = RedisClusterNodes(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    """A master, a replica and three sentinels of this test session's own (started once)."""
    sentinels = SentinelSet(tmp_path_factory.mktemp("redis-sentinel"))
    try:
        sentinels.start()
        yield sentinels
    finally:
        sentinels.stop()


@pytest.fixture(scope="session")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSRedis]:
    """A TLS-only redis-server with a test CA's certificate, requiring client certificates."""
    server = TLSRedis(tmp_path_factory.mktemp("redis-tls"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


TOPOLOGIES = ["redis", "cluster", "sentinel"]


def topology_url(request: pytest.FixtureRequest, topology: str) -> str:
    """The URL of one Redis topology: the shared server, or the session's cluster or sentinel set."""
    if topology == "cluster":
        return str(request.getfixturevalue("redis_cluster").url)
    if topology == "sentinel":
        return str(request.getfixturevalue("redis_sentinel").url)
    return REDIS_URL


async def delete_prefix(store: Store, prefix: str) -> None:
    """Delete a test's keys on any topology (on a cluster, every master is scanned)."""
    client = store.client  # type: ignore[attr-defined]
    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
    for key in keys:
        await client.delete(key)


# The audit log's SQLite file (the default with memory:// storage) goes to a temporary directory, never the
# working tree; subprocesses started by tests inherit it.
_AUDIT_DIR = tempfile.mkdtemp(prefix="cg-audit-")
os.environ.setdefault("CLAUDE_GUARD_AUDIT_DB", os.path.join(_AUDIT_DIR, "audit.sqlite3"))


@pytest.fixture(autouse=True)
def _no_log_scrubbing_between_tests() -> Iterator[None]:
    """A guarded app installs the process-wide log scrubbing filter when it starts; take it off after each
    test so no test sees another's logging setup."""
    yield
    from claude_guard.logscrub import uninstall_log_scrubbing

    uninstall_log_scrubbing()
