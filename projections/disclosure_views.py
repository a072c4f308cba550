"""How each kind of result is shown to a caller whose policy suppresses small cells.

Every view takes the JSON-ready result a route produced and a :class:`Context`, and returns
what the caller may see (the rules are in :mod:`projections.disclosure`). Views of tables
(overview, indicators, trends) take every count from the solved disclosure table
(:mod:`projections.cells`), never from the route's own figures, so a count shows the same
everywhere; the others suppress the counts they hold (and solve their own small tables where
figures add up: enrolment per region, a run's outcomes). Free text goes everywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from projections.cells import (
    AMOUNT,
    COUNT_COLUMNS,
    HOUSEHOLDS,
    INDICATOR_CELLS,
    PUBLIC_COLUMNS,
    TREND_COLUMNS,
    WELFARE_HOLDERS,
    WELFARE_SLOTS,
)
from projections.disclosure import (
    FREE_TEXT,
    SMALL,
    SMALL_CELL,
    TREND_DAYS,
    WITHHELD,
    Cells,
    CellTable,
    count_cell,
    is_number,
    scrub,
)

#: Count indicators (their values are counts of people, reports or households).
COUNT_INDICATORS = frozenset({*INDICATOR_CELLS, HOUSEHOLDS, WELFARE_HOLDERS})
#: Ratio indicators and the counts they are made of (region -> cell keys).
RATIO_PARTS: dict[str, Callable[[str], tuple[Any, ...]]] = {
    "claims_vs_prior_years": lambda r: (("w", "claims", r, 28), ("part", "prior_claims", r)),
    "applicant_to_vacancy_ratio": lambda r: (
        ("w", "registrations", r, 28),
        ("w", "vacancy_openings", r, 28),
    ),
    "job_loss_rate": lambda r: (("part", "base_headcount", r), ("part", "lost_headcount", r)),
    # a rate of a count: times the population it gives the count back
    "people_laid_off_7d_per_million": lambda r: (("w", "people_laid_off", r, 7),),
}
#: Run outcomes: counts, and the amount that goes with the number of payments.
OUTCOME_COUNTS = (
    "people_enrolled", "still_enrolled", "people_placed", "subsidies_paid", "welfare_posts",
    "job_fairs",
)  # fmt: skip
OUTCOME_AMOUNTS = ("subsidy_amount", "subsidy_amount_paid")


@dataclass(frozen=True)
class Context:
    """What a view needs beyond the result: the solved table, the request's window, which
    rules judge counts, and the risk index's components."""

    cells: Cells | None = None
    window: int = 0
    query: Mapping[str, str] = field(default_factory=dict)
    path: Mapping[str, str] = field(default_factory=dict)
    count_rules: Mapping[str, bool] = field(default_factory=dict)
    components: tuple[str, ...] = ()
    today: dt.date | None = None

    def table(self) -> Cells:
        """The solved table (the view was registered as needing one)."""
        if self.cells is None:
            raise RuntimeError("this view needs the disclosure table")
        return self.cells

    def counts_rule(self, rule: str | None, indicator: str | None) -> bool:
        """Whether an alert's value and threshold are counts (a count indicator, judged
        absolutely or by its rise)."""
        if rule and rule in self.count_rules:
            return self.count_rules[rule]
        if indicator:
            return indicator in COUNT_INDICATORS
        return True  # neither known: treat the value as a count


View = Callable[[Any, Context], Any]


def _text_free(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if k in FREE_TEXT else v) for k, v in doc.items()}


# -- tables ------------------------------------------------------------------------------


def overview(rows: list[dict[str, Any]], ctx: Context) -> list[dict[str, Any]]:
    """Cities: every count from the table at the request's (fixed) window."""
    cells = ctx.table()
    out = []
    for row in rows:
        code = row["code"]
        shown = dict(row)
        for column in (*COUNT_COLUMNS, AMOUNT):
            if column in shown:
                shown[column] = cells.show(("w", column, code, ctx.window))
        if "persons" in shown:
            shown["persons"] = cells.show(("persons", code))
        for key, value in shown.items():  # a column added later is a count until known
            if key not in (*COUNT_COLUMNS, AMOUNT, *PUBLIC_COLUMNS, "persons", "disaster_areas"):
                shown[key] = count_cell(value)
        out.append(shown)
    return out


def _part_hidden(cells: Cells, key: Any) -> bool:
    return cells.withheld(key) or 0 < cells.value(key) < SMALL_CELL


def _indicator(name: str, region: str, value: Any, ctx: Context) -> Any:
    cells = ctx.table()
    if value is None:
        return None
    if name in INDICATOR_CELLS:
        column, window = INDICATOR_CELLS[name]
        return cells.show(("w", column, region, window))
    if name == HOUSEHOLDS:
        return cells.show(("households", region))
    if name == WELFARE_HOLDERS:
        return cells.show(("welfare_holders", region))
    if name == WELFARE_SLOTS:  # advertised posts; withheld where they would tell holders
        return cells.show(("welfare_slots", region))
    if name == "disaster_area":
        return value  # a severity, from public flags
    if name in RATIO_PARTS:
        return WITHHELD if any(_part_hidden(cells, k) for k in RATIO_PARTS[name](region)) else value
    if name == "risk_index":
        return WITHHELD if _risk_withheld(region, ctx) else value
    return count_cell(value)


def _risk_withheld(region: str, ctx: Context) -> bool:
    """The index is withheld when any count behind it is (its components would give the
    count back: one concentrated layoff moves it by 5 points)."""
    cells = ctx.table()
    for name in ctx.components:
        if name in INDICATOR_CELLS:
            column, window = INDICATOR_CELLS[name]
            if _part_hidden(cells, ("w", column, region, window)):
                return True
        elif name == HOUSEHOLDS:
            if _part_hidden(cells, ("households", region)):
                return True
        elif name == WELFARE_HOLDERS:
            if _part_hidden(cells, ("welfare_holders", region)):
                return True
        elif name in RATIO_PARTS:
            if any(_part_hidden(cells, k) for k in RATIO_PARTS[name](region)):
                return True
        elif name != "disaster_area":
            return True  # an indicator this module does not know: withhold to be safe
    return False


def indicators(doc: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """``{indicator: {region: value}}`` or, for one region, ``{indicator: value}``; the
    rules' derived series (``rule:…``: ratios to and rises over past counts) are left out."""
    region = ctx.query.get("region")
    out: dict[str, Any] = {}
    for name, value in doc.items():
        if name.startswith("rule:"):
            continue
        if region:
            out[name] = _indicator(name, region, value, ctx)
        elif isinstance(value, dict):
            out[name] = {r: _indicator(name, r, v, ctx) for r, v in value.items()}
        else:
            out[name] = count_cell(value)
    return out


def trends(doc: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Daily figures of the last :data:`TREND_DAYS` days, from the table."""
    cells = ctx.table()
    region = doc["region"]
    today = ctx.today or dt.date.today()
    first = today - dt.timedelta(days=TREND_DAYS - 1)
    series = []
    for entry in doc.get("days", []):
        day = dt.date.fromisoformat(str(entry["day"]))
        if day < first:
            continue
        shown = {k: count_cell(v) for k, v in entry.items() if k not in (*TREND_COLUMNS, "day")}
        shown["day"] = entry["day"]
        for column in TREND_COLUMNS:
            if column in entry:
                shown[column] = cells.show(("d", column, region, day))
        series.append(shown)
    since = max(dt.date.fromisoformat(str(doc["since"])), first) if doc.get("since") else first
    return doc | {"days": series, "since": since.isoformat()}


def enrolment(rows: list[dict[str, Any]], ctx: Context) -> list[dict[str, Any]]:
    """Enrolment per county and city: a city = its counties; total = now + ended (+ those
    whose enrolment ran out)."""
    table = CellTable()
    columns = ("enrolled_now", "enrolled_total", "ended")
    for row in rows:
        for column in columns:
            table.add((row["level"], column, row["region"]), row.get(column) or 0)
    for row in rows:
        level, region = row["level"], row["region"]
        parts = [(level, "enrolled_now", region), (level, "ended", region)]
        table.group((level, "enrolled_total", region), parts)
        if level == "city":
            for column in columns:
                table.group(
                    ("city", column, row["region"]),
                    [("county", column, r["region"]) for r in rows
                     if r["level"] == "county" and r["city"] == row["region"]],
                )  # fmt: skip
    cells = table.solve()
    return [
        row | {c: cells.show((row["level"], c, row["region"])) for c in columns if c in row}
        for row in rows
    ]


# -- alerts ------------------------------------------------------------------------------


def _num(value: Any) -> str:
    if not is_number(value):
        return "—" if value is None else str(value)
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def _word(word: str) -> str:
    """A word of a generated text: a small number in it becomes "<5"."""
    try:
        number = float(word.replace(",", ""))
    except ValueError:
        return word
    return SMALL if 0 < number < SMALL_CELL else word


def _judged(doc: dict[str, Any], count: bool) -> dict[str, Any]:
    """An alert (or its event's payload) with value and threshold suppressed when they are
    counts, and the generated texts that repeat them rewritten; no free text."""
    out = _text_free(doc)
    if not count:
        return out
    for key in ("value", "threshold"):
        if key in doc:
            out[key] = count_cell(doc[key])
    changed = any(out.get(k) != doc.get(k) for k in ("value", "threshold"))
    if changed and isinstance(doc.get("summary"), str):
        head = doc["summary"].rsplit(": ", 1)[0]
        out["summary"] = f"{head}: {_num(out.get('value'))}（阈值 {_num(out.get('threshold'))}）"
    if isinstance(doc.get("resolution"), str):
        out["resolution"] = " ".join(_word(w) for w in doc["resolution"].split(" "))
    return out


def _rule_of(alert_id: Any) -> str | None:
    """The rule of an alert id ``<rule>:<region>:<time>`` (the projection may read an
    alert's rule empty once later events carry none)."""
    text = str(alert_id or "")
    return text.rsplit(":", 2)[0] if text.count(":") >= 2 else None


def alert(row: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """One alert: its value and threshold are suppressed when its rule judges a count."""
    rule = row.get("rule") or _rule_of(row.get("alert_id"))
    return _judged(row, ctx.counts_rule(rule, row.get("indicator")))


def alerts(rows: list[dict[str, Any]], ctx: Context) -> list[dict[str, Any]]:
    """The inbox: each alert as :func:`alert`."""
    return [alert(r, ctx) for r in rows]


def alert_timeline(rows: list[dict[str, Any]], ctx: Context) -> list[dict[str, Any]]:
    """An alert's events: payload values as :func:`alert`, no notes or reasons."""
    rule = _rule_of(ctx.path.get("alert_id"))
    out = []
    for row in rows:
        payload = row.get("payload")
        if isinstance(payload, str) and payload.startswith("{"):
            doc = orjson.loads(payload)
            count = ctx.counts_rule(doc.get("rule") or rule, doc.get("indicator"))
            payload = orjson.dumps(_judged(doc, count)).decode()
        out.append(_text_free(row) | {"payload": payload})
    return out


def backtest(rows: list[dict[str, Any]], ctx: Context) -> list[dict[str, Any]]:
    """Transitions a backtest found: values and thresholds of count rules suppressed."""
    return [_judged(r, ctx.counts_rule(r.get("rule"), r.get("indicator"))) for r in rows]


# -- playbooks ---------------------------------------------------------------------------


def outcomes(counts: Mapping[str, Any]) -> dict[str, Any]:
    """A run's figures: enrolled = still enrolled + ended, enrolled = placed + not placed;
    the amount paid goes with the number of payments."""
    table = CellTable()
    for name, value in counts.items():
        if is_number(value):
            table.add(("o", name), value, count=name not in OUTCOME_AMOUNTS)
    for part in ("still_enrolled", "people_placed"):
        table.group(("o", "people_enrolled"), [("o", part)])
    for amount in OUTCOME_AMOUNTS:
        table.link(("o", "subsidies_paid"), ("o", amount))
    cells = table.solve()
    return {k: (cells.show(("o", k)) if is_number(v) else count_cell(v)) for k, v in counts.items()}


def _step(step: dict[str, Any]) -> dict[str, Any]:
    out = _text_free(step)
    if isinstance(step.get("counts"), dict):
        out["counts"] = {k: count_cell(v) for k, v in step["counts"].items()}
    return out


def _report(report: Any) -> Any:
    if isinstance(report, str) and report.startswith("{"):
        return orjson.dumps(_report(orjson.loads(report))).decode()
    if not isinstance(report, dict):
        return report
    out = _text_free(report)
    if isinstance(report.get("counts"), dict):
        out["counts"] = outcomes(report["counts"])
    if isinstance(report.get("steps"), list):
        out["steps"] = [_step(s) for s in report["steps"]]
    return out


def _run(row: dict[str, Any]) -> dict[str, Any]:
    out = _text_free(row)
    if "report" in row:
        out["report"] = _report(row["report"])
    if isinstance(row.get("steps"), list):
        out["steps"] = [_step(s) for s in row["steps"]]
    if isinstance(row.get("notes"), list):
        out["notes"] = []  # free text: analysts get no notes
    if isinstance(row.get("outcomes"), dict):
        out["outcomes"] = outcomes(row["outcomes"])
    return out


def runs(rows: list[dict[str, Any]], ctx: Context) -> list[dict[str, Any]]:
    """Runs (and the board): reports' figures suppressed, no notes or reasons."""
    return [_run(r) for r in rows]


def run(doc: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """One run: state, steps, report and outcomes, without its notes."""
    return _run(doc)


def simulation(doc: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """A dry run: how many people an action would reach is a count (and its total amount
    goes with it)."""
    out = dict(doc)
    steps = []
    for step in doc.get("steps", []):
        step = _text_free(step)
        action = step.get("action")
        if isinstance(action, dict) and "people" in action:
            people = count_cell(action["people"])
            hidden = people != action["people"]
            step["action"] = (
                action
                | {"people": people}
                | ({"amount_total": WITHHELD} if hidden and "amount_total" in action else {})
            )
        steps.append(step)
    out["steps"] = steps
    return out


# -- the rest ----------------------------------------------------------------------------


def stream(data: Any, ctx: Context) -> Any:
    """A live change: that something changed, never how many rows (two changes apart
    would count the events between them)."""
    return {}


def reference(doc: Any, ctx: Context) -> Any:
    """Reference data, public declarations or the caller's own account: no counts."""
    return doc


def generic(doc: Any, ctx: Context) -> Any:
    """A result no view knows: :func:`projections.disclosure.scrub`."""
    return scrub(doc)
