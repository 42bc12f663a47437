"""Which addresses feeds added from Discord may reach, and the aiohttp pieces that enforce it.

Three layers, so that no single miss opens the operator's network to a Discord user:

1. `check_host()` refuses IP literals in a URL (aiohttp does not pass those through the resolver),
   including the legacy numeric forms a browser or `inet_aton` would accept (`2130706433`,
   `0177.0.0.1`, `0x7f.1`, `127.1`).
2. `GuardResolver` resolves a name once and keeps only the allowed addresses; the connector then
   connects to exactly those, so a second, different DNS answer (rebinding) never gets used.
3. `GuardedConnector` checks the peer of every connection it hands out, before a request is sent.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.errors import BlockedAddressError

if TYPE_CHECKING:
    from aiohttp.client_reqrep import ClientRequest
    from aiohttp.connector import Connection
    from aiohttp.tracing import Trace

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Order matters: the first matching network gives the reason.
_V4_REFUSED: tuple[tuple[_V4, str], ...] = (
    (_V4("0.0.0.0/8"), "an unspecified address"),  # Linux treats a connect to 0.0.0.0 as localhost
    (_V4("10.0.0.0/8"), "a private address"),
    (_V4("100.64.0.0/10"), "a carrier-grade NAT address"),
    (_V4("127.0.0.0/8"), "a loopback address"),
    (_V4("169.254.169.254/32"), "a link-local address (cloud metadata service)"),
    (_V4("169.254.0.0/16"), "a link-local address"),
    (_V4("172.16.0.0/12"), "a private address"),
    (_V4("192.0.0.0/24"), "a reserved address"),
    (_V4("192.0.2.0/24"), "a documentation address"),
    (_V4("192.88.99.0/24"), "a reserved address"),
    (_V4("192.168.0.0/16"), "a private address"),
    (_V4("198.18.0.0/15"), "a benchmarking address"),
    (_V4("198.51.100.0/24"), "a documentation address"),
    (_V4("203.0.113.0/24"), "a documentation address"),
    (_V4("224.0.0.0/4"), "a multicast address"),
    (_V4("255.255.255.255/32"), "a broadcast address"),
    (_V4("240.0.0.0/4"), "a reserved address"),
)

_V6_REFUSED: tuple[tuple[_V6, str], ...] = (
    (_V6("::/128"), "an unspecified address"),
    (_V6("::1/128"), "a loopback address"),
    (_V6("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (_V6("100::/64"), "a discard-only address"),
    (_V6("2001:db8::/32"), "a documentation address"),
    (_V6("3fff::/20"), "a documentation address"),
    (_V6("fc00::/7"), "a unique local (private) address"),
    (_V6("fe80::/10"), "a link-local address"),
    (_V6("fec0::/10"), "a site-local address"),
    (_V6("ff00::/8"), "a multicast address"),
)

# IPv6 ranges that carry an IPv4 address in their last 32 bits; the IPv4 address decides.
_V6_EMBEDDING_V4: tuple[tuple[_V6, str], ...] = (
    (_V6("::ffff:0:0/96"), "an IPv4-mapped form of"),
    (_V6("::ffff:0:0:0/96"), "an IPv4-translated form of"),
    (_V6("64:ff9b::/96"), "a NAT64 form of"),
)
_V4_COMPATIBLE = _V6("::/96")  # deprecated since 2006; nothing legitimate uses it
_GLOBAL_UNICAST_V6 = _V6("2000::/3")  # every public IPv6 address today lies in here


def refusal_reason(ip: IPAddress) -> str | None:
    """Why `ip` is not a public address, as words that follow "is" (e.g. "a loopback address"); None if public."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _v4_reason(ip)
    return _v6_reason(ip)


def is_public_address(ip: IPAddress) -> bool:
    """True when `ip` is a globally routable unicast address a feed from Discord may reach."""
    return refusal_reason(ip) is None


def explain(ip: IPAddress) -> str:
    """Why `ip` is refused, in words; a generic phrase when only a custom policy refuses it."""
    return refusal_reason(ip) or "not an allowed address"


def _v4_reason(ip: ipaddress.IPv4Address) -> str | None:
    for network, reason in _V4_REFUSED:
        if ip in network:
            return reason
    if not ip.is_global:  # anything the stdlib knows about that the table above does not
        return "a special-purpose address"
    return None


def _v6_reason(ip: ipaddress.IPv6Address) -> str | None:
    plain = ipaddress.IPv6Address(int(ip))  # drop a %zone, which `in network` would trip over
    for network, reason in _V6_REFUSED:
        if plain in network:
            return reason
    for network, form in _V6_EMBEDDING_V4:
        if plain in network:
            return _embedded_reason(form, ipaddress.IPv4Address(int(plain) & 0xFFFFFFFF))
    if plain in _V4_COMPATIBLE:
        inner = ipaddress.IPv4Address(int(plain) & 0xFFFFFFFF)
        return _embedded_reason("an IPv4-compatible form of", inner) or "a deprecated IPv4-compatible address"
    if plain.sixtofour is not None:  # 2002::/16 routes to the embedded IPv4 address
        return _embedded_reason("a 6to4 form of", plain.sixtofour)
    if plain.teredo is not None:  # 2001::/32 names a Teredo server and client, both IPv4
        server, client = plain.teredo
        return _embedded_reason("a Teredo form of", server) or _embedded_reason("a Teredo form of", client)
    if plain not in _GLOBAL_UNICAST_V6:
        return "a reserved address"
    if not plain.is_global:  # e.g. ORCHID, AS112: special ranges the stdlib knows about
        return "a special-purpose address"
    return None


def _embedded_reason(form: str, inner: ipaddress.IPv4Address) -> str | None:
    reason = _v4_reason(inner)
    return None if reason is None else f"{form} {inner}, {reason}"


def parse_host_address(host: str) -> IPAddress | None:
    """The IP address a URL host names literally, or None when it is a domain name.

    Follows the WHATWG URL rules browsers use: a host whose last label is a number is an IPv4
    address in any of the legacy forms (decimal, octal `0177`, hex `0x7f`, 1 to 4 parts), so
    `2130706433`, `0177.0.0.1` and `0x7f.1` all name 127.0.0.1. Raises ValueError when the host
    looks like such a number but is not a valid one (e.g. `256.1.1.1`).
    """
    if ":" in host:  # only IPv6 literals contain a colon; yarl strips the brackets
        try:
            return ipaddress.IPv6Address(host.replace("%25", "%"))
        except ValueError:
            raise ValueError(f"{host!r} is not a valid IPv6 address") from None
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # one trailing dot is the root label, as in "127.0.0.1."
    if not _is_number(labels[-1]):
        return None
    if len(labels) > 4:
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    numbers = [_ipv4_number(label, host) for label in labels]
    head, last = numbers[:-1], numbers[-1]
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    value = last + sum(n << (8 * (3 - i)) for i, n in enumerate(head))
    return ipaddress.IPv4Address(value)


def _is_number(label: str) -> bool:
    if label[:2].lower() == "0x":
        return all(c in "0123456789abcdefABCDEF" for c in label[2:])
    return label.isascii() and label.isdigit()


def _ipv4_number(label: str, host: str) -> int:
    try:
        if label[:2].lower() == "0x":
            return int(label[2:] or "0", 16)
        if len(label) > 1 and label.startswith("0"):
            return int(label, 8)
        return int(label, 10)
    except ValueError:
        raise ValueError(f"{host!r} is not a valid IPv4 address") from None


def check_host(host: str, policy: AddressPolicy) -> None:
    """Refuse a URL host that is an IP literal `policy` does not allow, or a legacy numeric form of one.

    Domain names pass here; the resolver and the connector check what they resolve to.
    """
    try:
        ip = parse_host_address(host)
    except ValueError:
        raise BlockedAddressError(f"refused: {host} is not a valid IP address") from None
    if ip is None:
        return
    if not policy(ip):
        shown = host if host == str(ip) else f"{host} ({ip})"
        raise BlockedAddressError(f"refused: {shown} is {explain(ip)}")
    if isinstance(ip, ipaddress.IPv4Address) and host != str(ip):
        # Allowed, but aiohttp and the OS disagree on such forms; ask for the plain one.
        raise BlockedAddressError(f"refused: {host} is not a canonical IP address; write it as {ip}")


class GuardResolver(AbstractResolver):
    """Resolves through `inner`, then keeps only the addresses `policy` allows.

    The connector connects to exactly the addresses returned here, so the name is resolved once
    per connection and the check cannot be raced by a second DNS answer.
    """

    def __init__(self, inner: AbstractResolver, policy: AddressPolicy, *, owns_inner: bool = False) -> None:
        self._inner = inner
        self._policy = policy
        self._owns_inner = owns_inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve `host`; raise BlockedAddressError when none of its addresses is allowed."""
        answers = await self._inner.resolve(host, port, family)
        kept: list[ResolveResult] = []
        refused: list[IPAddress] = []
        for answer in answers:
            ip = _parse_ip(answer["host"])
            if ip is not None and self._policy(ip):
                kept.append(answer)
            elif ip is not None:
                refused.append(ip)
        if kept:
            return kept
        if refused:
            first = refused[0]
            raise BlockedAddressError(f"refused: {host} resolves to {first}, {explain(first)}")
        raise BlockedAddressError(f"refused: {host} resolves to no usable address")

    async def close(self) -> None:
        """Close the inner resolver when this guard created it."""
        if self._owns_inner:
            await self._inner.close()


class GuardedConnector(aiohttp.TCPConnector):
    """A TCPConnector that refuses any connection whose peer `policy` does not allow.

    Defence in depth behind GuardResolver: it also covers IP-literal URLs (which skip the
    resolver) and any path by which a socket might reach an address nobody checked.
    """

    def __init__(self, *, policy: AddressPolicy, resolver: AbstractResolver, **kwargs: Any) -> None:
        super().__init__(resolver=resolver, **kwargs)
        self._policy = policy

    async def connect(self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout) -> Connection:
        """Hand out a connection (new or pooled) only after checking whom it is connected to."""
        conn = await super().connect(req, traces, timeout)
        transport = conn.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        ip = _parse_ip(peer[0]) if isinstance(peer, tuple) and peer and isinstance(peer[0], str) else None
        if ip is None or not self._policy(ip):
            conn.close()
            what = "an unknown peer" if ip is None else f"{ip}, {explain(ip)}"
            raise BlockedAddressError(f"refused: {req.url.host} is connected to {what}")
        return conn


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
