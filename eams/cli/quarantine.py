"""``eams quarantine list|retry``: events of the log the projector could not write.

They go through the running worker's API (it owns the embedded engine); see
:mod:`projections.quarantine` for what is parked and how a retry stays exactly once.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from eams.cli.common import api, console

quarantine_app = typer.Typer(
    help="Events the projector parked (隔离区) instead of stopping: list them with the reason; "
    "retry them after a fix (a migration that widens a column, a new release).",
    no_args_is_help=True,
)


@quarantine_app.command("list")
def list_cmd(
    status: Annotated[str, typer.Option(help="parked (default), projected, or all")] = "parked",
    limit: Annotated[int, typer.Option(help="Show at most N")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Parked events in log order: log position, type, region, field and reason."""
    answer = api().get("/api/quarantine", status="" if status == "all" else status, limit=limit)
    entries: list[dict[str, Any]] = answer["entries"]
    if as_json:
        for e in entries:
            sys.stdout.write(orjson.dumps(e).decode() + "\n")
        return
    table = Table(title="隔离区 Quarantine")
    for col in ("ref", "类型 type", "地区 region", "字段 field", "原因 reason", "状态 status"):
        table.add_column(col, overflow="fold")
    for e in entries:
        status_text = f"{e['status']} ({e['attempts']} retries)"
        table.add_row(e["ref"], e["event_type"], e["region"], e["field"], e["error"], status_text)
    console.print(table)
    counts = answer["counts"]
    console.print(
        f"parked {counts.get('parked', 0):,} · projected after retry "
        f"{counts.get('projected', 0):,}"
        + ("" if not counts.get("parked") else " — fix the cause, then `eams quarantine retry`")
    )


@quarantine_app.command("retry")
def retry_cmd(
    refs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Entries as PARTITION:OFFSET (from `eams quarantine list`); none = all"
        ),
    ] = None,
    actor: Annotated[str, typer.Option(help="Who asks for the retry (recorded)")] = "operator",
) -> None:
    """Project parked events again with today's code and schema; each is written exactly once,
    and what still fails stays parked with its new reason."""
    answer = api(timeout=600).post("/api/quarantine/retry", {"refs": refs or [], "actor": actor})
    for e in answer["parked"]:
        console.print(f"still parked {e['ref']} {e['event_type']}: {e['field']}: {e['error']}")
    console.print(f"{len(answer['projected']):,} projected, {len(answer['parked']):,} still parked")
    if answer["parked"]:
        raise typer.Exit(1)
