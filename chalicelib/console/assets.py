"""The console's files: read once from `static/` and `templates/`, versioned by their content.

Asset URLs carry a version (a hash of every file), so they are cached as immutable for a year and a
new deployment is picked up as soon as the page (never cached) is loaded again. Every response of
the console carries a strict Content-Security-Policy: scripts and styles from this origin only,
nothing inline, no framing; the API (same origin) and, on AWS, Cognito's token endpoint are the
only places the page may connect to.
"""

from __future__ import annotations

import functools
import hashlib
import html
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATE = HERE / "templates" / "index.html"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"


@dataclass(frozen=True)
class Asset:
    """One static file as served."""

    body: str
    content_type: str


@dataclass(frozen=True)
class Bundle:
    """Every asset by file name, and the version that names this set of contents."""

    files: dict[str, Asset]
    version: str
    template: str


@functools.cache
def bundle() -> Bundle:
    """The console's files, read on first use (text only: API Gateway returns them as they are)."""
    files: dict[str, Asset] = {}
    digest = hashlib.sha256()
    for path in sorted(STATIC.iterdir()):
        content_type = CONTENT_TYPES.get(path.suffix)
        if content_type is None or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        files[path.name] = Asset(text, content_type)
        digest.update(path.name.encode() + b"\0" + text.encode() + b"\0")
    template = TEMPLATE.read_text(encoding="utf-8")
    digest.update(template.encode())
    return Bundle(files, digest.hexdigest()[:16], template)


def page(prefix: str) -> str:
    """The HTML page, its asset URLs under `prefix` (the path before `/console`, e.g. `/api`)."""
    current = bundle()
    assets = html.escape(f"{prefix}/console/assets/{current.version}", quote=True)
    return current.template.replace("{{assets}}", assets)


def security_headers(connect_to: tuple[str, ...] = ()) -> dict[str, str]:
    """Headers of every console response; `connect_to`: origins besides ours the page may fetch from."""
    connect = " ".join(("'self'", *connect_to))
    policy = "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {connect}",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
