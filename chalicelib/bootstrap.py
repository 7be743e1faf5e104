"""Builds the adapters for the configured backend, lazily and once; tests install their own.

Nothing here runs at import: the first `get_context()` reads the settings and wires the backend.
"""

from __future__ import annotations

import threading

from chalicelib.services.context import Context
from chalicelib.settings import get_settings

_lock = threading.Lock()
_context: Context | None = None


def get_context() -> Context:
    """The process-wide `Context`, built on first use for `SCHEDULER_BACKEND`."""
    global _context
    if _context is None:
        with _lock:
            if _context is None:
                _context = _build()
    return _context


def install(context: Context | None) -> None:
    """Use `context` from now on (None: build again on next use). For the server and tests."""
    global _context
    with _lock:
        _context = context


def _build() -> Context:
    settings = get_settings()
    if settings.backend == "aws":
        from chalicelib.adapters.aws.wiring import build_aws_context

        return build_aws_context(settings)
    from chalicelib.adapters.local.wiring import build_local_context

    return build_local_context(settings)
