"""Client addresses: the socket peer; forwarding headers only from trusted proxies, right-most untrusted."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from claude_guard._proxies import client_address
from claude_guard.ratelimit import RateLimitConfig, RateLimitMiddleware, RateLimitRule, TrustedProxies
from claude_guard.store import Store


def scope(peer: str | None, *headers: tuple[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "client": (peer, 443) if peer else None,
        "headers": [(k.encode(), v.encode()) for k, v in headers],
    }


TRUSTED = TrustedProxies(["10.0.0.0/8", "2001:db8:ffff::/48"])


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        pytest.param(
            "203.0.113.9", [("x-forwarded-for", "1.1.1.1")], "203.0.113.9", id="untrusted-peer-xff-ignored"
        ),
        pytest.param(
            "203.0.113.9", [("forwarded", "for=1.1.1.1")], "203.0.113.9", id="untrusted-peer-fwd-ignored"
        ),
        pytest.param("10.0.0.1", [], "10.0.0.1", id="trusted-peer-no-header"),
        pytest.param("10.0.0.1", [("x-forwarded-for", "198.51.100.4")], "198.51.100.4", id="one-hop"),
        pytest.param(
            "10.0.0.1",
            [("x-forwarded-for", "6.6.6.6, 198.51.100.4, 10.0.0.2")],
            "198.51.100.4",
            id="spoofed-left-part-ignored",
        ),
        pytest.param(
            "10.0.0.1",
            [("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.4")],
            "198.51.100.4",
            id="repeated-header-lines-join",
        ),
        pytest.param("10.0.0.1", [("x-forwarded-for", "10.0.0.3, 10.0.0.2")], "10.0.0.3", id="all-trusted"),
        pytest.param("10.0.0.1", [("x-forwarded-for", "198.51.100.4:5555")], "198.51.100.4", id="xff-port"),
        pytest.param(
            "10.0.0.1",
            [("forwarded", 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.2')],
            "2001:db8:cafe::17",
            id="rfc7239-ipv6-port",
        ),
        pytest.param(
            "10.0.0.1",
            [("forwarded", "for=198.51.100.4"), ("x-forwarded-for", "6.6.6.6")],
            "198.51.100.4",
            id="forwarded-preferred",
        ),
        pytest.param("10.0.0.1", [("forwarded", "for=unknown")], "unknown", id="obfuscated-node"),
        pytest.param(
            "::ffff:10.0.0.1", [("x-forwarded-for", "198.51.100.4")], "198.51.100.4", id="v4-mapped-peer"
        ),
        pytest.param(None, [("x-forwarded-for", "198.51.100.4")], None, id="no-peer"),
    ],
)
def test_client_address(peer: str | None, headers: list[tuple[str, str]], expected: str | None) -> None:
    assert client_address(scope(peer, *headers), TRUSTED) == expected


def test_no_trusted_proxies_means_the_socket_peer() -> None:
    assert client_address(scope("10.0.0.1", ("x-forwarded-for", "1.1.1.1"))) == "10.0.0.1"
    assert not TrustedProxies()


def test_only_known_headers() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        TrustedProxies(["10.0.0.0/8"], headers=["x-real-ip"])
    only_xff = TrustedProxies(["10.0.0.0/8"], headers=["x-forwarded-for"])
    s = scope("10.0.0.1", ("forwarded", "for=6.6.6.6"), ("x-forwarded-for", "198.51.100.4"))
    assert client_address(s, only_xff) == "198.51.100.4"


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_spoofed_x_forwarded_for_from_an_untrusted_peer_is_ignored(store: Store) -> None:
    config = RateLimitConfig(
        rules=[RateLimitRule(limits="2/minute", key="address")], trusted_proxies=["10.0.0.0/8"]
    )
    app = RateLimitMiddleware(ok_app, config=config, store=store)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        statuses = [
            (await client.get("/", headers={"x-forwarded-for": f"192.0.2.{i}"})).status_code for i in range(4)
        ]
    assert statuses == [200, 200, 429, 429]


async def test_clients_behind_a_trusted_proxy_are_told_apart(store: Store) -> None:
    config = RateLimitConfig(
        rules=[RateLimitRule(limits="1/minute", key="address")], trusted_proxies=["10.0.0.0/8"]
    )
    app = RateLimitMiddleware(ok_app, config=config, store=store)
    transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        a = [
            (await client.get("/", headers={"x-forwarded-for": "6.6.6.6, 192.0.2.1"})).status_code
            for _ in range(2)
        ]
        b = (await client.get("/", headers={"x-forwarded-for": "192.0.2.2"})).status_code
    assert a == [200, 429]
    assert b == 200


def test_one_reading_of_trusted_proxies_for_every_protection() -> None:
    from claude_guard import GuardSettings
    from claude_guard._proxies import forwarded_protos
    from claude_guard.errors import ConfigurationError
    from claude_guard.transport import is_secure_request

    with pytest.raises(ConfigurationError, match="list of CIDRs"):
        TrustedProxies("10.0.0.0/8")
    with pytest.raises(ConfigurationError, match="not an IP network"):
        TrustedProxies(["10.0.0.0/33"])
    with pytest.raises(ConfigurationError, match="CLAUDE_GUARD_TRUSTED_PROXIES"):
        GuardSettings(trusted_proxies=("not-a-cidr",))
    assert TrustedProxies.of(TRUSTED) is TRUSTED
    proxied = scope("10.0.0.1", ("x-forwarded-proto", "https"), ("forwarded", 'for=1.2.3.4;proto="HTTPS"'))
    assert forwarded_protos(proxied, TRUSTED) == ["https", "https"]
    assert forwarded_protos(proxied, TrustedProxies()) == []
    assert is_secure_request(proxied, TRUSTED)
    # An empty entry is no https: one hop that did not say so makes the request insecure.
    assert not is_secure_request(scope("10.0.0.1", ("x-forwarded-proto", "https,")), TRUSTED)
    # The same peer written as an IPv4-mapped IPv6 address is the same trusted proxy.
    assert is_secure_request(scope("::ffff:10.0.0.1", ("x-forwarded-proto", "https")), TRUSTED)
