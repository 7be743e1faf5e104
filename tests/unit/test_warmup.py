"""`chalicelib.warmup`: the init-phase build acts only in the handler module Lambda loads, and never
turns into a failure of its own (issue 10 item 7)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib import bootstrap, warmup
from chalicelib.settings import ConfigError
from tests.terraform.hcl import stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def warmed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The handlers `warm` was asked for (it builds nothing here)."""
    calls: list[str] = []
    monkeypatch.setattr(warmup, "warm", calls.append)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.delenv("_HANDLER", raising=False)
    return calls


def test_outside_lambda_it_does_nothing(warmed: list[str]) -> None:
    assert warmup.at_init("app") is False
    assert warmed == []


def test_inside_lambda_it_warms_the_handler_of_the_module_lambda_loads(
    warmed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "scheduler-dev-deliver")
    monkeypatch.setenv("_HANDLER", "chalicelib.triggers.deliver")
    assert warmup.at_init("app") is False  # app.py imports triggers too; only the handler's module acts
    assert warmup.at_init("chalicelib.authorizer") is False
    assert warmup.at_init("chalicelib.triggers") is True
    assert warmed == ["chalicelib.triggers.deliver"]


def test_a_handler_variable_without_lambda_is_not_lambda(warmed: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_HANDLER", "app.app")
    assert warmup.at_init("app") is False
    assert warmed == []


def test_a_failed_build_is_logged_and_left_to_the_first_invocation(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise ConfigError("SCHEDULER_BACKEND must be one of aws, local")

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "scheduler-dev-api")
    monkeypatch.setenv("_HANDLER", "app.app")
    monkeypatch.setattr(bootstrap, "get_settings", broken)
    bootstrap.install(None)
    with caplog.at_level(logging.ERROR, logger="scheduler.warmup"):
        assert warmup.at_init("app") is False
    assert "first invocation builds it again" in caplog.text
    assert bootstrap._runtime is None
    with pytest.raises(ConfigError, match="SCHEDULER_BACKEND"):  # what the invocation reports, as before
        bootstrap.aws_runtime()


def test_every_warmed_handler_is_one_terraform_deploys() -> None:
    handlers = {f["handler"] for f in stack().of_kind("aws_lambda_function").values()}
    assert set(warmup.WARM) <= handlers


IMPORT_HANDLER_MODULES = """
import json, sys
import app, chalicelib.authorizer, chalicelib.triggers
from chalicelib import bootstrap
print(json.dumps({"built": bootstrap._runtime is not None, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_importing_the_handler_modules_outside_lambda_builds_and_loads_nothing_of_aws() -> None:
    env = {"PATH": "/usr/bin:/bin", "SCHEDULER_BACKEND": "aws", "_HANDLER": "app.app"}  # no function name
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_HANDLER_MODULES], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["built"] is False
    assert not {"boto3", "botocore", "aws_lambda_powertools", "aiohttp"} & set(result["loaded"])
