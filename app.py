"""The Chalice app: the REST API of the point-in-time scheduler, and its other Lambdas.

Thin on purpose: routes live in `chalicelib.api` blueprints, the web console in `chalicelib.console`, the
authorizer in `chalicelib.authorizer`, the delivery, cleanup and Cognito trigger Lambdas in `chalicelib.triggers`;
adapters are built lazily by `chalicelib.bootstrap` on the first request, never at import (inside Lambda,
`chalicelib.warmup` builds them in the init phase instead). `ThreadSafeChalice`
keeps `current_request` per thread, so the app can sit behind a threaded local server.
"""

from __future__ import annotations

from chalicelib import api, authorizer, console, observability, triggers, warmup
from chalicelib.threadlocal import ThreadSafeChalice

# configure_logs=False: Chalice would set the `scheduler` logger to ERROR and stop it propagating, which
# silences the `scheduler.access` and `scheduler.delivery` INFO lines; the process configures logging.
app = ThreadSafeChalice(app_name="scheduler", configure_logs=False)
api.register(app)
app.register_blueprint(console.bp)
app.register_blueprint(authorizer.bp)
app.register_blueprint(triggers.bp)
authorizer.protect_routes(app)
observability.install(app)
warmup.at_init(__name__)  # in Lambda's init phase only: builds the runtime before the first request
