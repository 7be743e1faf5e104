"""`scheduler` entry point: dispatches subcommands (`serve` starts the local service)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from chalicelib.cli.commands import add_client_parsers
from chalicelib.cli.serve import add_serve_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `scheduler` command; returns the exit code."""
    parser = argparse.ArgumentParser(prog="scheduler", description="Point-in-time webhook scheduler.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_serve_parser(commands)
    add_client_parsers(commands)
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
