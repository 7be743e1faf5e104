"""`make package` (`chalice package --pkg-format terraform`) builds what terraform/ deploys: a
`deployment.zip` with the app and its Linux wheels, and a `chalice.tf.json` whose functions, handlers,
cleanup rate and OpenAPI body match the hand-written stack (option B uses only the zip and the body).

Packaging takes about 10 s and needs PyPI (no AWS credentials). The tests use `build/chalice` when
`make package` made it and it is newer than the code, else package into a temporary directory;
`SCHEDULER_SKIP_PACKAGE=1` skips them (offline)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.terraform.hcl import ROOT, stack, unwrap

BUILD = ROOT / "build" / "chalice"

pytestmark = pytest.mark.skipif(
    os.environ.get("SCHEDULER_SKIP_PACKAGE") == "1", reason="SCHEDULER_SKIP_PACKAGE=1: packaging needs PyPI"
)


def _newest_source() -> float:
    sources = [
        ROOT / "app.py",
        ROOT / "requirements.txt",
        ROOT / ".chalice/config.json",
        *ROOT.glob("chalicelib/**/*.py"),
        *ROOT.glob("chalicelib/console/*/*"),  # the web console's page, scripts and styles
    ]
    return max(path.stat().st_mtime for path in sources if path.exists())


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package directory: `build/chalice` if it is current, else a fresh `chalice package`."""
    zip_path = BUILD / "deployment.zip"
    if zip_path.exists() and (BUILD / "chalice.tf.json").exists() and zip_path.stat().st_mtime >= _newest_source():
        return BUILD
    out = tmp_path_factory.mktemp("package") / "chalice"
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    chalice = Path(sys.executable).with_name("chalice")
    result = subprocess.run(
        [str(chalice), "package", "--pkg-format", "terraform", "--stage", "dev", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="module")
def generated(package: Path) -> dict[str, Any]:
    return dict(json.loads((package / "chalice.tf.json").read_text()))


def test_the_zip_holds_the_app_and_linux_wheels(package: Path) -> None:
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        names = set(archive.namelist())
    assert {"app.py", "chalicelib/__init__.py", "chalicelib/triggers.py", "chalicelib/authorizer.py"} <= names
    assert any(n.startswith("chalicelib/adapters/aws/") for n in names)
    # the API function serves the web console: its template and every static file
    console = ROOT / "chalicelib/console"
    assert {str(p.relative_to(ROOT)) for d in ("static", "templates") for p in (console / d).iterdir()} <= names
    assert not any(n.startswith(("tests/", "bench/", ".venv", "terraform/")) for n in names)
    # only what Lambda runs: no client, CLI, local server or local engine, nor their libraries
    local_only = ("scheduler_local/", "scheduler_client/", "scheduler_cli/", "client/", "waitress/", "httpx/")
    assert not any(n.startswith(local_only) for n in names)
    assert not any(n.startswith(("chalicelib/client/", "chalicelib/cli/", "chalicelib/server/")) for n in names)
    # runtime dependencies, built for Lambda (manylinux x86_64), not this machine's wheels
    for package_dir in ["aws_lambda_powertools/", "pydantic_core/", "cryptography/", "jwt/", "standardwebhooks/"]:
        assert any(n.startswith(package_dir) for n in names), package_dir
    native = [n for n in names if n.startswith("pydantic_core/") and n.endswith(".so")]
    assert native and all("x86_64-linux" in n for n in native)


def test_the_zip_fits_lambdas_direct_upload(package: Path) -> None:
    assert (package / "deployment.zip").stat().st_size < 50 * 1024 * 1024


def test_generated_functions_and_handlers_are_the_ones_terraform_deploys(generated: dict[str, Any]) -> None:
    functions = generated["resource"]["aws_lambda_function"]
    terraform = stack().of_kind("aws_lambda_function")
    assert sorted(functions) == sorted(terraform)
    for name, function in functions.items():
        assert function["handler"] == terraform[name]["handler"], name
        assert function["runtime"] == terraform[name]["runtime"], name


def test_generated_cleanup_rule_has_terraforms_rate(generated: dict[str, Any]) -> None:
    [rule] = generated["resource"]["aws_cloudwatch_event_rule"].values()
    assert (
        rule["schedule_expression"] == stack().resource("aws_cloudwatch_event_rule", "cleanup")["schedule_expression"]
    )


def test_the_generated_body_is_what_api_tf_reads_and_fills(generated: dict[str, Any]) -> None:
    body = generated["locals"]["chalice_api_swagger"]
    assert isinstance(body, str)
    assert set(re.findall(r"\$\{[^}]+\}", body)) == {
        "${aws_lambda_function.api_handler.invoke_arn}",
        "${aws_lambda_function.authorizer.invoke_arn}",
    }
    assert "local.chalice_package.locals.chalice_api_swagger" in str(stack().locals["chalice_openapi"])
    assert (
        unwrap(stack().locals["chalice_package"])
        == 'jsondecode(file("${path.module}/${var.package_dir}/chalice.tf.json"))'
    )
    swagger = json.loads(body)
    assert "/messages" in swagger["paths"] and "authorizer" in swagger["securityDefinitions"]


def test_terraform_reads_the_package_where_make_package_writes_it() -> None:
    assert stack().variables["package_dir"]["default"] == "../build/chalice"
    assert stack().locals["package_zip"] == "${path.module}/${var.package_dir}/deployment.zip"
