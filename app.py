"""The Chalice app: the REST API of the point-in-time scheduler.

Thin on purpose: routes live in `chalicelib.api` blueprints; adapters are built lazily by
`chalicelib.bootstrap` on the first request, never at import. `ThreadSafeChalice` keeps
`current_request` per thread, so the app can sit behind a threaded local server.
"""

from __future__ import annotations

from chalicelib import api
from chalicelib.server.threadlocal import ThreadSafeChalice

app = ThreadSafeChalice(app_name="scheduler")
api.register(app)
