"""SSRF guard: which addresses a delivery may connect to.

The check runs on the address actually connected to. ``GuardedResolver`` wraps aiohttp's
resolver and drops every blocked address from its answer, and aiohttp only connects to the
addresses its resolver returns, so a name that resolves (or re-resolves, DNS rebinding) to a
private address is refused. aiohttp does not call the resolver for IP-literal hosts, so
``literal_host_error`` checks those before a request is made; it also reads the legacy IPv4
spellings (``2130706433``, ``0177.0.0.1``, ``0x7f.1``) the way ``inet_aton`` would.

``is_blocked`` first unwraps IPv4 addresses embedded in IPv6 forms (IPv4-mapped, 6to4,
NAT64 ``64:ff9b::/96``) and judges the embedded address. IPv6 is allowed only inside the
global unicast block ``2000::/3`` and where Python calls it global; Teredo (``2001::/32``) is
not global for Python, so it is blocked whole.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from typing import TYPE_CHECKING

from aiohttp.abc import AbstractResolver

if TYPE_CHECKING:
    from aiohttp.abc import ResolveResult

__all__ = [
    "BlockedAddressError",
    "GuardedResolver",
    "IPAddress",
    "InvalidHostError",
    "is_blocked",
    "literal_host_error",
    "parse_ip_literal",
    "unwrap",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Not covered (or not stably covered across Python versions) by ``is_global``.
_EXTRA_BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # carrier-grade NAT, also Alibaba's metadata 100.100.100.200
        "169.254.0.0/16",  # link-local, cloud metadata 169.254.169.254
        "192.0.0.0/24",  # IETF protocol assignments, Oracle's metadata 192.0.0.192
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "198.18.0.0/15",  # benchmarking
        "224.0.0.0/4",  # multicast (Python calls it global)
        "240.0.0.0/4",  # reserved, broadcast
    )
)
_EXTRA_BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
        "2001::/23",  # IETF protocol assignments, includes Teredo 2001::/32
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
        "fc00::/7",  # unique local, AWS metadata fd00:ec2::254
        "fe80::/10",  # link-local
        "ff00::/8",  # multicast
    )
)
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NAT64_V6 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedAddressError(OSError):
    """A delivery target resolved only to addresses the SSRF guard refuses."""

    def __init__(self, address: str) -> None:
        super().__init__(f"blocked address {address}")
        self.address = address


class InvalidHostError(ValueError):
    """A URL host looks numeric but is no valid IPv4 address."""


def unwrap(ip: IPAddress) -> IPAddress:
    """Return the IPv4 address embedded in an IPv4-mapped, 6to4 or NAT64 address, else ``ip``."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64_V6:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_blocked(ip: IPAddress) -> bool:
    """Tell whether a delivery may not connect to ``ip`` (anything not globally routable)."""
    ip = unwrap(ip)
    if isinstance(ip, ipaddress.IPv4Address):
        return not ip.is_global or any(ip in net for net in _EXTRA_BLOCKED_V4)
    if ip.scope_id is not None:
        return True
    return ip not in _GLOBAL_UNICAST_V6 or not ip.is_global or any(ip in net for net in _EXTRA_BLOCKED_V6)


_DIGITS = {16: frozenset("0123456789abcdefABCDEF"), 10: frozenset("0123456789"), 8: frozenset("01234567")}


def _parse_ipv4_number(part: str) -> int:
    """Read one dotted part the way ``inet_aton`` and the WHATWG URL parser do."""
    if part[:2].lower() == "0x":
        digits, base = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not set(digits) <= _DIGITS[base] or (base == 10 and not digits):
        raise InvalidHostError(f"bad IPv4 part {part!r}")
    return int(digits, base) if digits else 0


def _ends_in_number(labels: list[str]) -> bool:
    last = labels[-1]
    if last.isascii() and last.isdigit():
        return True
    return last[:2].lower() == "0x" and set(last[2:]) <= _DIGITS[16]


def _parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    labels = host.removesuffix(".").split(".")
    if not labels[-1] or not _ends_in_number(labels):
        return None
    if len(labels) > 4:
        raise InvalidHostError(f"too many parts in {host!r}")
    numbers = [_parse_ipv4_number(label) for label in labels]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise InvalidHostError(f"IPv4 part out of range in {host!r}")
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def parse_ip_literal(host: str) -> IPAddress | None:
    """Return the address an IP-literal URL host denotes, or ``None`` for a DNS name.

    Accepts ``[v6]``, bare IPv6, dotted quads and the legacy IPv4 spellings; raises
    ``InvalidHostError`` for a host that looks numeric but is malformed.
    """
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.replace("%25", "%"))
        except ValueError:
            raise InvalidHostError(f"bad IPv6 address {host!r}") from None
    return _parse_ipv4(host) if host else None


def _is_canonical_ipv4(host: str, ip: ipaddress.IPv4Address) -> bool:
    return host == str(ip)


@functools.lru_cache(maxsize=4096)
def literal_host_error(host: str) -> str | None:
    """Return an outcome error for a literal host the guard refuses, or ``None``.

    DNS names return ``None``: ``GuardedResolver`` checks what they resolve to.
    """
    try:
        ip = parse_ip_literal(host)
    except InvalidHostError as exc:
        return f"invalid_url: {exc}"
    if ip is None:
        return None
    if is_blocked(ip):
        return f"blocked_address: {unwrap(ip)}"
    if isinstance(ip, ipaddress.IPv4Address) and not _is_canonical_ipv4(host.strip("[]"), ip):
        return f"invalid_url: non-canonical IPv4 host {host!r}"
    return None


class GuardedResolver(AbstractResolver):
    """Resolve with ``inner`` and keep only addresses the SSRF guard allows.

    Raises ``BlockedAddressError`` (an ``OSError``, so aiohttp wraps it in
    ``ClientConnectorDNSError``) when nothing allowed is left.
    """

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host`` and drop blocked addresses."""
        results = await self._inner.resolve(host, port, family)
        allowed = [result for result in results if not _result_blocked(result)]
        if not allowed:
            first = results[0]["host"] if results else host
            raise BlockedAddressError(_shown(first))
        return allowed

    async def close(self) -> None:
        """Close the wrapped resolver."""
        await self._inner.close()


def _result_blocked(result: ResolveResult) -> bool:
    try:
        return is_blocked(ipaddress.ip_address(result["host"]))
    except ValueError:
        return True  # not an address we can judge: refuse it


def _shown(address: str) -> str:
    """Show an embedded IPv4 address plainly (``::ffff:10.0.0.1`` as ``10.0.0.1``)."""
    try:
        return str(unwrap(ipaddress.ip_address(address)))
    except ValueError:
        return address
