"""Issue 13 over every adapter set: revocation is permanent, the quota holds on every delivery path,
plan caps on stored things, and attempt cursors that say nothing about other tenants."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import Unauthenticated
from chalicelib.services import accounts
from chalicelib.services.context import Context


def test_a_revoked_bootstrap_key_never_comes_back(ctx: Context) -> None:
    token = "k" * 32
    assert accounts.ensure_default_tenant(ctx, token) is accounts.Bootstrap.CREATED
    assert accounts.ensure_default_tenant(ctx, token) is accounts.Bootstrap.KEPT
    admin = accounts.authenticate(ctx, token)
    assert admin.key_id is not None
    accounts.revoke_key(ctx, admin, admin.key_id)
    for configured in (token, "n" * 32):  # the next start, with the same or another configured key
        assert accounts.ensure_default_tenant(ctx, configured) is accounts.Bootstrap.REVOKED
        with pytest.raises(Unauthenticated):
            accounts.authenticate(ctx, configured)
    stored = accounts.bootstrap_key(ctx)
    assert stored is not None and stored.revoked_at is not None


def test_a_live_bootstrap_key_takes_a_changed_configured_token(ctx: Context) -> None:
    accounts.ensure_default_tenant(ctx, "k" * 32)
    assert accounts.ensure_default_tenant(ctx, "n" * 32) is accounts.Bootstrap.ROTATED
    with pytest.raises(Unauthenticated):
        accounts.authenticate(ctx, "k" * 32)
    principal = accounts.authenticate(ctx, "n" * 32)
    assert [k.id for k in accounts.list_keys(ctx, principal)] == [accounts.BOOTSTRAP_KEY_ID]
