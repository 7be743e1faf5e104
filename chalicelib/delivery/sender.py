"""Outbound HTTP delivery with aiohttp: one attempt in, one ``AttemptOutcome`` out.

One ``HttpSender`` holds one ``aiohttp.ClientSession`` (made lazily inside the running loop)
with a keep-alive connection pool. Every attempt is bounded as a whole (connect, send,
headers and body) by ``timeout_s``. Redirects are not followed, proxies and cookies are
ignored, and with ``allow_private=False`` only globally routable addresses are connected to
(see ``ssrf``).

Once a status line and headers have arrived, the status decides the outcome; the body is
read only for the snippet, best-effort within what is left of the deadline. Up to 64 KiB is
drained so that the connection can go back to the pool; a longer or late body closes it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NotRequired, TypedDict, Unpack

import aiohttp
from aiohttp.resolver import DefaultResolver
from yarl import URL

from chalicelib.delivery.classify import describe_exception, parse_retry_after, status_error
from chalicelib.delivery.signing import build_headers
from chalicelib.delivery.ssrf import GuardedResolver, literal_host_error
from chalicelib.domain.delivery import AttemptOutcome, DeliveryRequest

if TYPE_CHECKING:
    from aiohttp.abc import AbstractResolver
    from multidict import CIMultiDict

__all__ = ["DRAIN_LIMIT", "SNIPPET_LIMIT", "HttpSender", "SenderOptions", "send_once"]

SNIPPET_LIMIT = 1024
DRAIN_LIMIT = 64 * 1024
_log = logging.getLogger(__name__)


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@functools.lru_cache(maxsize=4096)
def _target(url: str) -> URL:
    return URL(url)


class SenderOptions(TypedDict):
    """Keyword arguments of ``HttpSender`` (for ``send_once``)."""

    user_agent: str
    timeout_s: NotRequired[float]
    allow_private: NotRequired[bool]
    max_connections: NotRequired[int]
    now_ms: NotRequired[Callable[[], int]]


class HttpSender:
    """Deliver ``DeliveryRequest``s over one pooled aiohttp session.

    ``send`` never raises for network or HTTP problems: it returns an ``AttemptOutcome``.
    The sender belongs to the event loop of its first ``send``; ``aclose`` it on shutdown.
    """

    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        allow_private: bool = True,
        user_agent: str,
        max_connections: int = 512,
        now_ms: Callable[[], int] = _wall_clock_ms,
    ) -> None:
        self._timeout_s = timeout_s
        self._allow_private = allow_private
        self._user_agent = user_agent
        self._max_connections = max_connections
        self._now_ms = now_ms
        self._session: aiohttp.ClientSession | None = None
        self._resolver: AbstractResolver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def send(self, request: DeliveryRequest) -> AttemptOutcome:
        """Make one attempt and describe how it went."""
        session = self._session_for_running_loop()
        started_at_ms = self._now_ms()
        started = time.monotonic()
        try:
            status, snippet, retry_after = await self._attempt(session, request, started_at_ms)
        except _Refused as refused:
            return self._outcome(started_at_ms, started, None, refused.error)
        except Exception as exc:  # every failure becomes an outcome
            if not isinstance(exc, aiohttp.ClientError | OSError):
                _log.warning("delivery attempt of %s failed unexpectedly", request.message_id, exc_info=True)
            return self._outcome(started_at_ms, started, None, describe_exception(exc))
        return self._outcome(
            started_at_ms, started, status, status_error(status), snippet=snippet, retry_after=retry_after
        )

    async def aclose(self) -> None:
        """Close the pooled connections; the sender cannot send afterwards."""
        self._closed = True
        session, resolver = self._session, self._resolver
        self._session = self._resolver = None
        if session is not None:
            await session.close()
        if resolver is not None:
            await resolver.close()

    async def _attempt(
        self, session: aiohttp.ClientSession, request: DeliveryRequest, started_at_ms: int
    ) -> tuple[int, str, float | None]:
        try:
            url = _target(request.url)
        except (TypeError, ValueError) as exc:
            raise _Refused(f"invalid_url: {type(exc).__name__}") from exc
        if not self._allow_private and url.raw_host is not None:
            refusal = literal_host_error(url.raw_host)
            if refusal is not None:
                raise _Refused(refusal)
        headers = _signed_headers(request, started_at_ms // 1000, self._user_agent)
        deadline = asyncio.get_running_loop().time() + self._timeout_s
        async with asyncio.timeout_at(deadline):
            response = await session.post(url, data=request.body, headers=headers, allow_redirects=False)
        snippet = await _read_snippet(response, deadline)
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now_ms=self._now_ms())
        return response.status, snippet, retry_after

    def _outcome(
        self,
        started_at_ms: int,
        started: float,
        status: int | None,
        error: str | None,
        *,
        snippet: str = "",
        retry_after: float | None = None,
    ) -> AttemptOutcome:
        return AttemptOutcome(
            started_at_ms=started_at_ms,
            duration_ms=round((time.monotonic() - started) * 1000),
            status_code=status,
            error=error,
            response_snippet=snippet,
            retry_after_s=retry_after,
        )

    def _session_for_running_loop(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._closed:
            raise RuntimeError("HttpSender is closed")
        if self._session is None:
            self._session, self._resolver = self._new_session()
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("HttpSender is bound to another event loop")
        return self._session

    def _new_session(self) -> tuple[aiohttp.ClientSession, AbstractResolver]:
        resolver: AbstractResolver = DefaultResolver()
        if not self._allow_private:
            resolver = GuardedResolver(resolver)
        connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0, resolver=resolver)
        session = aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
        )
        return session, resolver


class _Refused(Exception):
    """An attempt the sender refuses to make; ``error`` is the outcome error."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _signed_headers(request: DeliveryRequest, timestamp_s: int, user_agent: str) -> CIMultiDict[str]:
    try:
        return build_headers(
            message_id=request.message_id,
            timestamp_s=timestamp_s,
            body=request.body,
            secrets=request.secrets,
            app_headers=request.headers,
            scheduled_at=request.scheduled_at,
            attempt=request.attempt,
            user_agent=user_agent,
        )
    except Exception as exc:  # a bad secret or body must not crash the engine
        _log.warning("cannot sign message %s: %s", request.message_id, type(exc).__name__)
        raise _Refused(f"signing_error: {type(exc).__name__}") from exc


async def _read_snippet(response: aiohttp.ClientResponse, deadline: float) -> str:
    """Read up to ``DRAIN_LIMIT`` bytes before ``deadline``, then release or close ``response``."""
    head = bytearray()
    complete = False
    try:
        async with asyncio.timeout_at(deadline):
            complete = await _drain(response.content, head)
    except (TimeoutError, aiohttp.ClientError, OSError):
        complete = False
    finally:
        if complete:
            response.release()
        else:
            response.close()
    return head[:SNIPPET_LIMIT].decode("utf-8", errors="replace")


async def _drain(stream: aiohttp.StreamReader, head: bytearray) -> bool:
    """Read the body into ``head`` (its first KiB); tell whether it ended within the limit."""
    total = 0
    while total < DRAIN_LIMIT:
        chunk = await stream.read(DRAIN_LIMIT - total)
        if not chunk:
            return True
        total += len(chunk)
        if len(head) < SNIPPET_LIMIT:
            head += chunk[: SNIPPET_LIMIT - len(head)]
    return stream.at_eof()


def send_once(request: DeliveryRequest, **sender_kwargs: Unpack[SenderOptions]) -> AttemptOutcome:
    """Deliver one request from synchronous code (e.g. a Lambda handler) on a fresh event loop."""

    async def run() -> AttemptOutcome:
        sender = HttpSender(**sender_kwargs)
        try:
            return await sender.send(request)
        finally:
            await sender.aclose()

    return asyncio.run(run())
