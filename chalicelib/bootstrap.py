"""The composition root: builds the runtime of the configured backend, and holds the one process-wide runtime.

Every entry point gets its adapters here, from `Settings`: the local server (`scheduler serve` builds one
with `build` and `install`s it), the API Lambda and the authorizer (`get_context`, `aws_runtime`), and the
delivery, cleanup and Cognito-trigger Lambdas (`aws_runtime`). Nothing else keeps module-level state.

A backend is one adapters package with a `build_runtime(settings)` function, and one entry in `BACKENDS`
(an import path, loaded only when that backend is chosen: the Lambda package does not contain the local
backend, and the local server never imports boto3). Nothing here runs at import.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

from chalicelib.services.context import Context
from chalicelib.settings import ConfigError, Settings, get_settings

if TYPE_CHECKING:
    from chalicelib.adapters.aws.wiring import AwsRuntime

# backend name -> "module:function" building its runtime from `Settings`.
BACKENDS: dict[str, str] = {
    "local": "scheduler_local.wiring:build_runtime",
    "aws": "chalicelib.adapters.aws.wiring:build_runtime",
}


class Runtime(Protocol):
    """What a backend's composition gives an entry point."""

    @property
    def context(self) -> Context:
        """The service layer's ports."""

    def start(self) -> int:
        """Start background work (the local engine); returns how many in-flight messages were taken back."""

    def close(self) -> None:
        """Stop background work and release what `build` acquired."""


@dataclass(frozen=True)
class FixedRuntime:
    """A runtime around a ready-made `Context` (tests, benchmarks): nothing to start or close."""

    context: Context

    def start(self) -> int:
        """Nothing runs in the background."""
        return 0

    def close(self) -> None:
        """Nothing to release."""


def build(settings: Settings) -> Runtime:
    """A new runtime for `settings.backend` (the caller owns it: `start`, then `close`)."""
    target = BACKENDS.get(settings.backend)
    if target is None:
        raise ConfigError(f"SCHEDULER_BACKEND must be one of {', '.join(sorted(BACKENDS))}, not {settings.backend!r}")
    module_name, _, function_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"backend {settings.backend!r} is not installed here ({exc.name} is missing)") from exc
    builder = cast(Callable[[Settings], Runtime], getattr(module, function_name))
    return builder(settings)


_lock = threading.Lock()
_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The process-wide runtime, built from the environment's settings on first use."""
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = build(get_settings())
    return _runtime


def get_context() -> Context:
    """The process-wide `Context` (the API's adapters)."""
    return runtime().context


def aws_runtime() -> AwsRuntime:
    """The process-wide runtime of the AWS-only Lambdas (authorizer, deliver, cleanup, Cognito trigger)."""
    from chalicelib.adapters.aws.wiring import AwsRuntime

    current = runtime()
    if not isinstance(current, AwsRuntime):
        raise ConfigError("this Lambda runs on the AWS backend only: set SCHEDULER_BACKEND=aws")
    return current


def install(installed: Runtime | Context | None) -> None:
    """Use `installed` from now on (a bare `Context` is wrapped; None: build again on next use).

    For the server and tests; the caller keeps ownership (this never closes a runtime)."""
    global _runtime
    with _lock:
        _runtime = FixedRuntime(installed) if isinstance(installed, Context) else installed
