"""The performance evaluation per region (绩效评价), pure: the scored indicator table as
configuration (``deploy/evaluation/indicators.yaml``), periods, and the scoring of what the
read models counted (:mod:`projections.evaluation_queries`).

A measure counts, per county, a numerator and a denominator for a period as the log was
known at an instant (``as_of``: only events recorded by then), so a period's evaluation
computed again as of its freeze gives the same figures. A city's counts are the sums of its
counties', the province's of its cities'. Each indicator's value is numerator /
denominator (none when nothing was there to count), its score ``weight × min(value /
target, 1)``; a region's total is the sum of its scores over the weights that applied,
× 100; regions are ranked among their level, the highest total first (ties share a rank).

``evaluation.frozen`` keeps all of it: the table's id and checksum, the period, the instant,
and every region's counts, values, scores, total and rank (``scores``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from events.clock import SHANGHAI
from events.commands import Change, Command, parse_payload
from events.envelope import Envelope
from events.errors import CommandRejectedError, ConfigError
from events.yaml_lines import YamlLines, YamlSyntaxError, problems

__all__ = [
    "MEASURES",
    "EvaluationTable",
    "Period",
    "lint_table",
    "load_table",
    "parse_period",
    "score",
]

#: What each measure counts (numerator / denominator), per county and period.
MEASURES: dict[str, str] = {
    "coverage": "recognised persons with a service, visit, plan, referral, training or "
    "placement in the period / persons recognised and not exited before it",
    "employment_rate": "persons served in the period who were placed in it / persons served",
    "clearing_on_time": "zero-employment households cleared on time in the period / cleared "
    "in it, plus those past their deadline at its end",
    "recognition_timeliness": "persons registered in the period and recognised within `days` "
    "days / persons registered in it",
    "visit_compliance": "visits due in the period made by their due day / visits due in it",
    "subsidy_timeliness": "entitlements fallen due in the period paid within `days` days / "
    "entitlements fallen due in it",
    "recovery_rate": "money recovered by the period's end / money ordered back by then",
}
_PLACES = Decimal("0.0001")


class EvaluationError(ConfigError):
    """The indicator table cannot be used; the message lists every problem with its line."""


class Indicator(BaseModel):
    """One scored indicator."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")]
    measure: str
    title: Annotated[str, Field(min_length=1, max_length=80)]
    title_en: Annotated[str, Field(min_length=1, max_length=120)]
    weight: Annotated[Decimal, Field(gt=0, le=100)]
    target: Annotated[Decimal, Field(gt=0, le=1)]
    direction: Literal["higher", "lower"] = "higher"
    days: Annotated[int, Field(ge=1, le=365)] | None = None


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,40}$")]
    title: Annotated[str, Field(min_length=1, max_length=80)]
    title_en: Annotated[str, Field(min_length=1, max_length=120)]
    indicators: Annotated[tuple[Indicator, ...], Field(min_length=1, max_length=30)]


@dataclass(frozen=True)
class EvaluationTable:
    """The indicator table of one file and its checksum (a frozen evaluation names both)."""

    id: str
    title: str
    title_en: str
    indicators: tuple[Indicator, ...]
    checksum: str

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.checksum}"


def _read(path: Path) -> tuple[EvaluationTable | None, list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path}:1: cannot read the indicator table: {exc}"]
    try:
        lines = YamlLines(path, text)
    except YamlSyntaxError as exc:
        return None, [str(exc)]
    try:
        doc = _Doc.model_validate(lines.doc)
    except ValidationError as exc:
        return None, problems(
            exc, lines, _Doc, {"indicators": (Indicator, 2)}, frozenset({"Indicator"})
        )
    out: list[str] = []
    seen: set[str] = set()
    for i, ind in enumerate(doc.indicators):
        at = ("indicators", i)
        if ind.measure not in MEASURES:
            close = difflib.get_close_matches(ind.measure, list(MEASURES), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            out.append(
                lines.say(
                    (*at, "measure"),
                    f"unknown measure {ind.measure!r}{hint} (one of {', '.join(MEASURES)})",
                )
            )
        if ind.measure in ("recognition_timeliness", "subsidy_timeliness") and ind.days is None:
            out.append(lines.say(at, f"the measure {ind.measure} needs days (its time limit)"))
        if ind.id in seen:
            out.append(lines.say((*at, "id"), f"{ind.id!r} is an indicator already"))
        seen.add(ind.id)
    if out:
        return None, out
    checksum = hashlib.sha256(text.encode()).hexdigest()[:12]
    return EvaluationTable(doc.id, doc.title, doc.title_en, doc.indicators, checksum), []


def lint_table(path: Path) -> list[str]:
    """Every problem of the file as ``path:line: where: message``."""
    return _read(path)[1]


def load_table(path: Path) -> EvaluationTable:
    """The table of ``path``; raises :class:`EvaluationError` listing every problem."""
    table, errors = _read(path)
    if table is None:
        raise EvaluationError("\n".join(errors))
    return table


@dataclass(frozen=True)
class Period:
    """A period of the evaluation: its name and first and last day."""

    name: str
    start: dt.date
    end: dt.date

    @property
    def end_at(self) -> dt.datetime:
        """The first instant after the period (Asia/Shanghai)."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(0), SHANGHAI)

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(0), SHANGHAI)


_PERIOD = re.compile(r"^(\d{4})(?:-(Q[1-4]|H[12]|\d{2}))?$")


def parse_period(text: str) -> Period:
    """``2026`` (a year), ``2026-H1``, ``2026-Q3`` or ``2026-03`` (a month); raises
    ValueError saying what is expected."""
    match = _PERIOD.match(text.strip())
    if not match:
        raise ValueError(
            f"period {text!r}: give a year (2026), a half (2026-H1), a quarter (2026-Q3) "
            "or a month (2026-03)"
        )
    year, part = int(match.group(1)), match.group(2)
    if not 2000 <= year <= 2100:
        raise ValueError(f"period {text!r}: the year is 2000-2100")
    if part is None:
        first, last = 1, 12
    elif part[0] == "Q":
        first = (int(part[1]) - 1) * 3 + 1
        last = first + 2
    elif part[0] == "H":
        first = 1 if part == "H1" else 7
        last = first + 5
    else:
        first = last = int(part)
        if not 1 <= first <= 12:
            raise ValueError(f"period {text!r}: the month is 01-12")
    end = dt.date(year, last, calendar.monthrange(year, last)[1])
    return Period(text.strip(), dt.date(year, first, 1), end)


def _ratio(num: int | Decimal, den: int | Decimal) -> Decimal | None:
    if not den:
        return None
    return (Decimal(num) / Decimal(den)).quantize(_PLACES, ROUND_HALF_UP)


def score(
    table: EvaluationTable,
    counts: Mapping[str, Mapping[str, tuple[Decimal, Decimal]]],
    levels: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Each region of ``counts`` (region -> indicator -> (numerator, denominator)) with its
    values, scores, total and rank among its level (``levels``: region -> city, county …),
    highest total first."""
    rows: list[dict[str, Any]] = []
    for region, by_indicator in counts.items():
        indicators: dict[str, Any] = {}
        got, possible = Decimal(0), Decimal(0)
        for ind in table.indicators:
            num, den = by_indicator.get(ind.id, (Decimal(0), Decimal(0)))
            value = _ratio(num, den)
            points = None
            if value is not None:
                if ind.direction == "higher":
                    reached = min(value / ind.target, Decimal(1))
                else:
                    reached = Decimal(1) if value == 0 else min(ind.target / value, Decimal(1))
                points = (ind.weight * reached).quantize(Decimal("0.01"), ROUND_HALF_UP)
                got += points
                possible += ind.weight
            indicators[ind.id] = {
                "numerator": str(num),
                "denominator": str(den),
                "value": None if value is None else str(value),
                "score": None if points is None else str(points),
            }
        total = (
            (got / possible * 100).quantize(Decimal("0.01"), ROUND_HALF_UP) if possible else None
        )
        rows.append(
            {
                "region": region,
                "level": levels.get(region, ""),
                "indicators": indicators,
                "total": None if total is None else str(total),
            }
        )
    for level in {r["level"] for r in rows}:
        ranked = sorted(
            (r for r in rows if r["level"] == level and r["total"] is not None),
            key=lambda r: -Decimal(r["total"]),
        )
        last, rank = None, 0
        for n, r in enumerate(ranked, start=1):
            if r["total"] != last:
                rank, last = n, r["total"]
            r["rank"] = rank
        for r in rows:
            if r["level"] == level and r["total"] is None:
                r["rank"] = None
    order = {"province": 0, "city": 1, "county": 2}
    rows.sort(key=lambda r: (order.get(r["level"], 3), r.get("rank") or 10**6, r["region"]))
    return rows


def differences(
    frozen: Iterable[Mapping[str, Any]], again: Iterable[Mapping[str, Any]]
) -> list[str]:
    """What differs between a frozen evaluation's regions and the same computed again (none:
    reproduced)."""
    before = {r["region"]: r for r in frozen}
    after = {r["region"]: r for r in again}
    out = []
    for region in sorted(set(before) | set(after)):
        a, b = before.get(region), after.get(region)
        if a is None or b is None:
            out.append(f"{region}: {'only now' if a is None else 'only frozen'}")
            continue
        for ind, was in a["indicators"].items():
            now = b["indicators"].get(ind)
            if now != was:
                out.append(f"{region} {ind}: frozen {was}, now {now}")
        if a.get("total") != b.get("total") or a.get("rank") != b.get("rank"):
            out.append(
                f"{region}: frozen total {a.get('total')} rank {a.get('rank')}, now "
                f"{b.get('total')} rank {b.get('rank')}"
            )
    return out


# -- the frozen evaluation as a command aggregate ----------------------------------------


def evaluation_id(table: EvaluationTable, period: Period) -> str:
    """The id of a period's evaluation under a table (``ev-shandong-assistance-2026-Q1``)."""
    return f"ev-{table.id}-{period.name}"


@dataclass(frozen=True, slots=True)
class Frozen:
    """The state of one evaluation: frozen or not, and when."""

    evaluation_id: str
    as_of: dt.datetime | None = None


class Freeze(BaseModel):
    """Freeze a period with the figures computed as of ``as_of`` (after the period's end)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str
    title: str
    period: str
    as_of: dt.datetime
    positions: Annotated[tuple[int, ...], Field(max_length=1024)] = ()
    scores: Annotated[tuple[dict[str, Any], ...], Field(min_length=1, max_length=1000)]


class EvaluationAggregate:
    """The command aggregate of a period's evaluation (kind ``evaluation``): frozen once."""

    kind = "evaluation"
    event_types = frozenset({"evaluation.frozen"})

    def __init__(self, province: str) -> None:
        self.province = province

    def initial(self, aggregate_id: str) -> Frozen:
        return Frozen(aggregate_id)

    def region_of(self, state: Frozen) -> str | None:
        """The province's (an evaluation ranks every region: only a caller of the whole
        province freezes one)."""
        return self.province

    def apply(self, state: Frozen, event: Envelope) -> Frozen:
        if event.event_type == "evaluation.frozen" and state.as_of is None:
            return Frozen(
                state.evaluation_id, dt.datetime.fromisoformat(event.payload_dict()["as_of"])
            )
        return state

    def decide(self, state: Frozen, command: Command, now: dt.datetime) -> list[Change]:
        """Freeze the period, once, after its end."""
        if command.verb != "freeze":
            raise CommandRejectedError(
                f"{command.command_type}: an evaluation takes freeze", code="invalid"
            )
        body = parse_payload(Freeze, command)
        if state.as_of is not None:
            raise CommandRejectedError(
                f"evaluation.freeze: {state.evaluation_id} was frozen as of "
                f"{state.as_of.isoformat()}; a frozen evaluation is not changed",
                code="conflict",
            )
        try:
            period = parse_period(body.period)
        except ValueError as exc:
            raise CommandRejectedError(
                f"evaluation.freeze payload.period: {exc}", code="invalid"
            ) from None
        if body.as_of < period.end_at or body.as_of > now + dt.timedelta(minutes=10):
            raise CommandRejectedError(
                f"evaluation.freeze payload.as_of: {body.as_of.isoformat()} is not after the "
                f"period's end ({period.end.isoformat()}) and by now; a period is frozen once it "
                "has ended",
                code="conflict",
            )
        payload = {
            "evaluation_id": state.evaluation_id,
            "table": body.table,
            "title": body.title,
            "period": period.name,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "as_of": body.as_of.isoformat(),
            "positions": list(body.positions),
            "scores": list(body.scores),
        }
        return [Change("evaluation.frozen", payload, region=self.province)]
