"""`scheduler` entry point: dispatches subcommands.

The client subcommands are this package's. Others come from installed distributions through the
`scheduler_cli.commands` entry point group: the server registers `serve` there (the local service),
so this distribution never imports, or depends on, the server. Without the server, `scheduler serve`
says how to install it instead of "invalid choice".
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

from scheduler_cli.commands import add_client_parsers

PLUGIN_GROUP = "scheduler_cli.commands"
SERVER_HINT = (
    "scheduler serve runs the scheduler service, which is not installed here; "
    "install the server distribution (`pip install .` in the repository, or `make run`)"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `scheduler` command; returns the exit code."""
    parser = argparse.ArgumentParser(prog="scheduler", description="Point-in-time webhook scheduler.")
    commands = parser.add_subparsers(dest="command", required=True)
    added = add_plugin_parsers(commands)
    if "serve" not in added:
        missing = commands.add_parser("serve", help="run the local scheduler (needs the server distribution)")
        missing.set_defaults(handler=_server_missing)
    add_client_parsers(commands)
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def add_plugin_parsers(commands: Any) -> set[str]:
    """Let every installed `scheduler_cli.commands` entry point add its subcommand; returns their names."""
    added: set[str] = set()
    for entry in entry_points(group=PLUGIN_GROUP):
        entry.load()(commands)
        added.add(entry.name)
    return added


def _server_missing(args: argparse.Namespace) -> int:
    print(f"scheduler: {SERVER_HINT}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
