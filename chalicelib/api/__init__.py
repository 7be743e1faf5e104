"""The HTTP layer: Chalice blueprints per resource, the error middleware, auth, parsing, presenting.

`register(app)` wires it all into a Chalice app; `app.py` does nothing else.
"""

from __future__ import annotations

from chalice.app import Chalice

from chalicelib.api import (
    middleware,
    routes_apps,
    routes_keys,
    routes_messages,
    routes_meta,
    routes_schedules,
    routes_tenants,
    routes_usage,
)

BLUEPRINTS = (
    routes_meta.bp,
    routes_tenants.bp,
    routes_keys.bp,
    routes_apps.bp,
    routes_messages.bp,
    routes_schedules.bp,
    routes_usage.bp,
)


def register(app: Chalice) -> None:
    """Register every blueprint and the error middleware on `app`."""
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    middleware.install(app)
