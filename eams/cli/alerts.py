"""``eams alerts …`` and ``eams silences …``: duty officers' alerts and silences, through
the running worker's API (every command names its actor)."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer
from rich.table import Table

from eams.cli.common import api, console
from events.severity import LEVELS

alerts_app = typer.Typer(help="Duty officers: alerts (预警) — list, show, ack, silence.")
silences_app = typer.Typer(help="Silences by matchers (静默): rule, region (and below), level.")

#: An alert's level as the alert list shows it: ``红色 I级`` … ``蓝色 IV级``.
LEVEL_ZH = {str(lv.name): f"{lv.colour_zh} {lv.name}级" for lv in reversed(LEVELS)}
STATUS_ZH = {
    "firing": "告警中",
    "acknowledged": "已确认",
    "silenced": "已静默",
    "resolved": "已解除",
}


@alerts_app.command("list")
def alerts_list(
    region: Annotated[
        str | None, typer.Option(help="Region code (a city covers its counties)")
    ] = None,
    level: Annotated[str | None, typer.Option(help="I, II, III or IV")] = None,
    status: Annotated[
        str, typer.Option(help="open, firing, acknowledged, silenced, resolved or all")
    ] = "open",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Open alerts, most severe first (告警列表)."""
    rows = api().get(
        "/api/alerts",
        **{
            k: v
            for k, v in {
                "region": region,
                "level": level,
                "status": "" if status == "all" else status,
            }.items()
            if v is not None
        },
    )
    if as_json:
        for row in rows:
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
        return
    table = Table(title=f"{len(rows)} alerts 预警")
    for col in (
        "id",
        "level 级别",
        "region 地区",
        "rule 规则",
        "value 值",
        "status 状态",
        "since 开始",
    ):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["alert_id"],
            LEVEL_ZH.get(r["level"], r["level"]),
            r["region"],
            r["rule"],
            f"{r['value']:g} / {r['threshold']:g}",
            STATUS_ZH.get(r["status"], r["status"]),
            str(r["firing_since"])[:19],
        )
    console.print(table)


@alerts_app.command("show")
def alerts_show(
    alert_id: Annotated[str, typer.Argument(help="Alert id (from `eams alerts list`)")],
) -> None:
    """One alert and its timeline: lifecycle events and every notification attempt."""
    client = api()
    alert = client.get(f"/api/alerts/{alert_id}")
    console.print(
        f"[bold]{alert['alert_id']}[/] {LEVEL_ZH.get(alert['level'], '')} "
        f"{STATUS_ZH.get(alert['status'], alert['status'])} — {alert['summary']}"
    )
    for e in client.get(f"/api/alerts/{alert_id}/timeline"):
        console.print(
            f"  {str(e['occurred_at'])[:19]}  {e['event_type']:<22} {e['actor']}  {e['payload']}"
        )


@alerts_app.command("ack")
def alerts_ack(
    alert_id: Annotated[str, typer.Argument(help="Alert id")],
    actor: Annotated[str, typer.Option(help="Who acknowledges (your roster id)")],
    note: Annotated[str | None, typer.Option(help="What you did or will do")] = None,
) -> None:
    """Acknowledge an alert: reminders and escalation stop (确认)."""
    api().post(f"/api/alerts/{alert_id}/ack", {"actor": actor, "note": note})
    console.print(f"{alert_id} acknowledged by {actor}")


@alerts_app.command("silence")
def alerts_silence(
    alert_id: Annotated[str, typer.Argument(help="Alert id")],
    actor: Annotated[str, typer.Option(help="Who silences")],
    minutes: Annotated[int, typer.Option(help="For how long")] = 60,
    reason: Annotated[str | None, typer.Option(help="Why")] = None,
) -> None:
    """No notifications for this alert for a while (静默)."""
    done = api().post(
        f"/api/alerts/{alert_id}/silence", {"actor": actor, "minutes": minutes, "reason": reason}
    )
    console.print(f"{alert_id} silenced until {done['silenced_until']}")


@alerts_app.command("unsilence")
def alerts_unsilence(
    alert_id: Annotated[str, typer.Argument(help="Alert id")],
    actor: Annotated[str, typer.Option(help="Who ends the silence")],
) -> None:
    """End a silence now (取消静默)."""
    api().post(f"/api/alerts/{alert_id}/unsilence", {"actor": actor})
    console.print(f"{alert_id}: silence ended")


@silences_app.command("add")
def silences_add(
    actor: Annotated[str, typer.Option(help="Who silences")],
    minutes: Annotated[int, typer.Option(help="For how long")],
    rule: Annotated[str | None, typer.Option(help="Only this rule id")] = None,
    region: Annotated[str | None, typer.Option(help="This region and everything under it")] = None,
    level: Annotated[str | None, typer.Option(help="Only this level (I-IV)")] = None,
    reason: Annotated[str | None, typer.Option(help="Why")] = None,
) -> None:
    """Hold back notifications of every alert matching all the given matchers."""
    done = api().post(
        "/api/silences",
        {
            "actor": actor,
            "minutes": minutes,
            "rule": rule,
            "region": region,
            "level": level,
            "reason": reason,
        },
    )
    console.print(f"silence {done['silence_id']} until {done['ends_at']}")


@silences_app.command("list")
def silences_list(
    include_ended: Annotated[bool, typer.Option("--all", help="Ended ones too")] = False,
) -> None:
    """Silences in force (and planned)."""
    for s in api().get("/api/silences", include_ended=include_ended):
        matchers = " ".join(f"{k}={s[k]}" for k in ("rule", "region", "level") if s[k])
        sys.stdout.write(
            f"{s['silence_id']}  {matchers}  until {s['ends_at']}  by {s['actor']}"
            f"{'' if s['active'] else '  (not active)'}\n"
        )


@silences_app.command("remove")
def silences_remove(
    silence_id: Annotated[str, typer.Argument(help="Silence id")],
    actor: Annotated[str, typer.Option(help="Who ends it")],
) -> None:
    """End a silence now."""
    api().delete(f"/api/silences/{silence_id}", actor=actor)
    console.print(f"{silence_id} ended")
