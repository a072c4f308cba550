"""``eams users …`` and ``eams apikeys …``: who may sign in to the console and API, and the
keys of source systems. They work on ``<state dir>/users.sqlite`` directly (no worker
needed); a running worker sees the change at once."""

from __future__ import annotations

import secrets
import sys
from typing import Annotated

import typer
from rich.table import Table

from eams.auth import ROLES, AuthError, UserStore
from eams.cli.common import console, settings
from events.catalogue import PAYLOADS
from events.errors import EventRejectedError
from events.identity import mask_national_id, validate_national_id
from events.privacy import pseudonym
from events.regions import load_reference
from streams.pipeline import is_source_type

users_app = typer.Typer(
    help="Console and API users (用户): add, list, disable. Roles: " + ", ".join(ROLES),
    no_args_is_help=True,
)
apikeys_app = typer.Typer(
    help="API keys of source systems for POST /api/ingest (header X-API-Key).",
    no_args_is_help=True,
)


def _store() -> UserStore:
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
        regions = ", ".join(u["regions"]) or "全省 all"  # type: ignore[arg-type]
        role = ROLES.get(str(u["role"]), str(u["role"]))
        disabled = "yes" if u["disabled"] else ""
        table.add_row(str(u["name"]), role, regions, disabled, str(u["created"])[:19])
    console.print(table)


@users_app.command("link")
def link(name: Annotated[str, typer.Argument(help="Sign-in name")]) -> None:
    """Link a user to their own person, so the fraud rule "approved for one's household"
    knows them: reads the user's resident ID from standard input (never an argument: it
    would stay in the shell's history) and keeps only its pseudonym.

    echo 370102199001011234 | eams users link chen"""
    text = sys.stdin.readline().strip()
    try:
        validate_national_id(text)
    except EventRejectedError as exc:
        raise typer.BadParameter(f"standard input: {exc}") from None
    s = settings()
    if s.pseudonym_key_missing:
        raise typer.BadParameter(
            "no pseudonym key in this state dir and no EAMS_PSEUDONYM_SECRET: run this with "
            "the worker's settings (a new key would give the person another pseudonym)"
        )
    _store().link_person(name, pseudonym(text, s.secret()))
    console.print(f"user {name} linked to their person {mask_national_id(text)}")


@users_app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="Sign-in name")]) -> None:
    """Disable a user: sign-in refused and their sessions ended at once."""
    _store().disable(name)
    console.print(f"user {name} disabled")


@apikeys_app.command("add")
def add_key(
    source: Annotated[str, typer.Argument(help="The source system, e.g. civil-affairs")],
    types: Annotated[
        str | None,
        typer.Option(
            help="Event types it may submit, comma-separated; default: every type "
            "a source may send (see `eams events schema`)"
        ),
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option(
            help="A region it may submit for (repeat; a city covers its counties); "
            "default: every region"
        ),
    ] = None,
) -> None:
    """A new key for a source system (replaces its old key and its allow-lists); printed
    once. The API and the ingest stream both refuse events outside its allow-lists."""
    allowed = _event_types(types)
    regions = _regions(region or [], settings().region_hierarchy)
    key = _store().add_key(source, allowed, regions)
    console.print(
        f"API key for {source}: may submit {', '.join(allowed) or 'every source event type'} "
        f"for {', '.join(regions) or 'every region'}",
        soft_wrap=True,
    )
    console.print("send it as X-API-Key; it is not shown again:")
    sys.stdout.write(f"{key}\n")


def _event_types(option: str | None) -> tuple[str, ...]:
    """The checked, de-duplicated event types of ``--types``."""
    wanted = [t.strip() for t in (option or "").split(",") if t.strip()]
    for name in wanted:
        if name not in PAYLOADS:
            raise AuthError(f"--types: unknown event type {name!r}; see `eams events schema`")
        if not is_source_type(name):
            raise AuthError(f"--types: {name!r} is recorded by EAMS itself, not by sources")
    return tuple(dict.fromkeys(wanted))


def _regions(codes: list[str], hierarchy: str) -> tuple[str, ...]:
    """The checked region codes of ``--region``."""
    reference = load_reference(hierarchy)
    for code in codes:
        if reference.get(code) is None:
            raise AuthError(f"--region: {code!r} is not a region code; see `eams regions list`")
    return tuple(dict.fromkeys(codes))


@apikeys_app.command("list")
def list_keys() -> None:
    """The sources that have a key, what each may submit (never the key)."""
    for k in _store().api_keys():
        types = ", ".join(k["types"]) or "every source type"  # type: ignore[arg-type]
        regions = ", ".join(k["regions"]) or "every region"  # type: ignore[arg-type]
        state = "disabled" if k["disabled"] else "active"
        console.print(
            f"{k['source']:<24} {state:<9} types: {types}; regions: {regions}", soft_wrap=True
        )


@apikeys_app.command("disable")
def disable_key(source: Annotated[str, typer.Argument(help="The source system")]) -> None:
    """Disable a source's key."""
    _store().disable_key(source)
    console.print(f"API key of {source} disabled")
