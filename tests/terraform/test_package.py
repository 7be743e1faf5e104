"""`make package` (`chalice package --pkg-format terraform`, then `tools.lambda_zip`) builds what
terraform/ deploys: a `deployment.zip` with the app and its Linux wheels, and a `chalice.tf.json` whose
functions, handlers, cleanup rate and OpenAPI body match the hand-written stack (option B uses only
the zip and the body). The zip holds only what Lambda runs, with bytecode, within Lambda's limits, and
every handler loads and builds its runtime at init from the zip alone (issue 10 item 7).

Packaging takes about 10 s and needs PyPI (no AWS credentials). The tests use `build/chalice` when
`make package` made it and it is newer than the code, else package into a temporary directory;
`SCHEDULER_SKIP_PACKAGE=1` skips them (offline)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib import warmup
from chalicelib.adapters.aws import limits, wiring
from tests.terraform.hcl import ROOT, stack, unwrap
from tools import lambda_zip

BUILD = ROOT / "build" / "chalice"

pytestmark = pytest.mark.skipif(
    os.environ.get("SCHEDULER_SKIP_PACKAGE") == "1", reason="SCHEDULER_SKIP_PACKAGE=1: packaging needs PyPI"
)


def _newest_source() -> float:
    sources = [
        ROOT / "app.py",
        ROOT / "requirements.txt",
        ROOT / ".chalice/config.json",
        ROOT / "tools/lambda_zip.py",
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
    trimmed = subprocess.run(
        [sys.executable, "-m", "tools.lambda_zip", str(out / "deployment.zip")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert trimmed.returncode == 0, trimmed.stdout + trimmed.stderr
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


def test_the_zip_fits_lambdas_direct_upload_and_unzipped_size(package: Path) -> None:
    assert (package / "deployment.zip").stat().st_size < limits.LAMBDA_ZIP_MAX_BYTES
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        assert sum(info.file_size for info in archive.infolist()) < limits.LAMBDA_UNZIPPED_MAX_BYTES


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


def _names(package: Path) -> set[str]:
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        return set(archive.namelist())


def test_every_module_ships_with_bytecode_that_checks_its_source(package: Path) -> None:
    names = _names(package)
    sources = {n for n in names if n.endswith(".py")}
    assert {"app.py", "chalicelib/warmup.py", "botocore/client.py"} <= sources
    assert not [n for n in sources if importlib.util.cache_from_source(n) not in names]
    assert {importlib.util.source_from_cache(n) for n in names if n.endswith(".pyc")} == sources
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        header = archive.read(importlib.util.cache_from_source("app.py"))
    assert header[:4] == importlib.util.MAGIC_NUMBER  # this Python's (3.11, the functions' runtime)
    assert int.from_bytes(header[4:8], "little") == 0b11  # hash-based, checked against the source


def test_botocore_holds_only_the_models_of_the_services_called(package: Path) -> None:
    models = {n.split("/")[2] for n in _names(package) if n.startswith("botocore/data/") and n.count("/") > 2}
    assert models == wiring.SERVICES | lambda_zip.LIBRARY_SERVICES
    assert not [n for n in _names(package) if n.endswith(lambda_zip.NEVER_RUN)]


def test_the_services_the_code_calls_are_the_ones_wiring_lists() -> None:
    called = {
        match
        for path in [ROOT / "app.py", *ROOT.glob("chalicelib/**/*.py")]
        for match in re.findall(r"""(?:clients\.get|\.client)\(["']([a-z0-9-]+)["']""", path.read_text())
    }
    assert called == wiring.SERVICES


def test_the_bytecode_is_for_the_functions_runtime() -> None:
    runtimes = {f["runtime"] for f in stack().of_kind("aws_lambda_function").values()}
    assert runtimes == {lambda_zip.RUNTIME} == {f"python{sys.version_info.major}.{sys.version_info.minor}"}


# Loads a handler from the unpacked zip alone (`python -S`: no site-packages) as Lambda's runtime
# does, with every connection refused, and reports what the init phase built.
LOAD_HANDLER = """
import importlib, json, socket, sys
sys.path.insert(0, sys.argv[1])
tried = []
def refuse(self, address):
    tried.append(str(address))
    raise OSError("no connection at init")
socket.socket.connect = socket.socket.connect_ex = refuse
module, _, attribute = sys.argv[2].rpartition(".")
assert callable(getattr(importlib.import_module(module), attribute))
from chalicelib import bootstrap
built = bootstrap._runtime
print(json.dumps({
    "built": sorted(vars(built)) if built is not None else None,
    "clients": sorted(built.clients._made) if built is not None else [],
    "tried": tried,
    "aiohttp": "aiohttp" in sys.modules,
}))
"""

LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "example",
    "AWS_SESSION_TOKEN": "example",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only
    "SCHEDULER_BACKEND": "aws",
    "SCHEDULER_TABLE_PREFIX": "scheduler-dev",
    "SCHEDULER_RELEASE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/scheduler-dev-release",
    "SCHEDULER_SCHEDULE_GROUP": "scheduler-dev",
    "SCHEDULER_DELIVERY_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:scheduler-dev-deliver",
    "SCHEDULER_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/scheduler-dev-scheduler",
    "SCHEDULER_KMS_KEY_ID": "alias/scheduler-dev-secrets",
    "SCHEDULER_USAGE_PLAN_IDS": '{"free": "abc123", "pro": "def456"}',
    "SCHEDULER_COGNITO_USER_POOL_ID": "us-east-1_AbCdEfGhI",
    "SCHEDULER_COGNITO_CLIENT_IDS": "client123",
}


@pytest.fixture(scope="module")
def unpacked(package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        archive.extractall(tree)
    return tree


@pytest.mark.parametrize("name", sorted(stack().of_kind("aws_lambda_function")))
def test_every_handler_loads_from_the_zip_alone_and_builds_its_runtime_at_init_without_a_call(
    name: str, unpacked: Path
) -> None:
    handler = stack().resource("aws_lambda_function", name)["handler"]
    env = {**LAMBDA_ENV, "PATH": os.environ["PATH"], "AWS_LAMBDA_FUNCTION_NAME": f"scheduler-dev-{name}"}
    done = subprocess.run(
        [sys.executable, "-S", "-c", LOAD_HANDLER, str(unpacked), handler],
        cwd=unpacked,
        env={**env, "_HANDLER": handler},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["tried"] == []
    if handler not in warmup.WARM:  # a function warmup does not know yet: it loads, and calls nothing
        return
    assert "Traceback" not in done.stderr, done.stderr  # a failed warm-up is logged, not raised
    assert result["built"] is not None
    assert set(result["clients"]) <= wiring.SERVICES and "dynamodb" in result["clients"]
    assert result["aiohttp"] is (name == "deliver")  # the HTTP sender loads in the delivery function only
