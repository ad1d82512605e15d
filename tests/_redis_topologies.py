"""Private Redis topologies started from the ``redis-server`` binary, on free loopback ports, for the tests.

- ``RedisClusterNodes``: six ``--cluster-enabled`` servers joined by ``redis-cli --cluster create`` with one
  replica per master (three masters, three replicas).
- ``SentinelSet``: a master, its replica and three ``redis-server --sentinel`` processes watching them.
- ``TLSRedis``: a server that speaks TLS only, with a certificate from a test CA (``trustme``) and, if asked,
  client certificates required.

Every server is a child process with its files in a temporary directory; ``stop`` kills them all. Nothing
here needs the network beyond 127.0.0.1, and everything works as root.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from _uvicorn import free_port

HOST = "127.0.0.1"


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (apt-get install redis-server; .ci/run installs it)")
    return path


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds; ``RuntimeError`` naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def redis_cli(port: int, *args: str, tls: Sequence[str] = ()) -> str:
    """``redis-cli -p PORT ARGS`` on loopback, its output (stderr included) as text."""
    result = subprocess.run(
        [_binary("redis-cli"), "-h", HOST, "-p", str(port), *tls, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.stdout + result.stderr


class RedisServer:
    """One ``redis-server`` child on a loopback port, which a test may kill and start again."""

    def __init__(self, directory: Path, *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.directory = directory
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [
            _binary("redis-server"),
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            *self.args,
        ]

    def start(self, *, listen_port: int | None = None) -> None:
        log = (self.directory / "server.log").open("ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=log, cwd=self.directory)
        log.close()
        wait_for(lambda: _listening(listen_port or self.port), f"redis-server on port {self.port}", 20)

    def kill(self) -> None:
        """SIGKILL, as a crashed host would: nothing flushed, no goodbye to replicas or sentinels."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class RedisClusterNodes:
    """Three masters and three replicas on loopback; ``url`` lists every node as a seed."""

    def __init__(self, directory: Path) -> None:
        self.nodes = [
            RedisServer(
                directory / f"node{i}",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                # the bus port, else port + 10000, which may be taken or past 65535
                "--cluster-port",
                str(free_port()),
                # fail over one second after a master stops answering
                "--cluster-node-timeout",
                "1000",
                # the other masters keep serving while one shard fails over
                "--cluster-require-full-coverage",
                "no",
            )
            for i in range(6)
        ]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{HOST}:{node.port}" for node in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        out = redis_cli(
            self.nodes[0].port,
            "--cluster",
            "create",
            *(f"{HOST}:{node.port}" for node in self.nodes),
            "--cluster-replicas",
            "1",
            "--cluster-yes",
        )
        if "[OK] All 16384 slots covered" not in out:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{out}")
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Every live node sees the cluster ok, three masters each with one replica in sync."""

        def healthy() -> bool:
            for node in self.nodes:
                if not node.alive or "cluster_state:ok" not in redis_cli(node.port, "cluster", "info"):
                    return False
            masters = [
                node for node in self.nodes if "role:master" in redis_cli(node.port, "info", "replication")
            ]
            if len(masters) != 3:
                return False
            for master in masters:
                info = redis_cli(master.port, "info", "replication")
                if "connected_slaves:1" not in info or "state=online" not in info:
                    return False
            return True

        wait_for(healthy, "a healthy cluster of three masters and three replicas", timeout)

    def master_of(self, key: str) -> RedisServer:
        """The live node that is master of ``key``'s slot now."""
        slot = int(redis_cli(self.nodes[0].port, "cluster", "keyslot", key).strip())
        for node in self.nodes:
            if not node.alive:
                continue
            for line in redis_cli(node.port, "cluster", "nodes").splitlines():
                fields = line.split()
                if "myself" in fields[2] and "master" in fields[2]:
                    for part in fields[8:]:
                        lo, _, hi = part.partition("-")
                        if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                            return node
        raise RuntimeError(f"no live master for slot {slot}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


SERVICE = "cgmaster"


class SentinelSet:
    """A master, one replica and three sentinels (quorum two) watching them as service ``cgmaster``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.master = RedisServer(directory / "a")
        self.replica = RedisServer(directory / "b", "--replicaof", HOST, str(self.master.port))
        self.sentinels: list[RedisServer] = []
        for i in range(3):
            path = directory / f"s{i}"
            path.mkdir(parents=True, exist_ok=True)
            port = free_port()
            config = path / "sentinel.conf"
            config.write_text(
                f"port {port}\nbind {HOST}\ndir {path}\n"
                f"sentinel monitor {SERVICE} {HOST} {self.master.port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 10000\n"
                f"sentinel parallel-syncs {SERVICE} 1\n",
                encoding="utf-8",
            )
            self.sentinels.append(_SentinelServer(path, config, port))
        self.servers = [self.master, self.replica]

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(f"{HOST}:{s.port}" for s in self.sentinels) + f"/{SERVICE}/0"

    def start(self) -> None:
        self.master.start()
        self.replica.start()
        for sentinel in self.sentinels:
            sentinel.start()
        self.wait_healthy()

    def current_master(self) -> RedisServer:
        for sentinel in self.sentinels:
            if not sentinel.alive:
                continue
            out = redis_cli(sentinel.port, "sentinel", "get-master-addr-by-name", SERVICE).split()
            if len(out) >= 2 and out[1].isdigit():
                port = int(out[1])
                return next(server for server in self.servers if server.port == port)
        raise RuntimeError("no sentinel names a master")

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """The sentinels agree on a live master, which has one replica online, known to every sentinel."""

        def healthy() -> bool:
            master = self.current_master()
            if not master.alive or "role:master" not in redis_cli(master.port, "info", "replication"):
                return False
            info = redis_cli(master.port, "info", "replication")
            if "connected_slaves:1" not in info or "state=online" not in info:
                return False
            for sentinel in self.sentinels:
                out = redis_cli(sentinel.port, "sentinel", "master", SERVICE)
                if str(master.port) not in out or "num-slaves\n1" not in out.replace("\r", ""):
                    return False
                replicas = redis_cli(sentinel.port, "sentinel", "replicas", SERVICE)
                if "s_down" in replicas or "disconnected" in replicas:
                    return False
            return True

        wait_for(healthy, "a healthy sentinel set", timeout)

    def stop(self) -> None:
        for server in [*self.sentinels, self.replica, self.master]:
            server.stop()


class _SentinelServer(RedisServer):
    def __init__(self, directory: Path, config: Path, port: int) -> None:
        super().__init__(directory, port=port)
        self.config = config

    def command(self) -> list[str]:
        return [_binary("redis-server"), str(self.config), "--sentinel"]


class TLSRedis(RedisServer):
    """A TLS-only redis-server with a certificate of a fresh test CA; client certificates if ``mutual``."""

    def __init__(self, directory: Path, *, mutual: bool = True) -> None:
        import trustme

        directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA()
        server_cert = self.ca.issue_cert(HOST, "localhost")
        client_cert = self.ca.issue_cert("claude-guard-test-client")
        self.ca_file = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        server_chain, server_key = directory / "server.pem", directory / "server.key"
        server_cert.private_key_pem.write_to_path(str(server_key))
        server_chain.write_bytes(b"".join(blob.bytes() for blob in server_cert.cert_chain_pems))
        self.client_cert, self.client_key = directory / "client.pem", directory / "client.key"
        client_cert.private_key_pem.write_to_path(str(self.client_key))
        self.client_cert.write_bytes(b"".join(blob.bytes() for blob in client_cert.cert_chain_pems))
        os.chmod(server_key, 0o600)
        os.chmod(self.client_key, 0o600)
        self.tls_port = free_port()
        super().__init__(
            directory,
            "--tls-port",
            str(self.tls_port),
            "--tls-cert-file",
            str(server_chain),
            "--tls-key-file",
            str(server_key),
            "--tls-ca-cert-file",
            str(self.ca_file),
            "--tls-auth-clients",
            "yes" if mutual else "no",
            port=0,
        )

    def command(self) -> list[str]:
        # --port 0: no plain-text listener at all
        command = super().command()
        command[command.index("--port") + 1] = "0"
        return command

    def start(self, *, listen_port: int | None = None) -> None:
        super().start(listen_port=self.tls_port)

    def cli_tls(self) -> list[str]:
        return [
            "--tls",
            "--cacert",
            str(self.ca_file),
            "--cert",
            str(self.client_cert),
            "--key",
            str(self.client_key),
        ]

    def url(self, *, user: str = "", password: str = "", client_cert: bool = True) -> str:
        auth = f"{user}:{password}@" if user or password else ""
        query = f"ssl_ca_certs={self.ca_file}"
        if client_cert:
            query += f"&ssl_certfile={self.client_cert}&ssl_keyfile={self.client_key}"
        return f"rediss://{auth}{HOST}:{self.tls_port}/0?{query}"
