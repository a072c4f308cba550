"""``eams users …`` and ``eams apikeys …``: who may sign in to the console and API, and the
keys of source systems. They work on ``<state dir>/users.sqlite`` directly (no worker
needed); a running worker sees the change at once."""

from __future__ import annotations

import secrets
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from eams.auth import ROLES, UserStore

users_app = typer.Typer(
    help="Console and API users (用户): add, list, disable. Roles: " + ", ".join(ROLES),
    no_args_is_help=True,
)
apikeys_app = typer.Typer(
    help="API keys of source systems for POST /api/ingest (header X-API-Key).",
    no_args_is_help=True,
)
console = Console()


def _store() -> UserStore:
    from eams.cli import settings

    return UserStore(settings().state_dir / "users.sqlite")


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Sign-in name, e.g. linyi-duty-a")],
    role: Annotated[str, typer.Option(help=" | ".join(ROLES))],
    region: Annotated[
        list[str] | None,
        typer.Option(help="A region the user may see (repeat); none = the whole province"),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input")
    ] = False,
) -> None:
    """Add a user. Without --password-stdin a strong password is generated and printed
    once; pass it on safely."""
    password = sys.stdin.readline().strip() if password_stdin else secrets.token_urlsafe(12)
    _store().add_user(name, role, password, list(region or []))
    console.print(f"user {name} added as {ROLES[role]}" + (f" for {region}" if region else ""))
    if not password_stdin:
        sys.stdout.write(f"password: {password}\n")


@users_app.command("list")
def list_users() -> None:
    """Every user, role, regions and whether disabled (never a password)."""
    table = Table(title="users 用户")
    for col in ("name", "role 角色", "regions 地区", "disabled 停用", "created"):
        table.add_column(col)
    for u in _store().users():
        table.add_row(str(u["name"]), ROLES.get(str(u["role"]), str(u["role"])),
                      ", ".join(u["regions"]) or "全省 all",  # type: ignore[arg-type]
                      "yes" if u["disabled"] else "", str(u["created"])[:19])  # fmt: skip
    console.print(table)


@users_app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="Sign-in name")]) -> None:
    """Disable a user: sign-in refused and their sessions ended at once."""
    _store().disable(name)
    console.print(f"user {name} disabled")


@apikeys_app.command("add")
def add_key(
    source: Annotated[str, typer.Argument(help="The source system, e.g. civil-affairs")],
) -> None:
    """A new key for a source system (replaces its old key); printed once."""
    key = _store().add_key(source)
    console.print(f"API key for {source} (send it as X-API-Key; it is not shown again):")
    sys.stdout.write(f"{key}\n")


@apikeys_app.command("list")
def list_keys() -> None:
    """The sources that have a key (never the key)."""
    for k in _store().api_keys():
        console.print(f"{k['source']:<24} {'disabled' if k['disabled'] else 'active'}")


@apikeys_app.command("disable")
def disable_key(source: Annotated[str, typer.Argument(help="The source system")]) -> None:
    """Disable a source's key."""
    _store().disable_key(source)
    console.print(f"API key of {source} disabled")
