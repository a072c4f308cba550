"""``eams playbooks …``: the incident team's commands (应急预案).

Lint and simulate help authors; the rest act on runs through the worker's API, so every
command goes through the one writer of the runs and names its actor.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from eams.cli.common import api, console, settings
from events.severity import LEVELS
from playbooks.lint import lint_paths

playbooks_app = typer.Typer(
    help="Contingency playbooks (应急预案): lint, simulate, and the runs — list, show, "
    "activate or decline, assign and complete steps, notes, close with the after-action "
    "report.",
    no_args_is_help=True,
)

STATUS_ZH = {"proposed": "待启动", "active": "处置中", "declined": "已否决", "closed": "已关闭"}
#: A run's level as the runs list shows it: ``I级(红)`` … ``IV级(蓝)``.
LEVEL_ZH = {
    str(lv.name): f"{lv.name}级({lv.colour_zh.removesuffix('色')})" for lv in reversed(LEVELS)
}


def _print_run(run: dict[str, Any]) -> None:
    console.print(
        f"[bold]{run['run_id']}[/] {run.get('title', run.get('playbook_id'))} "
        f"{LEVEL_ZH.get(run.get('level') or '', '')} "
        f"{STATUS_ZH.get(run['status'], run['status'])} area {run.get('area')}"
    )
    for step in run.get("steps", []):
        mark = "✔" if step["status"] == "completed" else ("!" if step.get("overdue") else "·")
        due = str(step.get("due_at") or "")[:16]
        who = step.get("assignee") or step.get("owner_role")
        extra = " [approval 审批]" if step.get("approval") else ""
        action = f" [{step['action']}]" if step.get("action") else ""
        console.print(f"  {mark} {step['step_id']:<16} {step['title']}{extra}{action}")
        console.print(f"      owner {who}, due {due}, {step['status']}")


@playbooks_app.command("lint")
def lint(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Playbook files or directories (default: the configured library)"),
    ] = None,
) -> None:
    """Check playbook definitions: schema, roles, dependencies (no cycles), deadlines,
    disaster kinds, variants I-IV with every parameter the actions use, regions. Prints
    each problem as file:line: message; exits 1 if there is any."""
    found = lint_paths(paths or [settings().playbooks])
    for problem in found:
        sys.stdout.write(f"{problem}\n")
    if found:
        raise typer.Exit(1)
    console.print("playbooks OK 预案检查通过")


@playbooks_app.command("list")
def list_library() -> None:
    """The playbooks of the library, their triggers and steps."""
    for p in api().get("/api/playbooks"):
        trigger = p["trigger"]
        console.print(
            f"[bold]{p['id']}[/] {p['title']} ({p['activation']}"
            f"{', drill' if p['drill'] else ''}) — trigger: level ≥ "
            f"{trigger.get('alert_level_at_least')}, {trigger.get('disaster_kinds') or 'any kind'}"
        )
        for s in p["steps"]:
            console.print(f"    {s['id']:<16} {s['title']} ({s['owner']}) {s['action'] or ''}")


@playbooks_app.command("simulate")
def simulate(
    name: Annotated[str, typer.Argument(help="Playbook id (see `eams playbooks list`)")],
    region: Annotated[str, typer.Option(help="A region code inside the area, e.g. 371302")],
    level: Annotated[str, typer.Option(help="Severity variant: I, II, III or IV")] = "II",
) -> None:
    """A dry run on current data: the steps with deadlines from now, and what each action
    would do (people to enrol, posts, subsidy total, job-fair date, who is told). Changes
    nothing."""
    got = api().get(f"/api/playbooks/{name}/simulate", region=region, level=level)
    console.print(
        f"[bold]{got['title']}[/] {LEVEL_ZH.get(level, level)} for area {got['area']}; "
        f"disaster {got['disaster_id'] or '—'} {got['disaster_kinds']} (dry run, nothing changed)"
    )
    for s in got["steps"]:
        console.print(
            f"  {s['step_id']:<16} {s['title']}  ({s['owner_title']}, due {s['due_at'][:16]})"
        )
        if s["action"]:
            console.print(f"      would: {s['action']}")


@playbooks_app.command("runs")
def runs(
    status: Annotated[str | None, typer.Option(help="proposed, active, declined or closed")] = None,
    region: Annotated[str | None, typer.Option(help="Area code, e.g. 371300")] = None,
) -> None:
    """Playbook runs, newest first (proposed ones await activation)."""
    rows = api().get(
        "/api/playbook-runs", **{k: v for k, v in {"status": status, "region": region}.items() if v}
    )
    for r in rows:
        console.print(
            f"{r['run_id']:<48} {STATUS_ZH.get(r['status'], r['status']):<4} "
            f"{LEVEL_ZH.get(r.get('level') or '', '')} area {r['area']}"
        )
    console.print(f"{len(rows)} runs")


@playbooks_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="Run id (from `eams playbooks runs`)")],
) -> None:
    """One run: its steps (owner, deadline, status) and outcomes."""
    run = api().get(f"/api/playbook-runs/{run_id}")
    _print_run(run)
    console.print(f"  outcomes: {run.get('outcomes')}")


@playbooks_app.command("timeline")
def timeline(run_id: Annotated[str, typer.Argument(help="Run id")]) -> None:
    """Every event of a run and the outcome events that name it, in order."""
    for e in api().get(f"/api/playbook-runs/{run_id}/timeline"):
        console.print(f"  {str(e['occurred_at'])[:19]}  {e['event_type']:<30} {e['actor']}")


def _act(path: str, body: dict[str, Any], done: str) -> None:
    got = api().post(path, body)
    console.print(done)
    if "run" in got:
        _print_run(got["run"])


@playbooks_app.command("activate")
def activate(
    run_id: Annotated[str, typer.Argument(help="Run id of a proposed run")],
    actor: Annotated[str, typer.Option(help="Who activates (incident team)")],
) -> None:
    """Activate a proposed run: each step is assigned to its owner with its deadline."""
    _act(f"/api/playbook-runs/{run_id}/activate", {"actor": actor}, f"{run_id} activated 已启动")


@playbooks_app.command("decline")
def decline(
    run_id: Annotated[str, typer.Argument(help="Run id of a proposed run")],
    actor: Annotated[str, typer.Option(help="Who declines")],
    reason: Annotated[str, typer.Option(help="Why (required)")],
) -> None:
    """Decline a proposed run, with the reason."""
    body = {"actor": actor, "reason": reason}
    _act(f"/api/playbook-runs/{run_id}/decline", body, f"{run_id} declined 已否决")


@playbooks_app.command("assign")
def assign(
    run_id: Annotated[str, typer.Argument(help="Run id")],
    step: Annotated[str, typer.Argument(help="Step id")],
    assignee: Annotated[str, typer.Option(help="Who takes the step")],
    actor: Annotated[str, typer.Option(help="Who assigns")],
) -> None:
    """Assign an open step to a person (the deadline stays)."""
    body = {"actor": actor, "assignee": assignee}
    _act(f"/api/playbook-runs/{run_id}/steps/{step}/assign", body, f"{step} assigned to {assignee}")


@playbooks_app.command("complete")
def complete(
    run_id: Annotated[str, typer.Argument(help="Run id")],
    step: Annotated[str, typer.Argument(help="Step id")],
    actor: Annotated[str, typer.Option(help="Who completes (or approves) it")],
    note: Annotated[str | None, typer.Option(help="What was done")] = None,
    evidence: Annotated[str | None, typer.Option(help="A reference to evidence")] = None,
) -> None:
    """Complete a step; completing an approval step approves (e.g. the subsidy batch)."""
    body = {"actor": actor, "note": note, "evidence": evidence}
    _act(f"/api/playbook-runs/{run_id}/steps/{step}/complete", body, f"{step} completed 已完成")


@playbooks_app.command("note")
def note(
    run_id: Annotated[str, typer.Argument(help="Run id")],
    text: Annotated[str, typer.Argument(help="The note")],
    actor: Annotated[str, typer.Option(help="Who writes it")],
    step: Annotated[str | None, typer.Option(help="About this step")] = None,
) -> None:
    """Add a note to a run or one of its steps."""
    body = {"actor": actor, "note": text, "step_id": step}
    _act(f"/api/playbook-runs/{run_id}/notes", body, "note added")


@playbooks_app.command("close")
def close(
    run_id: Annotated[str, typer.Argument(help="Run id of an active run")],
    actor: Annotated[str, typer.Option(help="Who closes it")],
    force: Annotated[bool, typer.Option(help="Close with steps still open")] = False,
    reason: Annotated[str | None, typer.Option(help="Why (required with --force)")] = None,
) -> None:
    """Close a run and print its after-action report (people enrolled, placed, subsidies
    paid, step timings against deadlines)."""
    body = {"actor": actor, "force": force, "reason": reason}
    got = api().post(f"/api/playbook-runs/{run_id}/close", body)
    report = got["report"]
    console.print(f"{run_id} closed 已关闭 — after-action report 总结报告")
    for name, value in report["counts"].items():
        console.print(f"  {name:<24} {value:g}")
    console.print(
        f"  steps {report['steps_completed']}/{report['steps_total']} completed, "
        f"{report['steps_on_time']} on time, {report['steps_late']} late"
    )
