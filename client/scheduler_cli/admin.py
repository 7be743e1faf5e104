"""`scheduler tenants|keys|apps ...`: provisioning tenants, API keys and delivery targets."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from scheduler_cli import output
from scheduler_cli.runtime import Session, UsageError, command, common_options, operator_options

if TYPE_CHECKING:
    from scheduler_client import App

SCOPES = ("admin", "send", "read")


def add_parsers(commands: Any) -> None:
    """Register `tenants`, `keys` and `apps` with their subcommands."""
    common = common_options()
    _add_tenants(commands, common)
    _add_keys(commands, common)
    _add_apps(commands, common)


def _group(commands: Any, name: str, help_text: str) -> Any:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")


def _add_tenants(commands: Any, common: argparse.ArgumentParser) -> None:
    sub = _group(commands, "tenants", "provision tenants (operator key)")
    parents = [common, operator_options()]
    create = sub.add_parser("create", parents=parents, help="create a tenant and its first admin key")
    create.add_argument("--name", required=True)
    create.add_argument("--plan", help="usage plan (free, pro, unlimited, ...; default: the server's)")
    create.set_defaults(handler=tenants_create)
    listing = sub.add_parser("ls", parents=parents, help="list tenants")
    listing.set_defaults(handler=tenants_ls)


def _add_keys(commands: Any, common: argparse.ArgumentParser) -> None:
    sub = _group(commands, "keys", "API keys of your tenant (admin scope)")
    create = sub.add_parser("create", parents=[common], help="create a key (shown once)")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scope", dest="scopes", action="append", choices=SCOPES, required=True, help="repeat for several"
    )
    create.set_defaults(handler=keys_create)
    sub.add_parser("ls", parents=[common], help="list keys").set_defaults(handler=keys_ls)
    revoke = sub.add_parser("revoke", parents=[common], help="revoke a key at once")
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.set_defaults(handler=keys_revoke)


def _add_apps(commands: Any, common: argparse.ArgumentParser) -> None:
    sub = _group(commands, "apps", "delivery targets")
    create = sub.add_parser("create", parents=[common], help="create an app (prints its signing secret)")
    create.add_argument("--name", required=True)
    create.add_argument("--url", dest="target_url", required=True, metavar="URL", help="where deliveries go")
    create.add_argument("--header", action="append", default=[], metavar="NAME=VALUE", help="sent with every delivery")
    create.add_argument("--max-attempts", type=int, help="retry default of its messages")
    create.set_defaults(handler=apps_create)
    sub.add_parser("ls", parents=[common], help="list apps").set_defaults(handler=apps_ls)
    for name, handler, text in (
        ("show", apps_show, "show an app"),
        ("rotate-secret", apps_rotate, "new signing secret (the old one signs for 24 h more)"),
        ("delete", apps_delete, "delete an app and cancel its pending messages"),
    ):
        parser = sub.add_parser(name, parents=[common], help=text)
        parser.add_argument("app_id", metavar="APP_ID")
        parser.set_defaults(handler=handler)


# ---- tenants ----


@command
def tenants_create(args: argparse.Namespace, session: Session) -> int:
    """`tenants create --name N [--plan P]`."""
    tenant = session.client(operator=True).create_tenant(args.name, plan=args.plan)
    if session.json:
        session.emit(tenant)
        return 0
    output.print_details([("id", tenant.id), ("name", tenant.name), ("plan", tenant.plan)])
    print(f"admin key (shown once): {tenant.adminKey}")
    return 0


@command
def tenants_ls(args: argparse.Namespace, session: Session) -> int:
    """`tenants ls`."""
    tenants = list(session.client(operator=True).iter_tenants(page_size=500))
    if session.json:
        session.emit(tenants)
        return 0
    output.print_table(["ID", "NAME", "PLAN", "CREATED"], [[t.id, t.name, t.plan, t.createdAt] for t in tenants])
    return 0


# ---- keys ----


@command
def keys_create(args: argparse.Namespace, session: Session) -> int:
    """`keys create --name N --scope S [--scope S]`."""
    key = session.client().create_key(args.name, args.scopes)
    if session.json:
        session.emit(key)
        return 0
    output.print_details([("id", key.id), ("name", key.name), ("scopes", key.scopes)])
    print(f"key (shown once): {key.key}")
    return 0


@command
def keys_ls(args: argparse.Namespace, session: Session) -> int:
    """`keys ls`."""
    keys = session.client().list_keys()
    if session.json:
        session.emit(keys)
        return 0
    output.print_table(["ID", "NAME", "SCOPES", "CREATED"], [[k.id, k.name, k.scopes, k.createdAt] for k in keys])
    return 0


@command
def keys_revoke(args: argparse.Namespace, session: Session) -> int:
    """`keys revoke KEY_ID`."""
    session.client().revoke_key(args.key_id)
    return _done(session, args.key_id, "revoked")


# ---- apps ----


def parse_headers(pairs: list[str]) -> dict[str, str]:
    """`NAME=VALUE` options as a dict."""
    headers: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--header needs NAME=VALUE, got {pair!r}")
        headers[name.strip()] = value
    return headers


@command
def apps_create(args: argparse.Namespace, session: Session) -> int:
    """`apps create --name N --url U [--header K=V] [--max-attempts N]`."""
    headers = parse_headers(args.header)
    app = session.client().create_app(args.name, args.target_url, headers=headers, max_attempts=args.max_attempts)
    return _show_app(session, app)


@command
def apps_ls(args: argparse.Namespace, session: Session) -> int:
    """`apps ls`."""
    apps = list(session.client().iter_apps(page_size=500))
    if session.json:
        session.emit(apps)
        return 0
    rows = [[a.id, a.name, a.url, a.retry.maxAttempts, a.createdAt] for a in apps]
    output.print_table(["ID", "NAME", "URL", "MAX_ATTEMPTS", "CREATED"], rows)
    return 0


@command
def apps_show(args: argparse.Namespace, session: Session) -> int:
    """`apps show APP_ID`."""
    return _show_app(session, session.client().get_app(args.app_id))


@command
def apps_rotate(args: argparse.Namespace, session: Session) -> int:
    """`apps rotate-secret APP_ID`."""
    return _show_app(session, session.client().rotate_secret(args.app_id))


@command
def apps_delete(args: argparse.Namespace, session: Session) -> int:
    """`apps delete APP_ID`."""
    session.client().delete_app(args.app_id)
    return _done(session, args.app_id, "deleted")


def _show_app(session: Session, app: App) -> int:
    if session.json:
        session.emit(app)
        return 0
    if session.quiet:
        print(app.id)
        return 0
    output.print_details(
        [
            ("id", app.id),
            ("name", app.name),
            ("url", app.url),
            ("headers", sorted(app.headers)),
            ("max attempts", app.retry.maxAttempts),
            ("created", app.createdAt),
        ]
    )
    if app.signingSecret:
        print(f"signing secret (shown only now): {app.signingSecret}")
    return 0


def _done(session: Session, ident: str, what: str) -> int:
    if session.json:
        session.emit({"id": ident, "status": what})
    else:
        print(f"{what} {ident}")
    return 0
