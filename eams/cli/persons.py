"""``eams persons …``: case officers' and auditors' view of one person's case, through the
running worker's API (``explain``), and the recognition rules and case policy checked here
(``rules lint``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from cases.policy import lint_policy
from cases.rules import lint_recognition
from eams.cli.common import api, console, err, settings
from events.labels import label
from events.regions import load_reference

HELP = """Persons' cases (援助对象): why a person was recognised, and the rules behind it.

\b
Examples:
  eams persons explain p_0123…cdef --purpose "复核认定 review" --as-of 2026-03-31
      every recognition decision up to that day, replayed from the log with the facts
      known then and the rule-set version it names: ✓/✗ per condition, reproduced or not
      (exit 1 when a decision does not reproduce). The read is audited: say why.
  eams persons explain p_0123…cdef --purpose "audit" --lang en --json
  eams persons rules lint                      the shipped rules and policy
  eams persons rules lint deploy/recognition --policy deploy/cases/policy.yaml
"""

persons_app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode=None)
rules_app = typer.Typer(
    help="Recognition rules (deploy/recognition) and the case policy (deploy/cases).",
    no_args_is_help=True,
)
persons_app.add_typer(rules_app, name="rules")

#: The words of the explanation, per language.
WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "person": "人员",
        "as_of": "截至",
        "decisions": "项认定决定",
        "none": "截至该日没有认定决定",
        "rules": "规则版本",
        "reproduced": "重放结果一致",
        "differs": "重放结果不一致",
        "yes": "是",
        "no": "否",
        "facts": "当日已知情况",
        "judged": "按当日规则判断",
        "no_rules": "该市当日没有生效的认定规则",
        "holds": "符合",
        "fails": "不符合",
        "cut": "注意",
        "money": "项补贴决定（按当日政策目录重放）",
        "catalogue": "政策目录版本",
    },
    "en": {
        "person": "Person",
        "as_of": "as of",
        "decisions": "recognition decisions",
        "none": "no recognition decision by that day",
        "rules": "rule set",
        "reproduced": "reproduced",
        "differs": "NOT reproduced",
        "yes": "yes",
        "no": "no",
        "facts": "Facts known that day",
        "judged": "Judged by the rules in force that day",
        "no_rules": "the city had no recognition rules in force that day",
        "money": "subsidy decisions (replayed with the catalogue of their day)",
        "catalogue": "catalogue",
        "holds": "holds",
        "fails": "does not hold",
        "cut": "note",
    },
}


def _value(value: Any) -> str:
    """A value as people read it: thousands separators, yes/no for booleans, — for unknown."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _pick(labels: dict[str, str] | None, lang: str, fallback: str = "") -> str:
    if not labels:
        return fallback
    other = "en" if lang == "zh" else "zh"  # a county has no English name: show the Chinese
    return labels.get(lang) or labels.get(other) or fallback


def _condition(c: dict[str, Any]) -> str:
    mark = "✓" if c.get("ok") else "✗"
    where = "" if c.get("rule") in (None, "requires") else f"[{c['rule']}] "
    return f"{mark} {where}{c['condition']}  → {_value(c.get('value'))}"


def render(doc: dict[str, Any], lang: str = "zh") -> list[str]:
    """The lines ``eams persons explain`` prints for an explanation (the API's JSON)."""
    w = WORDS[lang]
    place = ", ".join(
        _pick(doc.get(k), lang) for k in ("region_name", "city_name") if doc.get(k)
    ) or (doc.get("region") or "")
    decisions = doc["decisions"]
    head = f"{w['person']} {doc['person_id']}  {place}  {w['as_of']} {doc['as_of']}"
    out = [head, f"{len(decisions)} {w['decisions']}" if decisions else w["none"]]
    if doc.get("note"):
        out.append(f"{w['cut']}: {doc['note']}")
    for i, d in enumerate(decisions, start=1):
        group = _pick(d.get("group_label"), lang, d["group"])
        kind = _pick(d.get("event_label"), lang, d["event_type"])
        rule = d.get("replayed_rule") or d.get("recorded_rule")
        title = _pick(d.get("rule_title"), lang)
        out.append("")
        out.append(f"{i}. {d['day']}  {kind}  {group}")
        out.append(
            f"   {w['rules']} {d['rule_set']}" + (f"  {rule} {title}".rstrip() if rule else "")
        )
        out += [f"   {_condition(c)}" for c in d.get("conditions", ())]
        if d["reproduced"]:
            out.append(f"   {w['reproduced']}: {w['yes']}")
        else:
            out.append(f"   {w['differs']}: {w['no']}")
            out += [f"     - {diff}" for diff in d.get("differences", ())]
    out.append("")
    out.append(f"{w['facts']} ({doc['as_of']}):")
    facts = doc.get("facts_then") or {}
    out += [f"   {k} = {_value(v)}" for k, v in sorted(facts.items())]
    if doc.get("rules_then") is None:
        out.append(f"{w['judged']}: {w['no_rules']}")
        return out
    out.append(f"{w['judged']} ({w['rules']} {doc['rules_then']}):")
    for j in doc.get("judged_then", ()):
        group = _pick(j.get("group_label"), lang, j["group"])
        if j["holds"]:
            title = _pick(j.get("rule_title"), lang)
            out.append(f"   ✓ {group}: {w['holds']}  {j['rule_id']} {title}".rstrip())
        else:
            failed = [c for c in j.get("conditions", ()) if not c.get("ok")]
            out.append(f"   ✗ {group}: {w['fails']}")
            out += [f"      {_condition(c)}" for c in failed]
    money = doc.get("subsidies") or []
    if money:
        out += ["", f"{len(money)} {w['money']}"]
    for i, m in enumerate(money, start=1):
        kind = label(m["event_type"], lang)
        again = m.get("replayed") or {}
        shown = ", ".join(f"{k} {v}" for k, v in again.items() if k not in ("failed",) and v != [])
        out.append(f"{i}. {m['day']}  {kind}  {m['application_id']}  {m.get('subsidy') or ''}")
        if m.get("version"):
            out.append(f"   {w['catalogue']} {m['version']}" + (f"  {shown}" if shown else ""))
        if m.get("by"):
            out.append(f"   {m['by']}")
        if m["reproduced"]:
            out.append(f"   {w['reproduced']}: {w['yes']}")
        else:
            out.append(f"   {w['differs']}: {w['no']}")
            out += [f"     - {diff}" for diff in m.get("differences", ())]
    return out


@persons_app.command("explain")
def explain_cmd(
    person_id: Annotated[str, typer.Argument(help="The person's pseudonym (p_ + 32 hex)")],
    purpose: Annotated[
        str, typer.Option(help="Why you read this person's detail (recorded with the read)")
    ],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The day, YYYY-MM-DD (default: today)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The API's JSON, one object")] = False,
    lang: Annotated[str, typer.Option(help="zh (default) or en")] = "zh",
) -> None:
    """Replay why a person was (or was not) recognised, each decision with the facts and
    the rule-set version of its day; then the facts and the judgement as of the day.
    Exit 1 when a decision does not reproduce."""
    if lang not in WORDS:
        err.print(f"--lang: give zh or en, not {lang!r}")
        raise typer.Exit(2)
    params = {"purpose": purpose} | ({"as_of": as_of} if as_of else {})
    doc = api().get(f"/api/persons/{person_id}/explain", **params)
    if as_json:
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
    else:
        for line in render(doc, lang):
            sys.stdout.write(line + "\n")
    if not doc["reproduced"]:
        raise typer.Exit(1)


@rules_app.command("lint")
def rules_lint(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Recognition rules folder (default: EAMS_RECOGNITION)"),
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Case policy file (default: EAMS_CASE_POLICY)")
    ] = None,
) -> None:
    """Check the recognition rules and the case policy; every problem is printed as
    file:line: where: message (exit 1 if any)."""
    s = settings()
    target = directory or s.recognition
    policy_file = policy or s.case_policy
    primary = load_reference(s.region_hierarchy.split(",")[0])
    # the shipped rules are Shandong's: city codes are checked against its reference
    cities = {c.code: c.name for c in primary.cities()} if primary.hierarchy == "shandong" else None
    problems = lint_recognition(target, cities=cities) + lint_policy(policy_file)
    for problem in problems:
        sys.stdout.write(f"{problem}\n")
    if problems:
        err.print(f"{len(problems):,} problem(s) in {target} and {policy_file}")
        raise typer.Exit(1)
    console.print(f"{target}, {policy_file}: OK")
