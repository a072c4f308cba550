"""``eams subsidies …``: the policy catalogue (专项就业政策援助) checked and shown here."""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from eams.cli.common import console, err, settings
from events.clock import today
from events.labels import label
from events.regions import load_reference
from subsidies.catalogue import PolicySpec, Resolved, lint_catalogue, load_catalogue
from subsidies.evaluation import MEASURES, lint_table, load_table
from subsidies.fraud_rules import lint_fraud_rules, load_fraud_rules

HELP = """Subsidies, loans and allowances (专项就业政策援助): the catalogue per city and year.

\b
Examples:
  eams subsidies lint                        the shipped catalogue (deploy/policies)
  eams subsidies lint my/policies            every problem as file:line: where: message
  eams subsidies policies --city 370700      Weifang's policies in force today: amounts,
                                             months, who qualifies, what excludes what
  eams subsidies policies --city 370700 --on 2025-06-01 --lang en
"""

subsidies_app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode=None)


def _cities() -> dict[str, str] | None:
    primary = load_reference(settings().region_hierarchy.split(",")[0])
    # the shipped catalogue is Shandong's: city codes are checked against its reference
    return {c.code: c.name for c in primary.cities()} if primary.hierarchy == "shandong" else None


def _report(target: Path, problems: list[str]) -> None:
    """Print a lint's problems as file:line: where: message and exit 1 if any, else OK."""
    for problem in problems:
        sys.stdout.write(f"{problem}\n")
    if problems:
        err.print(f"{len(problems):,} problem(s) in {target}")
        raise typer.Exit(1)
    console.print(f"{target}: OK")


@subsidies_app.command("lint")
def lint_cmd(
    directory: Annotated[
        Path | None, typer.Argument(help="Catalogue folder (default: EAMS_POLICIES)")
    ] = None,
) -> None:
    """Check the policy catalogue; every problem is printed as file:line: where: message
    (exit 1 if any)."""
    target = directory or settings().policies
    _report(target, lint_catalogue(target, cities=_cities()))


def _money(value: Decimal) -> str:
    return f"¥{value:,.2f}"


def _amount(policy: PolicySpec, resolved: Resolved, lang: str) -> str:
    spec = policy.amount
    zh = lang == "zh"
    if spec.fixed is not None:
        base = _money(spec.fixed)
    elif spec.parameter is not None:
        base = f"{spec.parameter} {_money(resolved.value('$' + spec.parameter))}"
    else:
        base = ("申请所报 " if zh else "as claimed: ") + str(spec.claimed)
    if spec.base_cap is not None:
        base += (" 最高计 " if zh else " counted up to ") + _money(resolved.value(spec.base_cap))
    share = resolved.value(spec.share)
    text = base if share == 1 else f"{base} × {share:g}"
    if spec.cap is not None:
        text += (" 封顶 " if zh else ", at most ") + _money(resolved.value(spec.cap))
    return text


def _period(policy: PolicySpec, lang: str) -> str:
    period, zh = policy.period, lang == "zh"
    if period.once:
        text = "一次性" if zh else "once"
        return text + (
            ("（每人限一次）" if zh else " (once per person)") if policy.once_per_person else ""
        )
    text = f"按月，最长 {period.months} 个月" if zh else f"monthly, at most {period.months} months"
    if period.until_retirement_within_years:
        years = period.until_retirement_within_years
        text += (
            f"；距退休不足 {years} 年的至退休"
            if zh
            else f"; until retirement if within {years} years of it"
        )
    if period.at_most_loan_months:
        text += "；不超过贷款期限" if zh else "; no longer than the loan"
    return text


@subsidies_app.command("policies")
def policies_cmd(
    city: Annotated[str, typer.Option(help="City code, e.g. 370700 (潍坊市)")],
    on: Annotated[
        str | None, typer.Option(help="The day, YYYY-MM-DD (default: today in Shanghai)")
    ] = None,
    lang: Annotated[str, typer.Option(help="zh or en")] = "zh",
    directory: Annotated[
        Path | None, typer.Option(help="Catalogue folder (default: EAMS_POLICIES)")
    ] = None,
) -> None:
    """The policies a city offers on a day: amount, months, conditions, exclusions."""
    try:
        day = dt.date.fromisoformat(on) if on else today()
    except ValueError:
        err.print(f"--on {on!r}: expected a day as YYYY-MM-DD, e.g. 2026-03-31")
        raise typer.Exit(2) from None
    catalogue = load_catalogue(directory or settings().policies, cities=_cities())
    resolved = catalogue.resolve(city, day)
    if resolved is None:
        known = ", ".join(sorted(catalogue.cities)) or "none"
        err.print(f"no catalogue for city {city!r} on {day} (cities: {known})")
        raise typer.Exit(1)
    name = catalogue.cities[city].name
    words = _WORDS[lang if lang in _WORDS else "zh"]
    console.print(f"{name} {city} · {resolved.ref} · {day} · {resolved.source}")
    for policy in resolved.policy_set.policies:
        title = policy.title_en if lang == "en" and policy.title_en else policy.title
        lines = [
            f"\n{title} [{policy.id}] ({label(policy.kind.value, lang)})",
            f"  {words['amount']}: {_amount(policy, resolved, lang)}",
            f"  {words['period']}: {_period(policy, lang)}",
        ]
        if policy.requires:
            lines.append(f"  {words['requires']}: {'; '.join(policy.requires)}")
        for rule in policy.rules:
            rule_title = rule.title_en if lang == "en" and rule.title_en else rule.title
            lines.append(f"  {words['or']} {rule_title}: {'; '.join(rule.when)}")
        if policy.incompatible_with:
            lines.append(f"  {words['excludes']}: {', '.join(policy.incompatible_with)}")
        sys.stdout.write("\n".join(lines) + "\n")


_WORDS = {
    "zh": {
        "amount": "标准",
        "period": "期限",
        "requires": "条件",
        "or": "或",
        "excludes": "不可同时享受",
    },
    "en": {
        "amount": "amount",
        "period": "period",
        "requires": "requires",
        "or": "or",
        "excludes": "excludes",
    },
}


FRAUD_HELP = """Fraud supervision (风险内控): the rules that raise fraud.suspected.

\b
Examples:
  eams fraud lint                       the shipped rules (deploy/fraud/rules.yaml)
  eams fraud lint my/rules.yaml         every problem as file:line: where: message
  eams fraud rules                      each rule: what it looks for, its thresholds
\b
The cases and their handling are in the console (稽核) and at /api/fraud-cases.
"""

fraud_app = typer.Typer(help=FRAUD_HELP, no_args_is_help=True, rich_markup_mode=None)


@fraud_app.command("lint")
def fraud_lint(
    path: Annotated[
        Path | None, typer.Argument(help="Rules file (default: EAMS_FRAUD_RULES)")
    ] = None,
) -> None:
    """Check the fraud rules; every problem is printed as file:line: where: message (exit 1
    if any)."""
    target = path or settings().fraud_rules
    _report(target, lint_fraud_rules(target))


@fraud_app.command("rules")
def fraud_rules_cmd(
    lang: Annotated[str, typer.Option(help="zh or en")] = "zh",
) -> None:
    """Each rule of EAMS_FRAUD_RULES: id, title, severity and thresholds."""
    rules = load_fraud_rules(settings().fraud_rules)
    sys.stdout.write(f"风险内控规则 fraud rules: {rules.path}\n")
    for rule in rules.rules:
        extra = {
            k: v
            for k, v in rule.model_dump(mode="json").items()
            if k not in ("id", "kind", "title", "title_en", "severity", "source", "enabled")
        }
        shown = ", ".join(f"{k}={v}" for k, v in extra.items()) or "—"
        title = rule.title if lang == "zh" else rule.title_en
        off = " (off)" if not rule.enabled else ""
        sys.stdout.write(f"  {rule.id}{off} [{rule.severity}]: {title}; {shown} ({rule.source})\n")


EVALUATION_HELP = """The performance evaluation (绩效评价): the scored indicator table.

\b
Examples:
  eams evaluation lint                  the shipped table (deploy/evaluation/indicators.yaml)
  eams evaluation lint my/table.yaml    every problem as file:line: where: message
  eams evaluation indicators --lang en  each indicator: weight, target, what it counts
\b
A period is computed, frozen and exported in the console (绩效评价) or at /api/evaluations.
"""

evaluation_app = typer.Typer(help=EVALUATION_HELP, no_args_is_help=True, rich_markup_mode=None)


@evaluation_app.command("lint")
def evaluation_lint(
    path: Annotated[
        Path | None, typer.Argument(help="Table file (default: EAMS_EVALUATION)")
    ] = None,
) -> None:
    """Check the indicator table; every problem is printed as file:line: where: message
    (exit 1 if any)."""
    target = path or settings().evaluation
    _report(target, lint_table(target))


@evaluation_app.command("indicators")
def evaluation_indicators(lang: Annotated[str, typer.Option(help="zh or en")] = "zh") -> None:
    """Each indicator of EAMS_EVALUATION: weight, target and what it counts."""
    table = load_table(settings().evaluation)
    sys.stdout.write(f"{table.title if lang == 'zh' else table.title_en} ({table.ref})\n")
    for ind in table.indicators:
        title = ind.title if lang == "zh" else ind.title_en
        limit = f", within {ind.days} days" if ind.days else ""
        sys.stdout.write(
            f"  {ind.id}: {title}; weight {ind.weight}, target {ind.target}{limit}\n"
            f"      {MEASURES[ind.measure]}\n"
        )
