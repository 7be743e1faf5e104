"""Registers the client subcommands of `scheduler` (everything but the server's `serve`)."""

from __future__ import annotations

from typing import Any

from scheduler_cli import admin, messages, schedules, tail


def add_client_parsers(commands: Any) -> None:
    """Add tenants, keys, apps, send, ls, show, cancel, redrive, attempts, tail, usage and schedules."""
    admin.add_parsers(commands)
    messages.add_parsers(commands)
    schedules.add_parsers(commands)
    tail.add_parser(commands)
