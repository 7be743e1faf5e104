"""`scheduler serve`: the service behind a threaded HTTP server (the local backend: SQLite + in-process timer).

The server distribution registers `add_serve_parser` under the `scheduler_cli.commands` entry point group,
so the `scheduler` command (client distribution) offers `serve` only where the server is installed.
Importing this module loads neither the server nor Chalice: `run_serve` does, when `serve` runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

log = logging.getLogger("scheduler")


def add_serve_parser(commands: Any) -> None:
    """Register `serve` on the subcommand parser."""
    parser = commands.add_parser("serve", help="run the local scheduler (API + delivery engine)")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--threads", type=int, default=16, help="HTTP worker threads")
    parser.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Open the data directory, start the engine, serve until SIGINT/SIGTERM, then stop cleanly."""
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from chalicelib import bootstrap
    from chalicelib.settings import ConfigError, get_settings
    from scheduler_local.server import serve
    from scheduler_local.wiring import DataDirBusy, bootstrap_admin_key

    try:
        settings = get_settings()
        runtime = bootstrap.build(settings)
    except ConfigError as exc:
        print(f"scheduler: configuration error: {exc}", file=sys.stderr)
        return 2
    except DataDirBusy as exc:
        print(f"scheduler: {exc}", file=sys.stderr)
        return 1
    try:
        if settings.backend == "local":
            bootstrap_admin_key(runtime.context, settings)
        recovered = runtime.start()
        if recovered:
            log.info("took back %d messages an earlier run was delivering", recovered)
        bootstrap.install(runtime)
        from app import app

        serve(app, args.host, args.port, threads=args.threads)
    finally:
        bootstrap.install(None)
        runtime.close()
    return 0
