"""Every Terraform file parses, and the module keeps its house style (split by concern, typed and
described variables, outputs through `try()`, a reason on every checkov skip)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.terraform.hcl import TF_DIR, parse, stack, tf_files
from tests.terraform.tffmt import fmt

CONCERNS = [
    "versions.tf",
    "providers.tf",
    "variables.tf",
    "locals.tf",
    "outputs.tf",
    "cognito.tf",
    "api.tf",
    "lambda.tf",
    "iam.tf",
    "dynamodb.tf",
    "sqs.tf",
    "scheduler.tf",
    "schedules.tf",  # recurring schedules: their table and IAM
    "kms.tf",
    "monitoring.tf",
    "meter.tf",
]


def all_hcl_files() -> list[Path]:
    return tf_files() + sorted((TF_DIR / "envs").glob("*.tfvars"))


@pytest.mark.parametrize("path", all_hcl_files(), ids=lambda p: str(p.relative_to(TF_DIR)))
def test_every_file_parses(path: Path) -> None:
    assert isinstance(parse(path), dict)


def test_the_module_is_split_by_concern() -> None:
    assert sorted(p.name for p in tf_files()) == sorted(CONCERNS)


def test_terraform_and_the_aws_provider_are_pinned() -> None:
    [terraform] = parse(TF_DIR / "versions.tf")["terraform"]
    assert terraform["required_version"] == ">= 1.10.0, < 2.0.0"
    [providers] = terraform["required_providers"]
    assert providers["aws"] == {"source": "hashicorp/aws", "version": "~> 6.0"}


@pytest.mark.parametrize("name", sorted(stack().variables))
def test_variables_are_typed_described_and_defaulted(name: str) -> None:
    variable = stack().variables[name]
    assert variable.get("type"), f"variable {name} has no type"
    assert len(str(variable.get("description", ""))) > 10, f"variable {name} has no description"
    assert "default" in variable, f"variable {name} has no default (one tfvars file must be enough)"


@pytest.mark.parametrize("name", sorted(stack().outputs))
def test_outputs_are_described_and_fail_soft(name: str) -> None:
    output = stack().outputs[name]
    assert output.get("description")
    value = str(output["value"])
    assert value.startswith("${try(") or value.startswith("${local."), f"output {name}: wrap it in try()"


def test_the_outputs_the_readme_uses_exist() -> None:
    assert {"api_url", "user_pool_id", "user_pool_client_id", "dashboard_url", "schedule_group"} <= set(stack().outputs)


def test_every_tfvars_sets_only_declared_variables() -> None:
    declared = set(stack().variables)
    for path in sorted((TF_DIR / "envs").glob("*.tfvars")):
        assert set(parse(path)) <= declared, path.name


SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?$")


def test_every_checkov_skip_carries_a_reason() -> None:
    found = 0
    for path in tf_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "checkov:skip" not in line:
                continue
            match = SKIP.search(line.strip())
            assert match, f"{path.name}:{number}: malformed skip {line.strip()!r}"
            assert len((match.group(2) or "").strip()) >= 20, f"{path.name}:{number}: {match.group(1)} needs a reason"
            found += 1
    assert found, "no skips found: did the comment format change?"


def test_no_resource_is_named_after_its_type() -> None:
    for kind, by_name in stack().resources.items():
        short = kind.removeprefix("aws_")
        for name in by_name:
            assert name != short, f"{kind}.{name}: name it `this` or after its role"


@pytest.mark.parametrize("path", all_hcl_files(), ids=lambda p: str(p.relative_to(TF_DIR)))
def test_attributes_are_aligned_as_terraform_fmt_aligns_them(path: Path) -> None:
    text = path.read_text()
    assert fmt(text) == text, f"run: python -m tests.terraform.tffmt {path.relative_to(TF_DIR.parent)}"


def test_files_are_indented_with_two_spaces_and_end_with_a_newline() -> None:
    for path in all_hcl_files():
        text = path.read_text()
        assert text.endswith("\n") and not text.endswith("\n\n"), path.name
        for number, line in enumerate(text.splitlines(), 1):
            assert "\t" not in line and line == line.rstrip(), f"{path.name}:{number}"
            indent = len(line) - len(line.lstrip(" "))
            assert indent % 2 == 0, f"{path.name}:{number}: odd indentation"
