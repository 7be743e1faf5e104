"""HttpSender against real loopback receivers: signing, statuses, deadline, SSRF guard, pooling."""

from __future__ import annotations

import asyncio
import base64
import http.server
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.delivery import HttpSender, send_once
from chalicelib.delivery.classify import describe_exception, parse_retry_after, status_error
from chalicelib.delivery.ssrf import BlockedAddressError
from chalicelib.domain.delivery import AttemptOutcome, DeliveryRequest

pytestmark = pytest.mark.timeout(20)

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SECRET_A = "whsec_" + base64.b64encode(b"a" * 32).decode()
SECRET_B = "whsec_" + base64.b64encode(b"b" * 24).decode()
USER_AGENT = "point-in-time-scheduler/test"
BODY = b'{"hello":"world","n":1}'


@dataclass
class Seen:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: Any


@dataclass
class Receiver:
    """A running loopback receiver and what it received."""

    port: int
    seen: list[Seen] = field(default_factory=list)

    def url(self, host: str = "127.0.0.1", path: str = "/hook") -> str:
        return f"http://{host}:{self.port}{path}"


@asynccontextmanager
async def receiver(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[Receiver]:
    """Serve ``handler`` on 127.0.0.1 at a free port, recording every request."""
    box: list[Receiver] = []

    async def record(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        box[0].seen.append(Seen(request.method, request.path, dict(request.headers), body, peer))
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start()
    box.append(Receiver(port=runner.addresses[0][1]))
    try:
        yield box[0]
    finally:
        await runner.cleanup()


def reply(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> Handler:
    async def handle(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=body, headers=headers)

    return handle


def make_request(url: str, *, secrets: tuple[str, ...] = (SECRET_A,), attempt: int = 1) -> DeliveryRequest:
    return DeliveryRequest(
        message_id="msg_01JABCDEFGHJKMNPQRSTVWXYZ0",
        app_id="app_01JABCDEFGHJKMNPQRSTVWXYZ0",
        url=url,
        headers={"X-Api-Key": "k-123", "webhook-id": "forged"},
        body=BODY,
        secrets=secrets,
        scheduled_at="2026-12-01T10:00:00.000Z",
        attempt=attempt,
    )


async def send_with(request: DeliveryRequest, **kwargs: Any) -> AttemptOutcome:
    sender = HttpSender(user_agent=USER_AGENT, **kwargs)
    try:
        return await sender.send(request)
    finally:
        await sender.aclose()


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1 and its key; return their paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(tz=UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- headers and signatures ---------------------------------------------------------------


@pytest.mark.parametrize("secrets", [(SECRET_A,), (SECRET_A, SECRET_B)], ids=["one-secret", "two-secrets"])
def test_headers_and_signature_verify_with_standardwebhooks(secrets: tuple[str, ...]) -> None:
    async def scenario() -> tuple[AttemptOutcome, Seen]:
        async with receiver(reply(204)) as rx:
            outcome = await send_with(make_request(rx.url(), secrets=secrets, attempt=3))
            return outcome, rx.seen[0]

    outcome, seen = run(scenario())
    assert (outcome.ok, outcome.status_code, outcome.error, outcome.response_snippet) == (True, 204, None, "")
    headers = {k.lower(): v for k, v in seen.headers.items()}
    assert (seen.method, seen.path, seen.body) == ("POST", "/hook", BODY)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == USER_AGENT
    assert headers["x-api-key"] == "k-123"
    assert headers["webhook-id"] == "msg_01JABCDEFGHJKMNPQRSTVWXYZ0"
    assert headers["webhook-timestamp"] == str(outcome.started_at_ms // 1000)
    assert headers["scheduler-scheduled-at"] == "2026-12-01T10:00:00.000Z"
    assert headers["scheduler-attempt"] == "3"
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == len(secrets) and all(s.startswith("v1,") for s in signatures)
    for secret in secrets:
        assert Webhook(secret).verify(seen.body, headers) == {"hello": "world", "n": 1}
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"c" * 32).decode()).verify(seen.body, headers)


def test_outcome_times_come_from_injected_clock() -> None:
    async def scenario() -> AttemptOutcome:
        async with receiver(reply(200)) as rx:
            return await send_with(make_request(rx.url()), now_ms=lambda: 1_700_000_000_123)

    outcome = run(scenario())
    assert outcome.started_at_ms == 1_700_000_000_123
    assert 0 <= outcome.duration_ms < 2000


# --- statuses ---------------------------------------------------------------------------------


def test_500_snippet_is_first_kib_decoded_with_replacement() -> None:
    body = "é".encode() * 3000  # 6000 bytes; byte 1024 splits nothing, so test the cut too
    body = b"x" + body  # now the 1024-byte cut falls inside a 2-byte character

    async def scenario() -> AttemptOutcome:
        async with receiver(reply(500, body)) as rx:
            return await send_with(make_request(rx.url()))

    outcome = run(scenario())
    assert (outcome.ok, outcome.status_code, outcome.error) == (False, 500, "http_status: 500")
    assert outcome.response_snippet == body[:1024].decode("utf-8", errors="replace")
    assert outcome.response_snippet.endswith("\ufffd")


def test_410_is_reported_with_its_status() -> None:
    async def scenario() -> AttemptOutcome:
        async with receiver(reply(410, b"gone")) as rx:
            return await send_with(make_request(rx.url()))

    outcome = run(scenario())
    assert (outcome.ok, outcome.status_code, outcome.error, outcome.response_snippet) == (
        False,
        410,
        "http_status: 410",
        "gone",
    )


def test_redirect_is_not_followed() -> None:
    async def scenario() -> tuple[AttemptOutcome, list[Seen]]:
        async with receiver(reply(302, headers={"Location": "/elsewhere"})) as rx:
            return await send_with(make_request(rx.url())), rx.seen

    outcome, seen = run(scenario())
    assert (outcome.ok, outcome.status_code, outcome.error) == (False, 302, "redirect_not_followed")
    assert [s.path for s in seen] == ["/hook"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), ("999999999", 86_400.0), ("soon", None), (None, None)],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    headers = {"Retry-After": value} if value is not None else None

    async def scenario() -> AttemptOutcome:
        async with receiver(reply(503, headers=headers)) as rx:
            return await send_with(make_request(rx.url()))

    outcome = run(scenario())
    assert (outcome.status_code, outcome.error, outcome.retry_after_s) == (503, "http_status: 503", expected)


def test_retry_after_http_date_is_relative_to_the_clock() -> None:
    now_ms = 1_800_000_000_000
    date = format_datetime(datetime.fromtimestamp(now_ms / 1000 + 90, tz=UTC), usegmt=True)

    async def scenario() -> AttemptOutcome:
        async with receiver(reply(429, headers={"Retry-After": date})) as rx:
            return await send_with(make_request(rx.url()), now_ms=lambda: now_ms)

    outcome = run(scenario())
    assert (outcome.status_code, outcome.retry_after_s) == (429, 90.0)


def test_cookies_are_not_kept_between_deliveries() -> None:
    async def scenario() -> list[Seen]:
        async with receiver(reply(200, headers={"Set-Cookie": "session=abc; Path=/"})) as rx:
            sender = HttpSender(user_agent=USER_AGENT)
            try:
                for _ in range(2):
                    assert (await sender.send(make_request(rx.url()))).ok
            finally:
                await sender.aclose()
            return rx.seen

    seen = run(scenario())
    assert all("Cookie" not in s.headers for s in seen)


# --- deadline ----------------------------------------------------------------------------------


@asynccontextmanager
async def trickling_server(prefix: bytes, trickle: bytes) -> AsyncIterator[int]:
    """Raw server: read the request head, send ``prefix``, then one byte of ``trickle`` per 0.1 s."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(prefix)
            for byte in trickle:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.1)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def test_deadline_cuts_a_receiver_trickling_its_headers() -> None:
    async def scenario() -> AttemptOutcome:
        async with trickling_server(b"", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" * 10) as port:
            return await send_with(make_request(f"http://127.0.0.1:{port}/"), timeout_s=0.5)

    started = time.monotonic()
    outcome = run(scenario())
    assert (outcome.status_code, outcome.error, outcome.ok) == (None, "timeout", False)
    assert 450 <= outcome.duration_ms < 1500
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(("status", "error"), [(200, None), (500, "http_status: 500")])
def test_deadline_cuts_a_trickling_body_and_the_status_decides(status: int, error: str | None) -> None:
    head = f"HTTP/1.1 {status} X\r\nContent-Length: 1000\r\n\r\n".encode()

    async def scenario() -> AttemptOutcome:
        async with trickling_server(head, b"abcdefghij" * 100) as port:
            return await send_with(make_request(f"http://127.0.0.1:{port}/"), timeout_s=0.5)

    outcome = run(scenario())
    assert (outcome.status_code, outcome.error) == (status, error)
    assert 450 <= outcome.duration_ms < 1500
    assert outcome.response_snippet.startswith("abc") and len(outcome.response_snippet) < 10


# --- connection errors and SSRF guard -------------------------------------------------------


def test_connection_refused_is_an_outcome() -> None:
    outcome = run(send_with(make_request(f"http://127.0.0.1:{closed_port()}/")))
    assert (outcome.status_code, outcome.error, outcome.ok) == (None, "connection_error: connection_refused", False)


def test_bad_secret_is_an_outcome_not_an_exception() -> None:
    outcome = run(send_with(make_request(f"http://127.0.0.1:{closed_port()}/", secrets=("whsec_",))))
    assert outcome.error is not None and outcome.error.startswith("signing_error: ")


def test_name_resolving_to_loopback_is_blocked_unless_private_allowed() -> None:
    async def scenario() -> tuple[AttemptOutcome, AttemptOutcome, int]:
        async with receiver(reply(200)) as rx:
            blocked = await send_with(make_request(rx.url("localhost")), allow_private=False)
            count = len(rx.seen)
            allowed = await send_with(make_request(rx.url("localhost")), allow_private=True)
            return blocked, allowed, count

    blocked, allowed, count_when_blocked = run(scenario())
    assert blocked.error in {"blocked_address: 127.0.0.1", "blocked_address: ::1"}
    assert blocked.status_code is None and count_when_blocked == 0
    assert allowed.ok


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.1", "127.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"]
)
def test_literal_spellings_of_loopback_are_blocked(host: str) -> None:
    async def scenario() -> tuple[AttemptOutcome, int]:
        async with receiver(reply(200)) as rx:
            outcome = await send_with(make_request(rx.url(host)), allow_private=False)
            return outcome, len(rx.seen)

    outcome, count = run(scenario())
    assert (outcome.error, outcome.status_code, count) == ("blocked_address: 127.0.0.1", None, 0)


@pytest.mark.parametrize("url", ["http://[::1]:9/", "http://[fd00:ec2::254]/", "http://169.254.169.254/latest/"])
def test_other_private_literals_are_blocked_without_connecting(url: str) -> None:
    outcome = run(send_with(make_request(url), allow_private=False))
    assert outcome.error is not None and outcome.error.startswith("blocked_address: ")


def test_environment_proxies_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    bogus = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, bogus)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    async def scenario() -> AttemptOutcome:
        async with receiver(reply(200)) as rx:
            return await send_with(make_request(rx.url()))

    assert run(scenario()).ok


def test_receiver_closing_without_answer_is_a_connection_error() -> None:
    async def scenario() -> AttemptOutcome:
        async with trickling_server(b"", b"") as port:
            return await send_with(make_request(f"http://127.0.0.1:{port}/"))

    outcome = run(scenario())
    assert (outcome.status_code, outcome.error) == (None, "connection_error: server_disconnected")


def test_untrusted_certificate_is_a_tls_error(tmp_path: Path) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*self_signed_certificate(tmp_path))

    async def scenario() -> AttemptOutcome:
        async with receiver(reply(200), ssl_context=context) as rx:
            return await send_with(make_request(f"https://127.0.0.1:{rx.port}/"))

    outcome = run(scenario())
    assert (outcome.status_code, outcome.error) == (None, "tls_error: self-signed certificate")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://[::1/", "invalid_url: ValueError"),
        ("http://127.0.0.1:99999/", "invalid_url: ValueError"),
        ("ftp://127.0.0.1/", "invalid_url: ftp://127.0.0.1/"),
        ("http:///no-host", "invalid_url: http:///no-host"),
    ],
)
def test_invalid_urls_are_outcomes(url: str, error: str) -> None:
    outcome = run(send_with(make_request(url)))
    assert (outcome.status_code, outcome.error) == (None, error)


# --- pooling and concurrency ---------------------------------------------------------------------


@pytest.mark.parametrize(("body_size", "reused"), [(5_000, True), (200_000, False)])
def test_keep_alive_survives_bodies_up_to_the_drain_limit(body_size: int, reused: bool) -> None:
    async def scenario() -> list[Seen]:
        async with receiver(reply(500, b"z" * body_size)) as rx:
            sender = HttpSender(user_agent=USER_AGENT)
            try:
                for _ in range(5):
                    outcome = await sender.send(make_request(rx.url()))
                    assert outcome.response_snippet == "z" * 1024
            finally:
                await sender.aclose()
            return rx.seen

    peers = {s.peer for s in run(scenario())}
    assert len(peers) == (1 if reused else 5)


def test_200_concurrent_sends_succeed() -> None:
    async def scenario() -> tuple[list[AttemptOutcome], int]:
        async with receiver(reply(200, b"ok")) as rx:
            sender = HttpSender(user_agent=USER_AGENT, max_connections=64)
            try:
                outcomes = await asyncio.gather(*(sender.send(make_request(rx.url())) for _ in range(200)))
            finally:
                await sender.aclose()
            return list(outcomes), len({s.peer for s in rx.seen})

    outcomes, connections = run(scenario())
    assert all(o.ok and o.response_snippet == "ok" for o in outcomes)
    assert connections <= 64


def test_closed_sender_refuses_to_send() -> None:
    async def scenario() -> None:
        sender = HttpSender(user_agent=USER_AGENT)
        await sender.aclose()
        with pytest.raises(RuntimeError):
            await sender.send(make_request("http://127.0.0.1:9/"))

    run(scenario())


# --- send_once (sync, for a Lambda) --------------------------------------------------------------


@contextmanager
def threaded_http_server() -> Iterator[tuple[int, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(dict(self.headers))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_send_once_delivers_from_sync_code() -> None:
    with threaded_http_server() as (port, seen):
        outcome = send_once(make_request(f"http://127.0.0.1:{port}/"), user_agent=USER_AGENT, timeout_s=5)
    assert (outcome.ok, outcome.status_code) == (True, 202)
    assert Webhook(SECRET_A).verify(BODY, seen[0])


# --- classification helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (200, None),
        (204, None),
        (299, None),
        (301, "redirect_not_followed"),
        (304, "redirect_not_followed"),
        (400, "http_status: 400"),
        (410, "http_status: 410"),
        (429, "http_status: 429"),
        (503, "http_status: 503"),
    ],
)
def test_status_error(status: int, error: str | None) -> None:
    assert status_error(status) == error


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        (" 30 ", 30.0),
        ("86401", 86_400.0),
        ("1" * 40, 86_400.0),
        ("-5", None),
        ("1.5", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
        ("Sun, 17 Jan 2027 08:00:00 GMT", 86_400.0),  # far ahead: capped
        ("Fri, 15 Jan 2027 08:00:30 GMT", 30.0),
        ("Fri, 15 Jan 2027 08:00:30 -0000", 30.0),
        ("Friday, 15-Jan-27 08:00:30 GMT", 30.0),  # obsolete RFC 850 form, still allowed
    ],
)
def test_parse_retry_after(value: str, expected: float | None) -> None:
    now_ms = int(datetime(2027, 1, 15, 8, 0, 0, tzinfo=UTC).timestamp() * 1000)
    assert parse_retry_after(value, now_ms=now_ms) == expected


def _connector_error(os_error: OSError) -> aiohttp.ClientConnectorError:
    key = SimpleNamespace(host="hooks.example", port=443, ssl=True)
    return aiohttp.ClientConnectorDNSError(key, os_error)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        (TimeoutError(), "timeout"),
        (aiohttp.ConnectionTimeoutError(), "timeout"),
        (
            _connector_error(socket.gaierror(-2, "Name or service not known")),
            "connection_error: dns: Name or service not known",
        ),
        (_connector_error(BlockedAddressError("10.0.0.1")), "blocked_address: 10.0.0.1"),
        (aiohttp.ClientConnectionResetError(), "connection_error: connection_reset"),
        (
            aiohttp.ClientPayloadError("Response payload is not completed"),
            "invalid_response: Response payload is not completed",
        ),
        (RuntimeError("bug"), "internal_error: RuntimeError: bug"),
    ],
)
def test_describe_exception(exc: BaseException, error: str) -> None:
    assert describe_exception(exc) == error
