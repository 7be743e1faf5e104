"""Use cases. Each takes a `Context` of adapters (ports) and raises domain errors; no HTTP here."""

from chalicelib.services.context import Context

__all__ = ["Context"]
