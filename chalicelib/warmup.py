"""Lambda's init phase: what each function builds before its first invocation (issue 10 item 7).

The Lambda runtime imports a function's handler module in the init phase (≤ 10 s), then invokes. So
that the first invocation does not also build the runtime, each handler module (app.py,
chalicelib/authorizer.py, chalicelib/triggers.py) ends with `at_init(__name__)`. It acts only inside
Lambda, in the module Lambda loaded as this function's handler: the runtime's reserved variables
`AWS_LAMBDA_FUNCTION_NAME` and `_HANDLER` (`module.attribute`) say so. Anywhere else (tests, the local
server, a handler module imported by another one) it returns at once, reading nothing else: importing
these modules stays free of I/O and of configuration.

What it builds, with no AWS call: the process's runtime from the environment (the composition root,
`bootstrap.runtime()`), the components the handler uses with their boto3 clients (a client is made
from the environment's credentials and the bundled model; no request is sent), Powertools' logger,
tracer and metrics, and the modules the handler would import on first use. A failure is logged and
left to the invocation, which builds again and reports the error as it did before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.adapters.aws.wiring import AwsRuntime

log = logging.getLogger("scheduler.warmup")


def _api(runtime: AwsRuntime) -> object:
    runtime.clients.get("kms")  # the sealer makes its client on first use; the API seals app secrets
    return runtime.context


def _authorizer(runtime: AwsRuntime) -> object:
    import jwt  # PyJWT (+ cryptography's RSA), which a Cognito token loads on first use

    jwt.algorithms.get_default_algorithms()
    return runtime.authority


def _deliver(runtime: AwsRuntime) -> object:
    from aws_lambda_powertools.utilities import batch  # an SQS batch loads it on first use

    from chalicelib import delivery  # the HTTP sender (aiohttp), loaded by the first delivery

    del batch, delivery
    runtime.clients.get("kms")  # opens app secrets on the first delivery
    return runtime.worker


def _cleanup(runtime: AwsRuntime) -> object:
    return runtime.cleanup


def _meter(runtime: AwsRuntime) -> object:
    return runtime.meter


def _post_confirmation(runtime: AwsRuntime) -> object:
    return runtime.provisioner


# handler (as terraform/lambda.tf names it) -> what its invocations use; any other handler gets the runtime only.
WARM: dict[str, Callable[[AwsRuntime], object]] = {
    "app.app": _api,
    "chalicelib.authorizer.authorizer": _authorizer,
    "chalicelib.triggers.deliver": _deliver,
    "chalicelib.triggers.cleanup": _cleanup,
    "chalicelib.triggers.post_confirmation": _post_confirmation,
    "chalicelib.triggers.meter": _meter,
}


def lambda_handler_name(module: str) -> str | None:
    """The handler Lambda is loading, when this process is a Lambda function loading `module`'s."""
    handler = os.environ.get("_HANDLER", "")
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or handler.rpartition(".")[0] != module:
        return None
    return handler


def at_init(module: str) -> bool:
    """Build what the handler needs when `module` is the handler module of this Lambda (see above).

    Returns whether it built; False outside Lambda, for another module, or when building failed."""
    handler = lambda_handler_name(module)
    if handler is None:
        return False
    try:
        warm(handler)
    except Exception:
        log.exception("init: building %s's runtime failed; its first invocation builds it again", handler)
        return False
    return True


def warm(handler: str) -> None:
    """Build the runtime and what `handler` uses (reads the environment, no AWS call)."""
    from chalicelib import bootstrap, observability

    observability.logger()
    observability.metrics()
    observability.tracer()
    runtime = bootstrap.aws_runtime()
    build = WARM.get(handler)
    if build is not None:
        build(runtime)
