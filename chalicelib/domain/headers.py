"""Rules for an app's own headers and URL: what a tenant may add to every delivery of its app.

A delivery's protocol headers are ours: the app's headers can neither break the request's framing
(hop-by-hop and length headers, `expect`), nor change how the body is read (`content-type`,
`content-encoding`), nor forge the signing and scheduler headers or our `user-agent`. The API refuses
such names with a 400 naming the header, and the sender drops them again (defence in depth: a row
written before these rules, or by another tool, must not reach a receiver).

An app URL's query values are treated like header values: often a token (`?token=…`), so they are
write-only. Responses show `mask_url_query(url)` (names kept, values `***`), and a change that sends
that masked form back means "unchanged" (`is_masked_form`), so a client that edits only the name
does not overwrite the real token with `***`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

# RFC 9110 token characters: what a field name may consist of.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")
# A field value is visible ASCII, space, tab and obs-text (RFC 9110 §5.5); no CR, LF, NUL or other controls.
_BAD_VALUE_CHAR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "user-agent",
    }
)
RESERVED_PREFIXES = ("proxy-", "webhook-", "scheduler-")


def is_reserved(name: str) -> bool:
    """Whether a header name belongs to the delivery itself (any case)."""
    lowered = name.lower()
    return lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_PREFIXES)


def header_problem(name: str, value: str) -> str | None:
    """Why an app may not send this header, or None when it may."""
    if not _TOKEN.match(name):
        return f"header name {name!r} is not a valid HTTP token"
    if is_reserved(name):
        return f"header {name!r} is reserved: the scheduler sets it on every delivery"
    if _BAD_VALUE_CHAR.search(value):
        return f"the value of header {name!r} contains a control character"
    return None


def check_header_set(headers: Mapping[str, str]) -> None:
    """`ValueError` naming the first header an app may not have (names compare case-insensitively)."""
    seen: set[str] = set()
    for name, value in headers.items():
        problem = header_problem(name, value)
        if problem is not None:
            raise ValueError(problem)
        if name.lower() in seen:
            raise ValueError(f"header {name!r} is given twice (names are case-insensitive)")
        seen.add(name.lower())


def header_bytes(headers: Mapping[str, str]) -> int:
    """What a header set adds to every request, as counted against a plan's limit (`name: value`)."""
    return sum(len(name.encode()) + len(value.encode()) for name, value in headers.items())


def check_app_url(value: str) -> str:
    """An absolute http(s) URL with a host and without credentials; else `ValueError`."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("url must not contain whitespace or control characters")
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise ValueError(f"url is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not hostname:
        raise ValueError("url must be an absolute http or https URL")
    if "@" in parts.netloc:
        raise ValueError("url must not contain credentials (user:password@); put credentials in a header")
    return value


URL_VALUE_MASK = "***"


def mask_url_query(url: str) -> str:
    """`url` with every query value replaced by `***` (parameter names kept; a bare `?value` is masked
    whole, since it may be the token itself). The rest of the URL is returned exactly as stored."""
    base, question, rest = url.partition("?")
    if not question:
        return url
    query, hash_sign, fragment = rest.partition("#")
    masked = "&".join(_mask_pair(pair) for pair in query.split("&"))
    return f"{base}?{masked}{hash_sign}{fragment}"


def _mask_pair(pair: str) -> str:
    name, equals, value = pair.partition("=")
    if not equals:
        return URL_VALUE_MASK if name else name
    return f"{name}={URL_VALUE_MASK}" if value else pair


def is_masked_form(candidate: str, stored: str) -> bool:
    """Whether `candidate` is what responses show for `stored` (so a change to it means no change)."""
    return candidate != stored and candidate == mask_url_query(stored)
