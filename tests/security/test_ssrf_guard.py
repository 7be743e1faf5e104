"""More ways to name a private address, tried with the real `HttpSender` against a loopback receiver.

Extends `tests/unit/test_ssrf.py` (address classes, embedded IPv4, literal parsing, the guarded
resolver) and `tests/integration/test_sender.py` (seven loopback spellings, `localhost`, proxies,
redirects): Unicode digits and dots, credentials, fully hexadecimal or zero-padded quads,
IPv4-compatible, SIIT, NAT64 and 6to4 forms, "this host" addresses, percent-encoding, IDNA-mapped
names, and names whose DNS answer is a private address (a rebinding attacker's answer). Every
spelling here means this machine, so a failing guard would only ever reach our own receiver.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver

from chalicelib.delivery import HttpSender
from chalicelib.delivery import sender as sender_module
from chalicelib.domain.delivery import AttemptOutcome, DeliveryRequest
from tests.reliability.harness import SwitchReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture(scope="module")
def receiver() -> Iterator[SwitchReceiver]:
    with SwitchReceiver() as running:
        yield running


def attempt(url: str, *, allow_private: bool = False) -> AttemptOutcome:
    request = DeliveryRequest(
        message_id="msg_1",
        app_id="app_1",
        url=url,
        headers={},
        body=b"{}",
        secrets=(SECRET,),
        scheduled_at="2026-01-01T00:00:00.000Z",
        attempt=1,
    )

    async def once() -> AttemptOutcome:
        sender = HttpSender(allow_private=allow_private, user_agent="test", timeout_s=3)
        try:
            return await sender.send(request)
        finally:
            await sender.aclose()

    return asyncio.run(once())


@pytest.mark.parametrize(
    ("host", "error"),
    [
        ("\uff11\uff12\uff17.\uff10.\uff10.\uff11", "blocked_address: 127.0.0.1"),  # fullwidth digits
        ("127\u30020\u30020\u30021", "blocked_address: 127.0.0.1"),  # ideographic full stops
        ("user:secret@127.0.0.1", "blocked_address: 127.0.0.1"),
        ("0x7f.0x0.0x0.0x1", "blocked_address: 127.0.0.1"),
        ("127.000.000.001", "blocked_address: 127.0.0.1"),
        ("[0:0:0:0:0:ffff:7f00:1]", "blocked_address: 127.0.0.1"),
        ("[::127.0.0.1]", "blocked_address: ::7f00:1"),  # IPv4-compatible
        ("[::ffff:0:7f00:1]", "blocked_address: ::ffff:0:7f00:1"),  # SIIT
        ("[64:ff9b::7f00:1]", "blocked_address: 127.0.0.1"),  # NAT64
        ("[2002:7f00:1::1]", "blocked_address: 127.0.0.1"),  # 6to4
        ("0.0.0.0", "blocked_address: 0.0.0.0"),
        ("0", "blocked_address: 0.0.0.0"),
        ("[::]", "blocked_address: ::"),
        ("[0::1]", "blocked_address: ::1"),
        ("%31%32%37.0.0.1", "invalid_url: bad IPv4 part '%31%32%37'"),
    ],
)
def test_more_spellings_of_this_machine_are_blocked(receiver: SwitchReceiver, host: str, error: str) -> None:
    before = receiver.count()
    outcome = attempt(receiver.url("/ok", host))
    assert (outcome.status_code, outcome.error) == (None, error)
    assert receiver.count() == before


@pytest.mark.parametrize("host", ["LOCALHOST", "lOcAlHoSt", "\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3"])
def test_names_that_map_to_localhost_are_resolved_then_blocked(receiver: SwitchReceiver, host: str) -> None:
    before = receiver.count()
    outcome = attempt(receiver.url("/ok", host))
    assert outcome.error in ("blocked_address: 127.0.0.1", "blocked_address: ::1")
    assert receiver.count() == before


class ScriptedResolver(AbstractResolver):
    """A DNS server under an attacker's control: every name resolves to `answers`."""

    answers: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
            for address in self.answers
        ]

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "answers",
    [["127.0.0.1"], ["::1"], ["::ffff:127.0.0.1"], ["0.0.0.0"], ["127.0.0.1", "::1"], ["::ffff:7f00:1", "127.0.0.2"]],
)
def test_a_name_answered_with_private_addresses_is_blocked_at_connect(
    receiver: SwitchReceiver, monkeypatch: pytest.MonkeyPatch, answers: list[str]
) -> None:
    monkeypatch.setattr(ScriptedResolver, "answers", answers)
    monkeypatch.setattr(sender_module, "DefaultResolver", ScriptedResolver)
    before = receiver.count()
    blocked = attempt(receiver.url("/ok", "hooks.attacker.test"))
    assert blocked.error is not None and blocked.error.startswith("blocked_address"), blocked
    assert receiver.count() == before
    if answers[0] in ("127.0.0.1", "::ffff:127.0.0.1"):  # the same answer with the guard off does connect
        assert attempt(receiver.url("/ok", "hooks.attacker.test"), allow_private=True).ok
        assert receiver.count() == before + 1
