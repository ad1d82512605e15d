"""Per-request latency of the reference gateway against an unguarded Starlette app, in-process and over real
uvicorn servers, measured side by side in one run."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import ServerProcess, Stats, asgi_client, interleaved, table

from apps import bare
from claude_guard import ClaudeGuard, GuardSettings, UpstreamClient
from claude_guard.keys._store import KeyStore
from claude_guard.reference_app import create_app
from claude_guard.secrets import EnvSecretSource
from claude_guard.store import MemoryStore
from claude_guard.testing import FakeClaude

UPSTREAM_KEY = "sk-ant-fake-bench-upstream-0000"
BODY = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hello"}]}
N = int(os.environ.get("BENCH_N", "2000"))
PROMPT = (
    "Summarise the attached incident notes for the on-call channel. The outage began at 09:12 UTC when the "
    "queue workers lost their database connections; retries piled up until the autoscaler added nodes. "
) * 5
BODY_1K = {
    "model": "claude-haiku-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": PROMPT[:1024]}],
}
CONCURRENCY = 8

_SENTENCES = (
    "The {service} outage began at {hour:02d}:{minute:02d} UTC when the {part} lost its {resource}.",
    "Retries piled up until the autoscaler added {count} nodes in {region}.",
    "{name} paged the {team} team after the error rate reached {percent} percent.",
    "Latency on the {service} endpoint rose from {low} ms to {high} ms over {count} minutes.",
    "We rolled back release {major}.{minor}.{patch} and the queue drained by {hour:02d}:{minute:02d}.",
    "The {part} in {region} kept serving stale {resource} until the cache expired.",
    "Action items: {name} adds an alert on {resource}, the {team} team reviews the {part} limits.",
    "Customers in {region} saw {count} failed checkouts; support answered {high} tickets.",
)
_SLOTS = {
    "service": ("billing", "search", "checkout", "login", "reporting", "upload", "inventory"),
    "part": ("queue workers", "primary database", "cache tier", "load balancer", "scheduler"),
    "resource": ("database connections", "disk space", "worker threads", "certificates", "quota"),
    "region": ("eu-west", "us-east", "ap-south", "the Frankfurt zone", "the Oregon zone"),
    "name": ("Priya", "Tomás", "Chen", "Amara", "Jonas", "Keiko", "Oluwaseun"),
    "team": ("platform", "payments", "storage", "networking", "on-call"),
}


_loads = 0


def varied_bodies(count: int, seed: int = 7) -> list[bytes]:
    """``count`` different 1 KB Messages requests (incident notes from templates, fixed seed): real traffic
    rarely repeats a prompt, and a repeated one would be read through warm memos (a word already known to
    hold no misspelling, a token already checked): 10-15 % less CPU per request than new prompts, measured
    on the gateway with every protection. The templates' words are few, so memos of words still warm up:
    prompts of a wider vocabulary cost somewhat more."""
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = ""
        while len(text) < 1024:
            values = {slot: rng.choice(choices) for slot, choices in _SLOTS.items()}
            values.update(
                hour=rng.randrange(24),
                minute=rng.randrange(60),
                count=rng.randrange(2, 90),
                percent=rng.randrange(2, 60),
                low=rng.randrange(20, 200),
                high=rng.randrange(300, 4000),
                major=rng.randrange(1, 9),
                minor=rng.randrange(30),
                patch=rng.randrange(20),
            )
            text += rng.choice(_SENTENCES).format(**values) + " "
        out.append(json.dumps({**BODY_1K, "messages": [{"role": "user", "content": text[:1024]}]}).encode())
    return out


def rows(stats: dict[str, Stats], base: str, upstream: str) -> list[list[str]]:
    out = []
    for name, s in stats.items():
        added = f"{s.median_us - stats[upstream].median_us:.0f}" if name.startswith("gateway") else "–"
        out.append(
            [
                name,
                f"{s.median_us:.0f}",
                f"{s.p99_us:.0f}",
                f"{s.median_us / stats[base].median_us:.2f}×",
                added,
            ]
        )
    return out


async def in_process(keys_file: str) -> dict[str, Stats]:
    fake = FakeClaude(api_key=UPSTREAM_KEY)
    source = EnvSecretSource("K", {"K": UPSTREAM_KEY})
    upstream = UpstreamClient(
        base_url="http://fake",
        key_source=source,
        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)),
    )
    store = MemoryStore()  # one store, so one key works for both gateways

    def guard(pii: str) -> ClaudeGuard:
        settings = GuardSettings(api_key_source=source, api_url="http://127.0.0.1:1", pii=pii)  # type: ignore[arg-type]
        return ClaudeGuard(settings=settings, store=store, upstream=upstream)

    full, no_pii = guard("on"), guard("off")
    key = (await full.keys.create(profile="admin", environment="development")).key
    clients = {
        "bare Starlette": asgi_client(bare()),
        "FakeClaude alone": asgi_client(fake),
        "gateway → FakeClaude, every protection": asgi_client(create_app(full)),
        "gateway → FakeClaude, PII off": asgi_client(create_app(no_pii)),
    }
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    fake_headers = {"x-api-key": UPSTREAM_KEY}

    def call(name: str, client: httpx.AsyncClient) -> object:
        h = fake_headers if name == "FakeClaude alone" else headers

        async def do() -> None:
            r = await client.post("/v1/messages", json=BODY, headers=h)
            assert r.status_code == 200, r.text
            fake.reset()  # keep the record from growing over the run

        return do

    return await interleaved({n: call(n, c) for n, c in clients.items()}, n=N)  # type: ignore[misc]


async def over_servers(keys_file: str, key: str) -> dict[str, Stats]:
    env = {
        "BENCH_UPSTREAM_KEY": UPSTREAM_KEY,
        "CLAUDE_GUARD_AUDIT_DB": os.path.join(os.path.dirname(keys_file), "audit.sqlite3"),
    }
    fake = ServerProcess("apps:fake", env)
    bare_server = ServerProcess("apps:bare", env)
    fake.wait("/")
    gw_env = {**env, "BENCH_UPSTREAM_URL": fake.url, "CLAUDE_GUARD_KEYS_FILE": keys_file}
    gateway = ServerProcess("apps:gateway", {**gw_env, "CLAUDE_GUARD_PII": "on"})
    gateway_no_pii = ServerProcess("apps:gateway", {**gw_env, "CLAUDE_GUARD_PII": "off"})
    try:
        bare_server.wait()
        gateway.wait(timeout=120.0)  # loading the PII models on a busy machine takes a while
        gateway_no_pii.wait(timeout=120.0)
        async with httpx.AsyncClient() as client:

            def call(url: str, h: dict[str, str]) -> object:
                async def do() -> None:
                    r = await client.post(url + "/v1/messages", json=BODY, headers=h)
                    assert r.status_code == 200, r.text

                return do

            return await interleaved(
                {
                    "bare Starlette": call(bare_server.url, {}),
                    "FakeClaude alone": call(fake.url, {"x-api-key": UPSTREAM_KEY}),
                    "gateway → FakeClaude, every protection": call(gateway.url, {"x-api-key": key}),
                    "gateway → FakeClaude, PII off": call(gateway_no_pii.url, {"x-api-key": key}),
                },  # type: ignore[dict-item]
                n=N // 2,
            )
    finally:
        for server in (gateway, gateway_no_pii, bare_server, fake):
            server.stop()


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far (``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(url: str, headers: dict[str, str], n: int, pids: list[int]) -> tuple[float, float]:
    """requests/s with CONCURRENCY callers, and the CPU seconds per request of the processes ``pids``
    (the server under test, not the load generator). The load generator is aiohttp: its own CPU per
    request is a quarter of httpx's, so it is not what limits the rate."""
    import aiohttp

    global _loads
    _loads += 1
    bodies = iter(varied_bodies(n + 50, seed=_loads))  # a new seed per run: no run repeats another's prompts
    hdrs = {**headers, "content-type": "application/json", "anthropic-version": "2023-06-01"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

        async def one() -> None:
            async with session.post(url + "/v1/messages", data=next(bodies), headers=hdrs) as r:
                await r.read()
                assert r.status == 200, r.status

        for _ in range(50):
            await one()
        per = n // CONCURRENCY

        async def worker() -> None:
            for _ in range(per):
                await one()

        cpu0 = sum(cpu_seconds(p) for p in pids)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        wall = time.perf_counter() - t0
        cpu = sum(cpu_seconds(p) for p in pids) - cpu0
    total = per * CONCURRENCY
    return total / wall, cpu / total


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a server that forks its workers is measured whole)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in os.listdir(f"/proc/{current}/task"):
            with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as fh:
                todo += [int(child) for child in fh.read().split()]
    return out


def litellm_proxy(executable: str, upstream: str, tmp: str) -> tuple[str, ServerProcess, str]:
    """LiteLLM's proxy in front of the same FakeClaude: its version, the server, its master key.

    Configured as its docs say for an Anthropic model with its own ``api_base``; a master key (it refuses
    to start without one), the model cost map read from its package (no network), and uvicorn's access
    log off as ours is; everything else is LiteLLM's default."""
    import secrets
    import subprocess

    python = os.path.join(os.path.dirname(executable), "python")
    version = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    config = os.path.join(tmp, "litellm.yaml")
    with open(config, "w", encoding="utf-8") as fh:
        fh.write(
            "model_list:\n"
            "  - model_name: claude-haiku-4-5\n"
            "    litellm_params:\n"
            "      model: anthropic/claude-haiku-4-5\n"
            f"      api_base: {upstream}\n"
            "      api_key: os.environ/BENCH_UPSTREAM_KEY\n"
            "litellm_settings:\n"
            "  telemetry: false\n"
        )
    log_config = os.path.join(tmp, "litellm-logging.json")
    with open(log_config, "w", encoding="utf-8") as fh:
        json.dump(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "loggers": {"uvicorn.access": {"level": "WARNING"}, "uvicorn.error": {"level": "WARNING"}},
            },
            fh,
        )
    master = "sk-bench-litellm-" + secrets.token_hex(16)
    env = {
        "LITELLM_MASTER_KEY": master,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "BENCH_UPSTREAM_KEY": UPSTREAM_KEY,
    }
    argv = [executable, "--config", config, "--port", "{port}", "--host", "127.0.0.1"]
    argv += ["--log_config", log_config]
    return version, ServerProcess("", env, argv=argv), master


async def throughput(keys_file: str, key: str) -> list[list[str]]:
    env = {
        "BENCH_UPSTREAM_KEY": UPSTREAM_KEY,
        "CLAUDE_GUARD_AUDIT_DB": os.path.join(os.path.dirname(keys_file), "audit.sqlite3"),
    }
    fake = ServerProcess("apps:fake", env)
    fake.wait("/")
    gw_env = {**env, "BENCH_UPSTREAM_URL": fake.url, "CLAUDE_GUARD_KEYS_FILE": keys_file}
    trees = {"": gw_env}
    baseline = os.environ.get("BENCH_BASELINE_SRC")
    if baseline:  # the same servers on an earlier tree (``git archive <commit> src``), for before/after rows
        trees[" (before)"] = {**gw_env, "PYTHONPATH": baseline}
    servers = {}
    for label, tree_env in trees.items():
        servers[f"gateway, every protection{label}"] = ServerProcess(
            "apps:gateway", {**tree_env, "CLAUDE_GUARD_PII": "on"}
        )
        servers[f"gateway, PII off{label}"] = ServerProcess(
            "apps:gateway", {**tree_env, "CLAUDE_GUARD_PII": "off"}
        )
        servers[f"bare pass-through (MessagesProxy alone){label}"] = ServerProcess(
            "apps:passthrough", tree_env
        )
    litellm = os.environ.get("BENCH_LITELLM")  # a litellm executable (its own venv: not a dev dependency)
    auth = {name: {"x-api-key": key} for name in servers}
    if litellm:
        version, server, master = litellm_proxy(litellm, fake.url, os.path.dirname(keys_file))
        name = f"LiteLLM proxy {version} (/v1/messages, its defaults)"
        servers[name], auth[name] = server, {"x-api-key": master}
    try:
        for name, server in servers.items():
            # three start at once, one loading the PII models; LiteLLM answers /health/liveliness
            server.wait("/health/liveliness" if name.startswith("LiteLLM") else "/healthz", timeout=180.0)
        runs: dict[str, list[tuple[float, float]]] = {}
        for _ in range(3):  # interleaved rounds, so drift hits every row alike
            runs.setdefault("FakeClaude alone", []).append(
                await load(fake.url, {"x-api-key": UPSTREAM_KEY}, N // 2, [fake.proc.pid])
            )
            for name, server in servers.items():
                runs.setdefault(name, []).append(
                    await load(server.url, auth[name], N // 2, process_tree(server.proc.pid))
                )
    finally:
        for server in (*servers.values(), fake):
            server.stop()
    base_rps = sorted(r for r, _ in runs["FakeClaude alone"])[1]
    out = []
    for name, samples in runs.items():
        rps = sorted(r for r, _ in samples)[1]
        cpu = sorted(c for _, c in samples)[1]
        out.append([name, f"{rps:.0f}", f"{rps / base_rps:.2f}", f"{cpu * 1e6:.0f}"])
    return out


async def upstream_clients() -> list[list[str]]:
    """The gateway's upstream hop alone: one client process posting the 1 KB request to a uvicorn
    FakeClaude, reading the answer as the proxy does (streamed, raw bytes), with each HTTP client."""
    import aiohttp
    import httpcore

    fake = ServerProcess("apps:fake", {"BENCH_UPSTREAM_KEY": UPSTREAM_KEY})
    fake.wait("/")
    body = json.dumps(BODY_1K).encode()
    headers = {
        "x-api-key": UPSTREAM_KEY,
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "accept-encoding": "identity",
    }
    url = fake.url + "/v1/messages"
    hx = httpx.AsyncClient(
        timeout=httpx.Timeout(300.0, connect=10.0),
        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100),
    )
    pool = httpcore.AsyncConnectionPool(max_connections=1000, max_keepalive_connections=100)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1000), auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
    )

    async def with_httpx() -> None:
        request = hx.build_request("POST", url, content=body, headers=headers)
        response = await hx.send(request, stream=True)
        async for _ in response.aiter_raw():
            pass
        await response.aclose()

    raw_headers = [(k.encode(), v.encode()) for k, v in headers.items()]

    async def with_httpcore() -> None:
        async with pool.stream("POST", url, headers=raw_headers, content=body) as response:
            async for _ in response.aiter_stream():
                pass

    async def with_aiohttp() -> None:
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
            while await response.content.readany():
                pass

    clients: dict[str, Callable[[], Awaitable[None]]] = {
        f"httpx {httpx.__version__} (AsyncClient, pooled, HTTP/1.1 keep-alive)": with_httpx,
        f"httpcore {httpcore.__version__} (AsyncConnectionPool, no httpx models)": with_httpcore,
        f"aiohttp {aiohttp.__version__} (ClientSession, C parser)": with_aiohttp,
    }
    samples: dict[str, list[tuple[float, float]]] = {}
    try:
        for call in clients.values():
            for _ in range(50):
                await call()
        for _ in range(3):
            for name, call in clients.items():
                n = N // 6
                cpu0, t0 = time.process_time(), time.perf_counter()
                for _ in range(n):
                    await call()
                samples.setdefault(name, []).append(
                    ((time.process_time() - cpu0) / n, n / (time.perf_counter() - t0))
                )
    finally:
        await hx.aclose()
        await pool.aclose()
        await session.close()
        fake.stop()
    base = sorted(c for c, _ in samples[next(iter(clients))])[1]
    rows = []
    for name, values in samples.items():
        cpu = sorted(c for c, _ in values)[1]
        rps = sorted(r for _, r in values)[1]
        rows.append([name, f"{cpu * 1e6:.0f}", f"{cpu / base:.2f}×", f"{rps:.0f}"])
    return rows


async def admin_key(keys_file: str) -> str:
    """A new admin client key, written to ``keys_file`` for the gateway servers to read."""
    store = KeyStore(MemoryStore(), keys_file=keys_file)
    return (await store.create(profile="admin", environment="development")).key


async def main() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        keys_file = os.path.join(tmp, "keys.json")
        key = await admin_key(keys_file)
        local = await in_process(keys_file)
        served = await over_servers(keys_file, key)
        rates = await throughput(keys_file, key)
        hop = await upstream_clients()
    header = ["app", "median µs", "p99 µs", "vs bare Starlette", "added by the gateway (µs, median)"]
    return "\n".join(
        [
            "## Gateway pass-through",
            "",
            "A non-streamed Messages request (`POST /v1/messages`, one-word prompt) to an unguarded "
            "Starlette app that parses the body and answers a fixed message, to FakeClaude alone, and "
            "through the reference gateway to FakeClaude: audit record and span, safe errors, key check, "
            "rate limits, request limits, prompt validation, cost meter (estimate, reservation, "
            "settlement), PII redaction and restoration, forwarding; once with every protection and once "
            "with PII off. 'Added' is the gateway's median minus FakeClaude's. In-process, both hops "
            "(client → gateway → FakeClaude) go through httpx's ASGITransport, which costs about as much "
            "again as the app it drives; over servers, the gateway's own loopback hop to FakeClaude is "
            "part of what it adds.",
            "",
            "In-process (httpx ASGITransport, the gateway's upstream client also in-process), "
            f"{N} requests per row:",
            "",
            table(header, rows(local, "bare Starlette", "FakeClaude alone")),
            "",
            f"Over real uvicorn servers (one process each, loopback, keep-alive), {N // 2} requests per row:",
            "",
            table(header, rows(served, "bare Starlette", "FakeClaude alone")),
            "",
            "### Throughput and CPU per request",
            "",
            "A 1 KB prompt, a new one each request (incident notes from templates: `varied_bodies`; a prompt "
            "sent again is read through warm memos and costs 10-15 % less), "
            f"{CONCURRENCY} concurrent callers (an aiohttp load generator, its own process), "
            f"{N // 2} requests per row and round, three interleaved rounds (medians). Each server is one "
            "uvicorn process (uvloop and httptools, from `uvicorn[standard]`, for every row); 'CPU µs per "
            "request' is that process's user and system CPU (`/proc`) over the run divided by the requests, "
            "so the gateway rows leave out FakeClaude's own CPU. Rows marked 'before' are the same servers "
            "on the tree of `BENCH_BASELINE_SRC`, in the same rounds. With `BENCH_LITELLM` (the `litellm` "
            "executable of a venv holding `litellm[proxy]`: not a dev dependency, it is large) LiteLLM's "
            "proxy joins the rounds in front of the same FakeClaude, called on its Anthropic-format "
            "`/v1/messages` with its master key; its process and any children are measured. Read the "
            "ratios: the machine may be shared with other work.",
            "",
            table(["server", "requests/s", "vs FakeClaude alone", "CPU µs per request"], rates),
            "",
            "### The upstream hop: which HTTP client",
            "",
            "The gateway's upstream hop alone, one request at a time: the 1 KB request posted to a uvicorn "
            "FakeClaude and the answer read streamed, as `MessagesProxy` does; CPU per request of the "
            f"calling process (`process_time`), {N // 6} requests per client and round, three rounds. "
            "`UpstreamClient` uses aiohttp (an injected `httpx.AsyncClient` still works: tests pass an "
            "`ASGITransport`).",
            "",
            table(["client", "client CPU µs per request", "vs httpx", "requests/s (one at a time)"], hop),
            "",
        ]
    )


if __name__ == "__main__":
    print(asyncio.run(main()))
