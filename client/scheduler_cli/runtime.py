"""What every client subcommand shares: common options, the client it talks through, and exit codes.

Exit codes: 0 success, 1 the API refused or the server could not be reached (the API's
`code: message` on stderr, no traceback), 2 a usage or configuration error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scheduler_cli import output

if TYPE_CHECKING:
    from scheduler_client import SchedulerClient
    from scheduler_client.config import Settings

Handler = Callable[[argparse.Namespace, "Session"], int]


class UsageError(Exception):
    """The command line or its input cannot be used (exit 2)."""


def common_options() -> argparse.ArgumentParser:
    """The options of every client subcommand (a parent parser)."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("connection and output")
    group.add_argument("--profile", help="profile of the config file (default: $SCHEDULER_PROFILE)")
    group.add_argument("--api-url", help="API base URL (default: $SCHEDULER_URL, else http://127.0.0.1:$PORT)")
    group.add_argument("--api-key", help="API key (default: $SCHEDULER_API_KEY); prefer the environment")
    shape = group.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")
    shape.add_argument(
        "-q", "--quiet", action="store_true", help="print only the id of what was created or changed (for $(...))"
    )
    return parser


def operator_options() -> argparse.ArgumentParser:
    """`--operator-key`, for the tenant commands."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--operator-key", help="operator key (default: $SCHEDULER_OPERATOR_KEY)")
    return parser


@dataclass
class Session:
    """One command's run: its options, resolved settings, client and output."""

    args: argparse.Namespace
    _settings: Settings | None = None
    _client: SchedulerClient | None = field(default=None, repr=False)

    @property
    def json(self) -> bool:
        """Whether to print JSON."""
        return bool(getattr(self.args, "json", False))

    @property
    def quiet(self) -> bool:
        """Whether to print only the id of what the command made or changed."""
        return bool(getattr(self.args, "quiet", False))

    def settings(self) -> Settings:
        """URL and keys from the options, a profile or the environment."""
        if self._settings is None:
            from scheduler_client.config import resolve

            self._settings = resolve(
                url=self.args.api_url,
                api_key=self.args.api_key,
                operator_key=getattr(self.args, "operator_key", None),
                profile=self.args.profile,
            )
        return self._settings

    def client(self, *, operator: bool = False) -> SchedulerClient:
        """The client, authenticated with the API key (or the operator key)."""
        if self._client is None:
            from scheduler_client import RetryPolicy, SchedulerClient

            settings = self.settings()
            token = settings.operator_key if operator else settings.api_key
            if not token:
                raise UsageError(_missing_key_hint(operator))
            self._client = SchedulerClient(settings.url, token, retry=RetryPolicy(max_attempts=3, base_delay_s=0.25))
        return self._client

    def close(self) -> None:
        """Close the client, if one was made."""
        if self._client is not None:
            self._client.close()

    def emit(self, value: Any) -> None:
        """Print `value` as JSON (models as the API sent them)."""
        output.print_json(value)


def _missing_key_hint(operator: bool) -> str:
    if operator:
        return "no operator key: set SCHEDULER_OPERATOR_KEY or pass --operator-key"
    return "no API key: set SCHEDULER_API_KEY, pass --api-key, or select a profile with --profile"


def command(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """Wrap a handler: build its session, map errors to messages on stderr and exit codes."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        from scheduler_client import ConfigError, SchedulerAPIError, SchedulerConnectionError

        session = Session(args)
        try:
            return handler(args, session)
        except (UsageError, ConfigError) as exc:
            return fail(f"error: {exc}", 2)
        except SchedulerAPIError as exc:
            return fail(f"error: {describe_api_error(exc)}", 1)
        except SchedulerConnectionError as exc:
            return fail(f"error: {exc}", 1)
        except KeyboardInterrupt:
            return fail("", 130)
        except BrokenPipeError:  # `scheduler tail | head -1`: the reader left; stop quietly
            _silence_stdout()
            return 141
        finally:
            session.close()

    return run


def describe_api_error(exc: Any) -> str:
    """`code: message`, plus the field when the message does not name it."""
    text = f"{exc.code}: {exc.message}"
    if exc.field and exc.field not in exc.message:
        text += f" (field: {exc.field})"
    return text


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def fail(message: str, code: int) -> int:
    """Print `message` on stderr (if any) and return `code`."""
    if message:
        print(message, file=sys.stderr)
    return code
