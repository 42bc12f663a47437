"""The address policy and the aiohttp pieces that enforce it. Nothing here connects outside loopback."""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, ip_address

import aiohttp
import pytest
from aiohttp import web

from bot.adapters.feeds.fetch import netguard
from bot.errors import BlockedAddressError

pytestmark = pytest.mark.usefixtures("loopback_only")

ANY4 = "0.0.0.0"  # noqa: S104 -- an address under test, nothing binds to it

REFUSED = {
    ANY4: "unspecified",
    "0.1.2.3": "unspecified",
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback",
    "10.0.0.1": "private",
    "172.16.0.1": "private",
    "172.31.255.255": "private",
    "192.168.1.1": "private",
    "100.64.0.1": "carrier-grade NAT",
    "100.127.255.255": "carrier-grade NAT",
    "169.254.169.254": "cloud metadata",
    "169.254.1.1": "link-local",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "broadcast",
    "192.0.0.8": "reserved",
    "192.0.2.1": "documentation",
    "198.18.0.1": "benchmarking",
    "::": "unspecified",
    "::1": "loopback",
    "fc00::1": "unique local",
    "fd12:3456::1": "unique local",
    "fe80::1": "link-local",
    "fe80::1%eth0": "link-local",
    "fec0::1": "site-local",
    "ff02::1": "multicast",
    "2001:db8::1": "documentation",
    "100::1": "discard-only",
    "::ffff:127.0.0.1": "IPv4-mapped form of 127.0.0.1, a loopback",
    "::ffff:10.0.0.1": "IPv4-mapped form of 10.0.0.1, a private",
    "::ffff:169.254.169.254": "cloud metadata",
    "::ffff:0:10.0.0.1": "IPv4-translated",
    "::127.0.0.1": "IPv4-compatible form of 127.0.0.1",
    "::8.8.8.8": "deprecated IPv4-compatible",
    "64:ff9b::10.0.0.1": "NAT64 form of 10.0.0.1",
    "64:ff9b::127.0.0.1": "NAT64 form of 127.0.0.1",
    "64:ff9b:1::1": "local-use NAT64",
    "2002:7f00:1::": "6to4 form of 127.0.0.1",
    "2002:a00:1::1": "6to4 form of 10.0.0.1",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe": "Teredo",  # client 10.0.0.1 (obfuscated)
    "4000::1": "reserved",  # outside 2000::/3, unassigned
}

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",
    "100.128.0.0",
    "172.32.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize(("address", "reason"), REFUSED.items())
def test_special_addresses_are_refused_with_a_reason(address: str, reason: str) -> None:
    ip = ip_address(address)
    assert not netguard.is_public_address(ip)
    explained = netguard.refusal_reason(ip)
    assert explained is not None and reason in explained


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    ip = ip_address(address)
    assert netguard.is_public_address(ip)
    assert netguard.refusal_reason(ip) is None


def test_every_stdlib_non_global_address_is_refused() -> None:
    # A sample across the special ranges the stdlib knows; none may slip through the tables.
    for network in ("0.0.0.0/8", "192.0.0.0/29", "198.51.100.0/24", "203.0.113.0/24", "::/128", "2001:10::/28"):
        net = ipaddress.ip_network(network)
        assert not netguard.is_public_address(net[0]), network
        assert not netguard.is_public_address(net[-1]), network


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # one 32-bit number
        ("017700000001", "127.0.0.1"),  # octal
        ("0x7f000001", "127.0.0.1"),  # hex
        ("0177.0.0.1", "127.0.0.1"),  # octal first part
        ("0x7f.1", "127.0.0.1"),  # hex, two parts
        ("127.1", "127.0.0.1"),  # two parts
        ("127.0.1", "127.0.0.1"),  # three parts
        ("0", ANY4),
        ("0x", ANY4),
        ("127.0.0.1.", "127.0.0.1"),  # trailing root dot
        ("0XA9.0xFE.0251.0376", "169.254.169.254"),
        ("::1", "::1"),
        ("fe80::1%25eth0", "fe80::1%eth0"),  # yarl's raw_host keeps the zone percent-encoded
        ("::ffff:7f00:1", "::ffff:7f00:1"),
    ],
)
def test_parse_host_address_reads_every_numeric_form(host: str, expected: str) -> None:
    assert netguard.parse_host_address(host) == ip_address(expected)


@pytest.mark.parametrize(
    "host", ["example.com", "localhost", "feed.example.", "0x7f.example", "1.2.3.com", "xn--bcher-kva.example"]
)
def test_parse_host_address_leaves_names_alone(host: str) -> None:
    assert netguard.parse_host_address(host) is None


@pytest.mark.parametrize(
    "host", ["256.1.1.1", "1.2.3.4.5", "1.256.3.4", "4294967296", "08.1.1.1", "0xg.1", "1..1", "::g"]
)
def test_parse_host_address_rejects_malformed_numbers(host: str) -> None:
    with pytest.raises(ValueError, match="valid"):
        netguard.parse_host_address(host)


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("127.0.0.1", "refused: 127.0.0.1 is a loopback address"),
        ("2130706433", "refused: 2130706433 (127.0.0.1) is a loopback address"),
        ("0177.0.0.1", "refused: 0177.0.0.1 (127.0.0.1) is a loopback address"),
        ("0x7f.1", "refused: 0x7f.1 (127.0.0.1) is a loopback address"),
        (ANY4, "refused: 0.0.0.0 is an unspecified address"),
        ("0", "refused: 0 (0.0.0.0) is an unspecified address"),
        ("::1", "refused: ::1 is a loopback address"),
        ("10.1.2.3", "refused: 10.1.2.3 is a private address"),
        ("256.0.0.1", "refused: 256.0.0.1 is not a valid IP address"),
        ("134744072", "refused: 134744072 is not a canonical IP address; write it as 8.8.8.8"),
    ],
)
def test_check_host_explains_each_refusal(host: str, message: str) -> None:
    with pytest.raises(BlockedAddressError) as caught:
        netguard.check_host(host, netguard.is_public_address)
    assert str(caught.value) == message


def test_check_host_lets_names_and_public_literals_through() -> None:
    netguard.check_host("example.com", netguard.is_public_address)
    netguard.check_host("8.8.8.8", netguard.is_public_address)
    netguard.check_host("2606:4700:4700::1111", netguard.is_public_address)


def only_127_0_0_2(ip):
    return ip == IPv4Address("127.0.0.2")


async def test_guard_resolver_drops_refused_answers_and_keeps_the_rest(stub_resolver) -> None:
    stub = stub_resolver({"mixed.test": ["10.0.0.1", "8.8.8.8", "::1"]})
    guard = netguard.GuardResolver(stub, netguard.is_public_address)
    answers = await guard.resolve("mixed.test", 80)
    assert [a["host"] for a in answers] == ["8.8.8.8"]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [("127.0.0.1", "a loopback address"), ("169.254.169.254", "cloud metadata"), ("fd00::1", "unique local")],
)
async def test_guard_resolver_refuses_a_name_with_only_refused_answers(answer, reason, stub_resolver) -> None:
    guard = netguard.GuardResolver(stub_resolver({"evil.test": [answer]}), netguard.is_public_address)
    with pytest.raises(BlockedAddressError, match=f"refused: evil.test resolves to .*{reason}"):
        await guard.resolve("evil.test", 80)


async def test_guarded_connector_refuses_a_peer_the_resolver_did_not_filter(serve, stub_resolver) -> None:
    # The connector's own peer check, with a resolver that does no filtering at all.
    served = await serve({"/": ok})
    connector = netguard.GuardedConnector(policy=only_127_0_0_2, resolver=stub_resolver({"sneaky.test": ["127.0.0.1"]}))
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(BlockedAddressError, match=r"refused: sneaky.test is connected to 127.0.0.1, a loopback"):
            await session.get(served.url("/", host="sneaky.test"))
    assert served.requests == []  # refused before a single byte of the request was sent


async def test_guarded_connector_checks_ip_literals_the_resolver_never_sees(serve, stub_resolver):
    served = await serve({"/": ok})
    stub = stub_resolver({})
    async with aiohttp.ClientSession(connector=netguard.GuardedConnector(policy=only_127_0_0_2, resolver=stub)) as s:
        with pytest.raises(BlockedAddressError, match=r"refused: 127\.0\.0\.1 is connected to 127\.0\.0\.1"):
            await s.get(served.url("/"))
    assert stub.calls == [] and served.requests == []


async def test_guarded_connector_allows_an_allowed_peer(serve, stub_resolver) -> None:
    served = await serve({"/": ok}, host="127.0.0.2")
    connector = netguard.GuardedConnector(policy=only_127_0_0_2, resolver=stub_resolver({"fine.test": ["127.0.0.2"]}))
    async with aiohttp.ClientSession(connector=connector) as session, session.get(served.url("/", "fine.test")) as r:
        assert r.status == 200


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")
