"""Tenants, keys and authentication."""

from __future__ import annotations

import pytest

from chalicelib.domain import ids
from chalicelib.domain.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from chalicelib.domain.model import Principal, Scope
from chalicelib.domain.schemas import KeyCreate, TenantCreate
from chalicelib.services import accounts
from chalicelib.services.context import Context
from tests.support.doubles import SettableClock


def test_a_new_tenant_gets_a_working_admin_key(ctx: Context) -> None:
    tenant, token = accounts.create_tenant(ctx, TenantCreate(name="acme", plan="pro"))
    principal = accounts.authenticate(ctx, token)
    assert (principal.tenant_id, principal.plan, principal.scopes) == (tenant.id, "pro", frozenset({Scope.ADMIN}))
    stored = ctx.keys.find_key(ids.hash_token(token))
    assert stored is not None and token not in repr(stored)


def test_unknown_plan_is_invalid(ctx: Context) -> None:
    with pytest.raises(InvalidInput):
        accounts.create_tenant(ctx, TenantCreate(name="acme", plan="gold"))
    assert accounts.list_tenants(ctx, cursor=None, limit=10).items == []


@pytest.mark.parametrize("token", [None, "", "sk_unknown"])
def test_unknown_tokens_are_unauthenticated(ctx: Context, token: str | None) -> None:
    with pytest.raises(Unauthenticated):
        accounts.authenticate(ctx, token)


def test_scopes_and_revocation(ctx: Context, clock: SettableClock) -> None:
    _, admin_token = accounts.create_tenant(ctx, TenantCreate(name="acme"))
    admin = accounts.authenticate(ctx, admin_token)
    key, token = accounts.create_key(ctx, admin, KeyCreate(name="ci", scopes=["send", "send"]))
    assert key.scopes == frozenset({Scope.SEND})
    sender = accounts.authenticate(ctx, token)
    accounts.require(sender, Scope.SEND)
    for scope in (Scope.READ, Scope.ADMIN):
        with pytest.raises(Forbidden):
            accounts.require(sender, scope)
    for scope in Scope:
        accounts.require(admin, scope)
    assert [k.name for k in accounts.list_keys(ctx, admin)] == ["admin", "ci"]
    clock.advance(5)
    accounts.revoke_key(ctx, admin, key.id)
    with pytest.raises(Unauthenticated):
        accounts.authenticate(ctx, token)
    assert [k.name for k in accounts.list_keys(ctx, admin)] == ["admin"]


def test_keys_of_another_tenant_are_not_found(ctx: Context) -> None:
    _, first = accounts.create_tenant(ctx, TenantCreate(name="a"))
    _, second = accounts.create_tenant(ctx, TenantCreate(name="b"))
    a, b = accounts.authenticate(ctx, first), accounts.authenticate(ctx, second)
    key_of_b = accounts.list_keys(ctx, b)[0]
    with pytest.raises(NotFound):
        accounts.revoke_key(ctx, a, key_of_b.id)
    assert accounts.authenticate(ctx, second).tenant_id == b.tenant_id


def test_a_key_whose_tenant_is_gone_is_unauthenticated(ctx: Context) -> None:
    principal = Principal("ten_ghost", "free", frozenset({Scope.ADMIN}))
    _, token = accounts.create_key(ctx, principal, KeyCreate(name="orphan", scopes=["admin"]))
    with pytest.raises(Unauthenticated):
        accounts.authenticate(ctx, token)


def test_default_tenant_is_upserted_with_the_configured_key(ctx: Context) -> None:
    accounts.ensure_default_tenant(ctx, "k" * 30)
    accounts.ensure_default_tenant(ctx, "n" * 30)
    with pytest.raises(Unauthenticated):
        accounts.authenticate(ctx, "k" * 30)
    principal = accounts.authenticate(ctx, "n" * 30)
    assert (principal.tenant_id, principal.plan) == ("default", "unlimited")
    assert len(accounts.list_keys(ctx, principal)) == 1


def test_tenants_list_by_id(ctx: Context) -> None:
    made = sorted(accounts.create_tenant(ctx, TenantCreate(name=str(n)))[0].id for n in range(3))
    first = accounts.list_tenants(ctx, cursor=None, limit=2)
    rest = accounts.list_tenants(ctx, cursor=first.next_cursor, limit=2)
    assert [t.id for t in first.items + rest.items] == made and rest.next_cursor is None
