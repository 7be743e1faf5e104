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
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("scheduler")


def add_serve_parser(commands: Any) -> None:
    """Register `serve` on the subcommand parser."""
    parser = commands.add_parser("serve", help="run the local scheduler (API + delivery engine)")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--threads", type=int, default=16, help="HTTP worker threads")
    parser.set_defaults(handler=run_serve)


def configure_logging(env: Mapping[str, str]) -> None:
    """Root logging at `LOG_LEVEL` (default INFO) on stderr: text lines, or with `LOG_FORMAT=json` one JSON
    object per line (Powertools' formatter: `level`, `message`, `timestamp` and each record's extra keys)."""
    level = env.get("LOG_LEVEL", "INFO").upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
    kind = env.get("LOG_FORMAT", "text").lower()
    handler = logging.StreamHandler(sys.stderr)
    if kind == "json":
        from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

        handler.setFormatter(LambdaPowertoolsFormatter(service="scheduler"))
    elif kind == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        raise ValueError(f"LOG_FORMAT must be text or json, not {kind!r}")
    logging.basicConfig(level=level, handlers=[handler], force=True)


def run_serve(args: argparse.Namespace) -> int:
    """Open the data directory, start the engine, serve until SIGINT/SIGTERM, then stop cleanly."""
    try:
        configure_logging(os.environ)
    except ValueError as exc:
        print(f"scheduler: configuration error: {exc}", file=sys.stderr)
        return 2
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
        from chalicelib.api import access
        from scheduler_local.wsgi import ChaliceWSGI

        serve(ChaliceWSGI(app, access_log=access.log_request), args.host, args.port, threads=args.threads)
    finally:
        bootstrap.install(None)
        runtime.close()
    return 0
