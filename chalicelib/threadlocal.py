"""A Chalice app whose ``current_request`` and ``lambda_context`` belong to one thread.

Chalice stores the request being handled in plain instance attributes, so behind a
threaded HTTP server one request reads another's body, headers and tenant. Every place in
chalice 1.34.0 (``chalice/app.py``) that touches them:

* ``Chalice.__call__`` assigns ``self.lambda_context`` and then ``self.current_request``
  (from ``RestAPIEventHandler.create_request_object``) before dispatching;
* ``Blueprint.current_request`` / ``Blueprint.lambda_context`` are properties that read
  ``self._current_app.current_request`` / ``.lambda_context``, so blueprints follow the app;
* ``RestAPIEventHandler`` keeps its own ``current_request`` / ``lambda_context``, but a new
  handler is built for every call, so those are per request already;
* the non-HTTP event handlers (SQS, SNS, schedules, ...) never touch either attribute.

``chalice.local.LocalChalice`` fixes only ``current_request``, with one ``threading.local``
shared by every app object, and raises ``AttributeError`` on a thread that has not handled a
request. Here both attributes live in a per-instance ``threading.local``, read ``None`` when
unset, and are cleared when the call returns so a pooled thread never keeps a stale tenant.
"""

from __future__ import annotations

import threading
from collections.abc import MutableMapping
from typing import Any

from chalice.app import Chalice, Request

__all__ = ["ThreadSafeChalice"]


class ThreadSafeChalice(Chalice):
    """``Chalice`` with per-thread ``current_request`` and ``lambda_context``."""

    def __init__(
        self,
        app_name: str,
        debug: bool = False,
        configure_logs: bool = True,
        env: MutableMapping[str, str] | None = None,
    ) -> None:
        # Must exist before Chalice.__init__ runs, in case it ever touches the properties.
        self._request_state = threading.local()
        super().__init__(app_name, debug=debug, configure_logs=configure_logs, env=env)

    @property
    def current_request(self) -> Request | None:
        """The request this thread is handling, or ``None`` outside a request."""
        return getattr(self._request_state, "request", None)

    @current_request.setter
    def current_request(self, value: Request | None) -> None:
        self._request_state.request = value

    @property
    def lambda_context(self) -> Any:
        """The Lambda context of this thread's request, or ``None``."""
        return getattr(self._request_state, "context", None)

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        self._request_state.context = value

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        """Handle one REST API event, then forget this thread's request."""
        try:
            return super().__call__(event, context)
        finally:
            state = self._request_state
            state.request = None
            state.context = None
