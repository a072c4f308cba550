"""``eams dlq list | replay``: the dead letters, through the running worker.

The worker holds the DLQ key (the values are sealed, see :mod:`streams.dlq`), so these
commands talk to ``eams run`` (:mod:`eams.http.dlq`) as the local operator: ``list`` shows
the inputs masked; ``list --reveal`` shows them in clear and is recorded in the event log
(``audit.dlq_revealed``: who, which entries, why); ``replay`` resubmits and, once the
broker has the resubmitted inputs, purges the entries they replace.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from eams.cli.common import api, console
from eams.errors import ConfigError

dlq_app = typer.Typer(help="The dead-letter topic eams.events.dlq (rejected inputs, sealed).")


@dlq_app.command("list")
def dlq_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
    limit: Annotated[int | None, typer.Option(help="Show at most N")] = None,
    reveal: Annotated[
        bool,
        typer.Option(help="Show the inputs in clear (administrators; recorded with --actor)"),
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why you need them in clear")] = None,
    actor: Annotated[str | None, typer.Option(help="Who you are (recorded)")] = None,
) -> None:
    """Rejected inputs, oldest first: where, when, the field, the reason, and the input
    with national IDs, names and phone numbers masked (in clear with --reveal)."""
    client = api()
    if reveal:
        if not reason or not actor:
            raise ConfigError(
                "--reveal shows national IDs, names and phone numbers in clear: give --actor "
                "NAME and --reason WHY; both are recorded in the event log (audit.dlq_revealed)"
            )
        answer = client.post("/api/dlq/reveal", {"reason": reason, "actor": actor, "limit": limit})
    else:
        answer = client.get("/api/dlq", **({"limit": limit} if limit else {}))
    entries: list[dict[str, Any]] = answer["entries"]
    if as_json:
        for entry in entries:
            sys.stdout.write(orjson.dumps(entry).decode() + "\n")
        return
    shown = "in clear 原文" if reveal else "masked 已脱敏"
    table = Table(title=f"eams.events.dlq — {len(entries)} rejected 被拒输入 ({shown})")
    for col in (
        "ref",
        "rejected at 时间",
        "source 来源",
        "field 字段",
        "reason 原因",
        "input 输入",
    ):
        table.add_column(col, overflow="fold")
    for e in entries:
        text = e.get("raw") if reveal else e.get("raw_masked")
        preview = text if text is not None else f"(cannot be opened: {e['problem']})"
        table.add_row(
            e["ref"],
            str(e["rejected_at"])[:19],
            e["source"],
            e["field"],
            e["reason"],
            preview if len(preview) < 80 else preview[:77] + "…",
        )
    console.print(table)
    unreadable = answer.get("unreadable", 0)
    if unreadable:
        console.print(
            f"{unreadable} entries cannot be opened with the current DLQ key "
            f"({answer.get('key_id')}): restore the dlq.key they were sealed with"
        )
    if entries:
        console.print(
            "Fix an input and resubmit: eams dlq replay --file fixed.ndjson "
            "(or `eams dlq replay REF…` to resend originals unchanged); replayed entries "
            "are purged"
        )


@dlq_app.command("replay")
def dlq_replay(
    refs: Annotated[
        list[str] | None, typer.Argument(help="partition:offset of dead letters to resend as is")
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="NDJSON of corrected events to submit instead")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Who replays (recorded)")] = None,
) -> None:
    """Re-submit dead letters to eams.ingest.raw: corrected ones from --file, or the
    originals by REF (after a reference-data fix). Each is checked first; the accepted ones
    are resubmitted and the dead letters they replace (by REF, or with the same event_id)
    are purged. Dedupe by event_id makes it repeatable."""
    events: list[str] = []
    if file is not None:
        if not file.exists():
            raise ConfigError(f"{file}: no such file")
        for i, line in enumerate(file.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                events.append(line.rstrip(b"\r").decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise ConfigError(
                    f"{file}:{i}: not UTF-8 ({exc}); save the file as UTF-8"
                ) from None
    if not refs and not events:
        raise ConfigError("nothing to replay: give REFs or --file FILE (see --help)")
    answer = api().post(
        "/api/dlq/replay", {"refs": list(refs or []), "events": events, "actor": actor}
    )
    for r in answer["results"]:
        if r["status"] == "rejected":
            console.print(f"{r['ref']}: rejected again: {r['reason']}")
    console.print(
        f"{answer['submitted']} inputs re-submitted to eams.ingest.raw, {answer['rejected']} "
        f"rejected, {answer['purged']} dead letters purged; check `eams status` / "
        "`eams dlq list`"
    )
