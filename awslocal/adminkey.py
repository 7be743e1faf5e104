"""Puts the admin key of tenant `default` into the stack, in the API function's environment.

Run by the harness as `python -m awslocal.adminkey` with the API function's environment and the
token in `SCHEDULER_ADMIN_KEY` (what `make run` does with its data directory): the service layer's
own `ensure_default_tenant`, through the AWS adapters, so the tenant also gets its usage key.
"""

from __future__ import annotations

import os


def main() -> None:
    """Upsert tenant `default` and its admin key."""
    from chalicelib.bootstrap import get_context
    from chalicelib.services.accounts import ensure_default_tenant

    ensure_default_tenant(get_context(), os.environ["SCHEDULER_ADMIN_KEY"])


if __name__ == "__main__":
    main()
