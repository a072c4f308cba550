"""``eams run``, ``eams status`` and ``eams rebuild``: the worker itself, what it has done,
and replaying its projections."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

import orjson
import typer

from eams.broker import ensure_broker
from eams.cli.common import api, console, settings
from eams.logs import configure
from eams.settings import Settings
from eams.tools.demo import rebuild

if TYPE_CHECKING:  # the worker's modules load only for `eams run` (see run_cmd)
    from eams.host import Host


def run_cmd(
    role: str = typer.Option(
        "all",
        "--role",
        help="What this process runs. all: everything in one process (ingest stream, "
        "command handler, projector with alerts and playbooks, HTTP API). ingest: one more "
        "ingest stream beside a running `eams run` (same keys: EAMS_PSEUDONYM_SECRET, "
        "EAMS_INGEST_SECRET, EAMS_DLQ_KEY or its state dir). commands: one more command "
        "handler (no ClickHouse). Processes of one role share the partitions of their "
        "topics in a consumer group; stopping one hands its partitions to the others.",
        case_sensitive=False,
    ),
) -> None:
    """Run the worker (by default every role in one process), until Ctrl-C."""
    # Imported here: the worker (FastAPI, uvicorn, the alerting and playbook runtimes) takes
    # about a second to import, which no other command should wait for.
    from eams.ingest_process import main as ingest_main
    from eams.runtime import ROLES, serve, serve_commands

    role = role.lower()
    if role not in ROLES:
        console.print(f"[red]--role {role!r}: choose one of {', '.join(ROLES)}[/red]")
        raise typer.Exit(2)
    s = settings()
    ensure_broker(s)
    if role == "ingest":
        ingest_main()
        return
    _logging(s, role)

    def ready(host: Host) -> None:
        console.print(
            f"EAMS running: API {host.api_url}/docs · Kafka {s.bootstrap} · "
            f"ClickHouse {s.clickhouse_dsn}  (Ctrl-C stops)"
        )

    def handling(partitions: list[int]) -> None:
        console.print(
            f"EAMS command handler running: partitions {partitions} of {s.topics.commands} "
            f"· Kafka {s.bootstrap}  (Ctrl-C stops)"
        )

    if role == "commands":
        asyncio.run(serve_commands(s, on_ready=handling))
    else:
        asyncio.run(serve(s, on_ready=ready))


def _logging(s: Settings, role: str) -> None:
    configure(role=role, level=s.log_level, fmt=s.log_format)


def status_cmd() -> None:
    """What the running worker has done: accepted, rejected, duplicates, projector lag."""
    st = api().status()
    sys.stdout.write(orjson.dumps(st, option=orjson.OPT_INDENT_2).decode() + "\n")
    for name, part in (st.get("alerting") or {}).items():  # held events: say so on stderr
        if part.get("pending_events"):
            sys.stderr.write(
                f"warning: {name}: {part['pending_events']} events wait for the broker "
                f"({part.get('last_flush_error') or 'in flight'}); they are sent again, "
                f"next in {part.get('retry_in') or 0:g} s\n"
            )


def rebuild_cmd() -> None:
    """Drop every projection and replay eams.events from offset 0, with a progress bar.

    If `eams run` is running, it rebuilds in place (other commands may not open the
    embedded engine while it runs); otherwise this command does it itself."""
    rebuild(settings())
