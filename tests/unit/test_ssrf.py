"""The SSRF guard: address classes, embedded IPv4, literal spellings, the guarded resolver."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import TYPE_CHECKING

import pytest
from aiohttp.abc import AbstractResolver
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.delivery.ssrf import (
    BlockedAddressError,
    GuardedResolver,
    InvalidHostError,
    is_blocked,
    literal_host_error,
    parse_ip_literal,
    unwrap,
)

if TYPE_CHECKING:
    from aiohttp.abc import ResolveResult

BLOCKED = [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",
    "100.100.100.200",
    "198.18.0.1",
    "198.19.255.255",
    "169.254.169.254",
    "169.254.0.1",
    "192.0.0.192",
    "192.0.2.1",
    "198.51.100.7",
    "203.0.113.9",
    "192.88.99.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::7f00:1",  # IPv4-compatible (deprecated)
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a00:1::",  # 6to4 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::808:808",  # local-use NAT64
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001:db8::1",
    "3fff::1",
    "fc00::1",
    "fd00:ec2::254",
    "fe80::1",
    "fe80::1%eth0",
    "fec0::1",
    "ff02::1",
    "ff0e::1",
    "100::1",
    "5f00::1",
]
ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "::ffff:8.8.8.8",
    "2002:808:808::1",
    "64:ff9b::808:808",
    "2606:4700:4700::1111",
    "2a00:1450:4001:81b::200e",
]


@pytest.mark.parametrize("address", BLOCKED)
def test_blocked(address: str) -> None:
    assert is_blocked(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_allowed(address: str) -> None:
    assert not is_blocked(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("address", "embedded"),
    [
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("2002:a01:203::", "10.1.2.3"),
        ("64:ff9b::a01:203", "10.1.2.3"),
        ("2606:4700::1", "2606:4700::1"),
        ("10.1.2.3", "10.1.2.3"),
    ],
)
def test_unwrap(address: str, embedded: str) -> None:
    assert unwrap(ipaddress.ip_address(address)) == ipaddress.ip_address(embedded)


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_embedded_forms_are_judged_like_the_ipv4_address(value: int) -> None:
    v4 = ipaddress.IPv4Address(value)
    mapped = ipaddress.IPv6Address((0xFFFF << 32) | value)
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (value << 80) | 1)
    nat64 = ipaddress.IPv6Address((0x64FF9B << 96) | value)
    assert is_blocked(mapped) == is_blocked(sixtofour) == is_blocked(nat64) == is_blocked(v4)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7F.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("10.0.0.1.", "10.0.0.1"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("[::1]", "::1"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
        ("[fe80::1%25eth0]", "fe80::1%eth0"),
    ],
)
def test_parse_ip_literal(host: str, expected: str) -> None:
    assert parse_ip_literal(host) == ipaddress.ip_address(expected)


@pytest.mark.parametrize("host", ["example.com", "localhost", "1.2.3.4.example", "0x7g", "xn--bcher-kva.ch"])
def test_dns_names_are_not_literals(host: str) -> None:
    assert parse_ip_literal(host) is None
    assert literal_host_error(host) is None


@pytest.mark.parametrize(
    "host",
    [
        "1.2.3.4.5",
        "256.0.0.1",
        "1.2.65536",
        "4294967296",
        "09.1.1.1",
        "0x7g.1",
        "1_27.0.0.1",
        "+1.1",
        "1..1",
        "[::zz]",
        "1:2",
    ],
)
def test_malformed_numeric_hosts_are_refused(host: str) -> None:
    with pytest.raises(InvalidHostError):
        parse_ip_literal(host)
    error = literal_host_error(host)
    assert error is not None and error.startswith("invalid_url: ")


@pytest.mark.parametrize(
    ("host", "error"),
    [
        ("127.0.0.1", "blocked_address: 127.0.0.1"),
        ("0x7f.1", "blocked_address: 127.0.0.1"),
        ("2130706433", "blocked_address: 127.0.0.1"),
        ("::ffff:a00:1", "blocked_address: 10.0.0.1"),
        ("fd00:ec2::254", "blocked_address: fd00:ec2::254"),
        ("8.8.8.8", None),
        ("2606:4700::1", None),
        ("0x8.8.8.8", "invalid_url: non-canonical IPv4 host '0x8.8.8.8'"),
    ],
)
def test_literal_host_error(host: str, error: str | None) -> None:
    assert literal_host_error(host) == error


class FakeResolver(AbstractResolver):
    """Answers from a script, one list of addresses per call (the last one repeats)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        self.closed = True


def resolve(resolver: AbstractResolver, host: str = "hooks.example") -> list[str]:
    return [result["host"] for result in asyncio.run(resolver.resolve(host, 443, socket.AF_UNSPEC))]


def test_guarded_resolver_keeps_only_allowed_addresses() -> None:
    guarded = GuardedResolver(FakeResolver(["10.0.0.1", "8.8.8.8", "::1", "2606:4700::1"]))
    assert resolve(guarded) == ["8.8.8.8", "2606:4700::1"]


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (["127.0.0.1", "::1"], "127.0.0.1"),
        (["::ffff:169.254.169.254"], "169.254.169.254"),
        (["not-an-ip"], "not-an-ip"),
    ],
)
def test_guarded_resolver_refuses_when_nothing_is_allowed(answer: list[str], shown: str) -> None:
    with pytest.raises(BlockedAddressError) as caught:
        resolve(GuardedResolver(FakeResolver(answer)))
    assert caught.value.address == shown
    assert isinstance(caught.value, OSError)


def test_dns_rebinding_is_caught_at_every_resolution() -> None:
    guarded = GuardedResolver(FakeResolver(["93.184.216.34"], ["127.0.0.1"]))
    assert resolve(guarded) == ["93.184.216.34"]
    with pytest.raises(BlockedAddressError):
        resolve(guarded)


def test_guarded_resolver_closes_the_inner_one() -> None:
    inner = FakeResolver(["8.8.8.8"])
    asyncio.run(GuardedResolver(inner).close())
    assert inner.closed
