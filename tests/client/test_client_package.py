"""The client distribution (client/): installs and imports without the server, and reads what the server answers."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from pydantic import BaseModel

from chalicelib.domain import schedule_schemas
from chalicelib.domain import schemas as server
from scheduler_cli import main as cli_main
from scheduler_client import models as client

ROOT = Path(__file__).resolve().parents[2]
PAIRS = [
    (client.ErrorBody, server.ErrorBody),
    (client.TenantOut, server.TenantOut),
    (client.KeyOut, server.KeyOut),
    (client.RetryOut, server.RetryOut),
    (client.AppOut, server.AppOut),
    (client.MessageOut, server.MessageOut),
    (client.AttemptOut, server.AttemptOut),
    (client.UsageOut, server.UsageOut),
    (client.PlanOut, server.PlanOut),
    (client.ScheduleOut, schedule_schemas.ScheduleOut),
]


def _shape(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema without titles and descriptions (what the wire carries)."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("title", "description")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return dict(strip(model.model_json_schema()))


@pytest.mark.parametrize(("mine", "theirs"), PAIRS, ids=[p[1].__name__ for p in PAIRS])
def test_the_client_models_read_every_field_the_server_documents(
    mine: type[BaseModel], theirs: type[BaseModel]
) -> None:
    client_side, server_side = _shape(mine), _shape(theirs)
    assert set(client_side["properties"]) == set(server_side["properties"])
    for name, documented in server_side["properties"].items():
        read = client_side["properties"][name]
        # the same type, or the same type made optional (a field an older server does not send)
        assert read == documented or read == {"anyOf": [documented, {"type": "null"}], "default": None}, name
    assert set(client_side.get("required", [])) <= set(server_side.get("required", []))


def test_the_client_distribution_needs_neither_the_server_nor_aws_libraries() -> None:
    names = {Requirement(text).name.lower() for text in requires("scheduler-client") or []}
    assert names == {"httpx", "pydantic", "standardwebhooks"}


def test_the_client_and_the_cli_import_no_server_code() -> None:
    code = (
        "import sys, contextlib, io\n"
        "import scheduler_client, scheduler_client.sync, scheduler_client.aio, scheduler_cli.main as m\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    m.main(['ls', '--help'])\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in\n"
        "      {'chalicelib', 'chalice', 'boto3', 'botocore', 'aws_lambda_powertools', 'waitress', 'app'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    assert done.stdout.strip() == "[]"


def test_serve_without_the_server_installed_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_main, "entry_points", lambda group: [])
    assert cli_main.main(["serve"]) == 2
    assert "install the server distribution" in capsys.readouterr().err


def test_the_server_registers_serve_for_the_cli() -> None:
    found = {entry.name: entry.value for entry in cli_main.entry_points(group=cli_main.PLUGIN_GROUP)}
    assert found == {"serve": "scheduler_local.command:add_serve_parser"}
