"""Point-in-time scheduler: call an HTTP endpoint at a time the caller chooses."""

__version__ = "0.1.0"
