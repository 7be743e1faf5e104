"""docs/deploy-aws.md and the Makefile agree: the tfvars file the guide copies is the one it packages
for and applies, and `make package` builds for that file's `region`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.terraform.hcl import ROOT

GUIDE = (ROOT / "docs" / "deploy-aws.md").read_text()


def test_the_guide_applies_the_tfvars_it_copied_and_packages_for() -> None:
    [copied] = re.findall(r"^cp terraform/envs/\S+\.tfvars terraform/envs/(\S+\.tfvars)$", GUIDE, re.M)
    applied = set(re.findall(r"-var-file=envs/(\S+\.tfvars)", GUIDE))
    packaged = set(re.findall(r"make package TFVARS=terraform/envs/(\S+\.tfvars)", GUIDE))
    assert applied == {copied}, applied
    assert packaged == {copied}, packaged
    assert "make package\n" not in GUIDE.replace("make package TFVARS", "")  # no bare `make package` step


def _package_commands(tfvars: Path) -> str:
    done = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "package", f"TFVARS={tfvars}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.stdout + done.stderr


def test_make_package_builds_for_the_region_of_the_tfvars(tmp_path: Path) -> None:
    tfvars = tmp_path / "mine.tfvars"
    tfvars.write_text('stage  = "qa"\nregion = "eu-west-3"\n')
    assert "AWS_DEFAULT_REGION=eu-west-3 " in _package_commands(tfvars)
    default = _package_commands(ROOT / "terraform" / "envs" / "dev.tfvars")
    dev_region = re.search(r'^region\s*=\s*"([^"]+)"', (ROOT / "terraform/envs/dev.tfvars").read_text(), re.M)
    assert dev_region is not None and f"AWS_DEFAULT_REGION={dev_region.group(1)} " in default


def test_make_package_refuses_a_tfvars_without_a_region(tmp_path: Path) -> None:
    tfvars = tmp_path / "none.tfvars"
    tfvars.write_text('stage = "qa"\n')
    done = subprocess.run(
        ["make", "--no-print-directory", "package", f"TFVARS={tfvars}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode != 0
    assert "no region" in done.stdout + done.stderr
