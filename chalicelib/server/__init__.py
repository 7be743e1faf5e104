"""Serving the Chalice app locally: a thread-safe app class, a WSGI adapter and a server.

* ``ThreadSafeChalice`` (``threadlocal``): ``Chalice`` with per-thread ``current_request``
  and ``lambda_context``; use it for the app so a threaded server cannot mix requests.
* ``ChaliceWSGI`` (``wsgi``): WSGI → API Gateway REST proxy event → ``app(event, None)``.
* ``serve`` / ``Server`` (``chalicelib.server.serve``): waitress in one process, graceful
  stop on SIGINT/SIGTERM. Import them from that module: the package does not, so the
  Lambda build, which packages this package for ``ThreadSafeChalice``, never needs waitress
  (and the function ``serve`` is never confused with the submodule of the same name).
"""

from __future__ import annotations

from chalicelib.server.threadlocal import ThreadSafeChalice
from chalicelib.server.wsgi import ChaliceWSGI

__all__ = ["ChaliceWSGI", "ThreadSafeChalice"]
