"""`scheduler tenants|keys|apps` against a real server: tables, `--json`, profiles, and the API's
errors as `error: code: message` with exit 1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Run
from tests.support.server import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.e2e
OPERATOR_KEY = "op_cli_admin_operator_key_0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("cli") / "data", {"SCHEDULER_OPERATOR_KEY": OPERATOR_KEY})
    yield process.start()
    process.kill()


@pytest.fixture
def cli(server: ServerProcess, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> Run:
    """`main(argv)` in-process, as the admin of a fresh tenant (env), with captured output."""
    monkeypatch.setenv("SCHEDULER_URL", server.url)
    monkeypatch.setenv("SCHEDULER_OPERATOR_KEY", OPERATOR_KEY)
    monkeypatch.setenv("SCHEDULER_API_KEY", ADMIN_KEY)
    tenant = run_cli("tenants", "create", "--name", "cli-test", "--plan", "unlimited", "--json").json()
    monkeypatch.setenv("SCHEDULER_API_KEY", tenant["adminKey"])
    return run_cli


def test_tenants(cli: Run) -> None:
    created = cli("tenants", "create", "--name", "acme", "--plan", "pro")
    assert created.code == 0
    assert "name  acme" in created.out and "plan  pro" in created.out
    assert "admin key (shown once): sk_" in created.out
    listed = cli("tenants", "ls")
    assert listed.out.splitlines()[0].split() == ["ID", "NAME", "PLAN", "CREATED"] and " acme " in listed.out
    assert "acme" in [t["name"] for t in cli("tenants", "ls", "--json").json()]
    wrong = cli("tenants", "ls", "--operator-key", "op_wrong_0123456789abcdef")
    assert (wrong.code, wrong.err) == (1, "error: unauthorized: send Authorization: Bearer <operator key>\n")


def test_keys(cli: Run) -> None:
    created = cli("keys", "create", "--name", "ci", "--scope", "send", "--scope", "read", "--json").json()
    assert created["scopes"] == ["read", "send"] and created["key"].startswith("sk_")
    human = cli("keys", "create", "--name", "reader", "--scope", "read")
    assert "key (shown once): sk_" in human.out and "scopes  read" in human.out
    listed = cli("keys", "ls")
    assert created["id"] in listed.out and "read,send" in listed.out and "sk_" not in listed.out
    assert {k["name"] for k in cli("keys", "ls", "--json").json()} >= {"ci", "reader"}
    forbidden = cli("keys", "ls", env={"SCHEDULER_API_KEY": created["key"]})
    assert forbidden.code == 1 and forbidden.err.startswith("error: forbidden: ")
    assert cli("keys", "revoke", created["id"]).out == f"revoked {created['id']}\n"
    revoked = cli("apps", "ls", "--api-key", created["key"])
    assert (revoked.code, revoked.err) == (1, "error: unauthorized: unknown or revoked API key\n")
    again = cli("keys", "revoke", created["id"], "--json")
    assert again.code == 1 and again.err.startswith("error: not_found: ") and again.out == ""


def test_apps(cli: Run) -> None:
    app = cli(
        "apps", "create", "--name", "orders", "--url", "https://example.com/hook", "--header", "x-token=s3cret",
        "--max-attempts", "3", "--json",
    ).json()  # fmt: skip
    assert app["headers"] == {"x-token": "***"} and app["retry"]["maxAttempts"] == 3
    assert app["signingSecret"].startswith("whsec_")
    human = cli("apps", "create", "--name", "billing", "--url", "https://example.com/b")
    assert "signing secret (shown only now): whsec_" in human.out and "url           https://example.com/b" in human.out
    listed = cli("apps", "ls")
    assert listed.out.splitlines()[0].split() == ["ID", "NAME", "URL", "MAX_ATTEMPTS", "CREATED"]
    assert app["id"] in listed.out and "billing" in listed.out
    assert len(cli("apps", "ls", "--json").json()) == 2
    shown = cli("apps", "show", app["id"])
    assert "headers       x-token" in shown.out and "signing secret" not in shown.out
    assert "signingSecret" not in cli("apps", "show", app["id"], "--json").json()
    rotated = cli("apps", "rotate-secret", app["id"], "--json").json()
    assert rotated["signingSecret"] != app["signingSecret"]
    assert "signing secret (shown only now)" in cli("apps", "rotate-secret", app["id"]).out
    assert cli("apps", "delete", app["id"], "--json").json() == {"id": app["id"], "status": "deleted"}
    missing = cli("apps", "show", app["id"])
    assert (missing.code, missing.err) == (1, f"error: not_found: no app {app['id']}\n")
    invalid = cli("apps", "create", "--name", "bad", "--url", "ftp://example.com")
    assert (invalid.code, invalid.err) == (
        1,
        "error: validation_error: url: url must be an absolute http or https URL\n",
    )


def test_profiles_choose_the_server_and_key(cli: Run, server: ServerProcess, tmp_path: Path) -> None:
    key = cli("keys", "create", "--name", "p", "--scope", "admin", "--json").json()["key"]
    cli("apps", "create", "--name", "via-profile", "--url", "https://example.com/p")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[profiles.local]\nurl = "{server.url}"\napi_key = "{key}"\n\n'
        '[profiles.broken]\nurl = "http://127.0.0.1:9"\napi_key = "sk_x"\n'
    )
    env = {"SCHEDULER_URL": "http://127.0.0.1:9", "SCHEDULER_API_KEY": "sk_wrong"}
    assert "via-profile" in cli("apps", "ls", "--profile", "local", env=env).out
    assert "via-profile" in cli("apps", "ls", env={**env, "SCHEDULER_PROFILE": "local"}).out
    assert cli("apps", "ls", "--profile", "broken").err.startswith("error: cannot reach http://127.0.0.1:9")
    assert "via-profile" in cli("apps", "ls", "--profile", "broken", "--api-url", server.url, "--api-key", key).out
