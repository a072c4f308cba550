"""``eams rules lint|backtest``: the alert rules (YAML), checked here or replayed by the
running worker."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from alerting.indicator_names import INDICATOR_NAMES
from alerting.rules import lint_rules
from eams.cli.common import api, console, err, settings
from events.regions import load_reference

rules_app = typer.Typer(help="Alert rules (YAML): lint and backtest.")


@rules_app.command("lint")
def rules_lint(
    path: Annotated[
        Path | None, typer.Argument(help="Rules file or folder (default: EAMS_RULES)")
    ] = None,
) -> None:
    """Check rule files; every problem is printed as file:line: message (exit 1 if any)."""
    s = settings()
    target = path or s.rules
    problems = lint_rules(
        target, indicators=INDICATOR_NAMES, reference=load_reference(s.region_hierarchy)
    )
    for problem in problems:
        sys.stdout.write(f"{problem}\n")
    if problems:
        err.print(f"{len(problems)} problem(s) in {target}")
        raise typer.Exit(1)
    console.print(f"{target}: OK")


@rules_app.command("backtest")
def rules_backtest(
    from_: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD")],
    to: Annotated[str, typer.Option(help="Last day, YYYY-MM-DD")],
    rule: Annotated[str | None, typer.Option(help="Only this rule id")] = None,
) -> None:
    """Replay history day by day through the rules of the running worker and print which
    alerts would have fired, changed level or resolved, and when."""
    rows = api().get(
        "/api/rules/backtest",
        **{k: v for k, v in {"start": from_, "end": to, "rule": rule}.items() if v},
    )
    for r in rows:
        level = r["level"] or r["previous_level"] or ""
        sys.stdout.write(
            f"{r['at'][:10]}  {r['kind']:<14} {level:<4} {r['region']:<7} "
            f"{r['rule']:<36} value={r['value']}\n"
        )
    console.print(f"{len(rows)} transitions")
