"""The values of terraform/variables.tf for a deployment: defaults, overridden by a `.tfvars` file.

`deployment(None)` is what `terraform apply` with no var file deploys; `deployment("prod")` reads
terraform/envs/prod.tfvars on top. Objects with `optional(type, default)` attributes get those
defaults filled in, as Terraform does. The capacity model (bench/capacity.py) and the AWS rule tests
read deployments from here, so their figures come from what Terraform deploys.
"""

from __future__ import annotations

import re
from typing import Any

from tests.terraform.hcl import TF_DIR, parse, stack, unwrap

_OPTIONAL = re.compile(r"(\w+)\s*=\s*optional\((\w+),\s*([^)]+)\)")


def _optional_defaults(type_text: str) -> dict[str, Any]:
    """`object({a = optional(number, 512), ...})` -> {"a": 512}."""
    found: dict[str, Any] = {}
    for name, kind, raw in _OPTIONAL.findall(type_text):
        value = raw.strip().strip('"')
        found[name] = int(value) if kind == "number" and value.lstrip("-").isdigit() else value
    return found


def deployment(env: str | None = None) -> dict[str, Any]:
    """Every variable's value for the default deployment (env None) or `envs/<env>.tfvars`."""
    values: dict[str, Any] = {}
    overrides = parse(TF_DIR / "envs" / f"{env}.tfvars") if env else {}
    for name, spec in stack().variables.items():
        value = overrides.get(name, spec.get("default"))
        optional = _optional_defaults(unwrap(spec.get("type", "")))
        if optional and isinstance(value, dict):
            value = {**optional, **value}
        values[name] = value
    return values


ENVIRONMENTS: dict[str, str | None] = {"default": None, "prod": "prod"}
