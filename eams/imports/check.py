"""The record loop both ``eams import`` and ``eams import --check`` run, and the check's report.

:func:`outcomes` turns a table's records into :class:`Outcome` s in file order: an event
checked as the ingest stream will check it, a dead letter with its reason, or a skip (a
skip rule, or a record whose event id an earlier record of the file already has).
:class:`CheckReport` watches every field of every record and renders, per mapped field, how
many rows parsed and failed with the three commonest failures and example lines, the region
resolution by level, the date range, and the first events.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from eams.errors import RowError
from eams.imports.convert import Converted, Converter, Skipped
from eams.imports.readers import Record, Table

__all__ = ["REPEAT", "CheckReport", "Outcome", "outcomes", "render"]

#: What a record is skipped as whose event id an earlier record of the file already has.
REPEAT = "the same record as an earlier one (the same event id)"

#: Example lines kept per kind of failure.
EXAMPLES = 3


@dataclass(slots=True)
class Outcome:
    """What became of one record."""

    record: Record
    event: dict[str, Any] | None = None
    error: RowError | None = None
    skipped: str | None = None
    level: str | None = None
    fallback: bool = False


def outcomes(
    table: Table,
    converter: Converter,
    *,
    start_after: int = 0,
    observer: CheckReport | None = None,
) -> Iterator[Outcome]:
    """Every record of ``table`` after the first ``start_after``, converted and checked."""
    seen: set[str] = set()
    width = len(table.columns)
    for record in table.records(start_after):
        if len(record.values) > width and table.kind != "ndjson":
            error = RowError(
                "(record)",
                f"{len(record.values)} cells, the header has {width}: a delimiter inside an "
                "unquoted value, or a shifted row",
                kind="too many cells",
            )
            yield Outcome(record, error=error)
            continue
        try:
            result = converter.convert(record, observer)
        except RowError as exc:
            yield Outcome(record, error=exc)
            continue
        if isinstance(result, Skipped):
            yield Outcome(record, skipped=result.rule)
            continue
        assert isinstance(result, Converted)
        event = result.event
        if event["event_id"] in seen:
            yield Outcome(record, skipped=REPEAT, level=result.level)
            continue
        try:
            converter.validate(event)
        except RowError as exc:
            yield Outcome(record, error=exc, level=result.level)
            continue
        seen.add(event["event_id"])
        yield Outcome(record, event=event, level=result.level, fallback=result.fallback)


@dataclass
class _Stats:
    """Outcomes of one field: counts by status, failures by kind with examples."""

    counts: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def fail(self, kind: str, line: int, message: str) -> None:
        self.counts["failed"] += 1
        self.kinds[kind] += 1
        kept = self.examples.setdefault(kind, [])
        if len(kept) < EXAMPLES:
            kept.append((line, message))


class CheckReport:
    """Everything ``--check`` prints, gathered as records go by (an :class:`Observer`)."""

    def __init__(self, table: Table, mapping_name: str, sample: int = 3) -> None:
        self.file = table.path.name
        self.kind = table.kind
        self.encoding = table.encoding
        self.mapping = mapping_name
        self.sample = sample
        self.fields: dict[str, _Stats] = {}
        self.region_stats = _Stats()
        self.levels: Counter[str] = Counter()
        self.events = _Stats()  # what the catalogue refuses (checked after the fields)
        self.records = 0
        self.accepted = 0
        self.dead = 0
        self.skipped: Counter[str] = Counter()
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None
        self.first_events: list[dict[str, Any]] = []
        self._line = 0

    # Observer
    def field(self, name: str, status: str, record: Record, error: RowError | None) -> None:
        stats = self.fields.setdefault(name, _Stats())
        if error is not None:
            stats.fail(error.kind, record.line, str(error))
        else:
            stats.counts[status] += 1
        self._line = record.line

    def region(self, level: str | None, fallback: bool, error: RowError | None) -> None:
        if error is not None:
            self.region_stats.fail(error.kind, self._line, str(error))
            self.levels["unresolved"] += 1
        else:
            self.region_stats.counts["parsed"] += 1
            self.levels[f"{level} (fallback)" if fallback else str(level)] += 1

    def add(self, outcome: Outcome) -> None:
        """Count one outcome (after the observer saw its fields)."""
        self.records += 1
        if outcome.skipped is not None:
            self.skipped[outcome.skipped] += 1
        elif outcome.error is not None:
            self.dead += 1
            if outcome.error.kind == "invalid event" or outcome.error.column == "(record)":
                self.events.fail(outcome.error.kind, outcome.record.line, str(outcome.error))
        else:
            assert outcome.event is not None
            self.accepted += 1
            at = dt.datetime.fromisoformat(outcome.event["occurred_at"])
            self.first = at if self.first is None or at < self.first else self.first
            self.last = at if self.last is None or at > self.last else self.last
            if len(self.first_events) < self.sample:
                self.first_events.append(outcome.event)


def run_check(
    table: Table,
    converter: Converter,
    mapping_name: str,
    *,
    sample: int = 3,
    progress: Callable[[int], None] | None = None,
) -> CheckReport:
    """Convert every record of ``table`` without sending anything; the report of it."""
    report = CheckReport(table, mapping_name, sample)
    for outcome in outcomes(table, converter, observer=report):
        report.add(outcome)
        if progress is not None and report.records % 1000 == 0:
            progress(report.records)
    if progress is not None:
        progress(report.records)
    return report


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def render(report: CheckReport) -> str:
    """The report as text for a person (thousands separators, shares, example lines)."""
    n = report.records
    out = [
        f"{report.file} ({report.kind}"
        + (f", {report.encoding}" if report.encoding else "")
        + f", {n:,} records) through {report.mapping}: nothing was sent",
        "",
    ]
    # a dotted field (facts.minimum_living_allowance) may be longer than the usual column
    width = max([24, *(len(name) + 2 for name in report.fields)])
    out.append(
        f"{'field':<{width}}{'parsed':>10}{'blank':>9}{'failed':>9}{'nulled':>9}{'default':>9}"
    )

    def failures(stats: _Stats) -> None:
        for kind, count in stats.kinds.most_common(3):
            out.append(f"    {count:,} × {kind}")
            for line, message in stats.examples.get(kind, []):
                out.append(f"      line {line:,}: {message}")

    for name, stats in report.fields.items():
        c = stats.counts
        out.append(
            f"{name:<{width}}{c['parsed']:>10,}{c['blank']:>9,}{c['failed']:>9,}"
            f"{c['nulled']:>9,}{c['defaulted']:>9,}"
        )
        failures(stats)
    out.append("")
    resolved = sum(v for k, v in report.levels.items() if k != "unresolved")
    out.append(f"region: {resolved:,} of {resolved + report.levels['unresolved']:,} resolved")
    for level in ("county", "city", "province", "county (fallback)", "city (fallback)",
                  "province (fallback)", "unresolved"):  # fmt: skip
        if report.levels[level]:
            total = resolved + report.levels["unresolved"]
            out.append(
                f"  {level:<22}{report.levels[level]:>9,}  {_pct(report.levels[level], total)}"
            )
    failures(report.region_stats)
    if report.events.counts["failed"]:
        out.append("")
        out.append(f"refused as events (the catalogue's rules): {report.events.counts['failed']:,}")
        failures(report.events)
    out.append("")
    if report.first and report.last:
        out.append(f"dates: {report.first.date()} … {report.last.date()}")
    out.append(
        f"would accept {report.accepted:,} ({_pct(report.accepted, n)}), dead-letter "
        f"{report.dead:,} ({_pct(report.dead, n)}), skip {sum(report.skipped.values()):,}"
    )
    for rule, count in report.skipped.most_common():
        out.append(f"  skipped {count:,}: {rule}")
    if report.first_events:
        out.append("")
        out.append(f"first {len(report.first_events)} events:")
        for event in report.first_events:
            out.append(orjson.dumps(event, option=orjson.OPT_INDENT_2).decode())
    return "\n".join(out)
