"""The local bootstrap admin key across restarts: once revoked it stays revoked (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.domain.errors import Unauthenticated
from chalicelib.services import accounts
from chalicelib.settings import Settings
from scheduler_local.wiring import ADMIN_KEY_FILE, bootstrap_admin_key, build_local_runtime


def revoke_bootstrap(settings: Settings, token: str) -> None:
    runtime = build_local_runtime(settings)
    try:
        principal = accounts.authenticate(runtime.context, token)
        assert principal.key_id == accounts.BOOTSTRAP_KEY_ID
        accounts.revoke_key(runtime.context, principal, principal.key_id)
    finally:
        runtime.close()


def authenticates(settings: Settings, token: str) -> bool:
    runtime = build_local_runtime(settings)
    try:
        bootstrap_admin_key(runtime.context, settings)
        accounts.authenticate(runtime.context, token)
        return True
    except Unauthenticated:
        return False
    finally:
        runtime.close()


def test_configured_key_is_not_recreated_after_revocation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path / "data", admin_key="c" * 32)
    assert authenticates(settings, "c" * 32)
    revoke_bootstrap(settings, "c" * 32)
    assert not authenticates(settings, "c" * 32)  # restarted with the same SCHEDULER_ADMIN_KEY
    assert "revocation is permanent" in capsys.readouterr().err


def test_generated_key_is_not_regenerated_after_revocation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    runtime = build_local_runtime(settings)
    try:
        token = bootstrap_admin_key(runtime.context, settings)
    finally:
        runtime.close()
    assert token is not None
    revoke_bootstrap(settings, token)
    assert not authenticates(settings, token)
    (settings.data_dir / ADMIN_KEY_FILE).unlink()  # even without the file, no new key appears
    runtime = build_local_runtime(settings)
    try:
        assert bootstrap_admin_key(runtime.context, settings) is None
        assert not (settings.data_dir / ADMIN_KEY_FILE).exists()
        [key] = runtime.context.keys.list_keys(accounts.DEFAULT_TENANT)
        assert key.revoked_at is not None
    finally:
        runtime.close()
    assert "revocation is permanent" in capsys.readouterr().err
