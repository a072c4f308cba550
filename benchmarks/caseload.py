"""Case officers' reads over a provincial registry: caseload and visits due, p50/p95/p99 per
call, against a plain indexed lookup measured in the same run.

    .venv/bin/python benchmarks/caseload.py [--persons 1000000] [--households 300000]
                                            [--calls 200] [--dir PATH]

What it does, in one process on one embedded ClickHouse (chDB, ``chdb://<dir>``):

1. **fill**: a registry of ``--persons`` persons in ``--households`` households over the
   Shandong counties (16 cities, statistical zones left out), served by a few thousand
   officers (one per ~330 persons, at least three per county). Each person's history is
   events as the log holds them (registered, assigned to the county office's officer, a
   regular visit scheduled, and for some recognised, visited, handed over to a colleague,
   exited), and zero-employment households identified and some cleared; each event becomes
   its ``events`` row through :func:`projections.rows.to_row` (the projector's conversion)
   and is inserted in blocks of ~100,000 rows, so migration 0009's materialized views build
   the case ledger as they do behind the projector. One event in 100 is also parsed by the
   catalogue (:func:`events.envelope.parse_event`) and must give the same row.
2. **worklist**: :func:`projections.worklist.rebuild` once (what a worker does at start),
   timed, and a refresh of 1,000 persons (what the keeper does after a batch);
3. **baseline**: the same persons' current state, one row each, in a plain MergeTree ordered
   by officer (and another ordered by county), read with ``SELECT … WHERE officer = ?``.
4. **reads**: :func:`projections.case_queries.caseload` and ``visits_due`` for random
   officers and random counties (a county is the community a region selection names), each
   at least ``--calls`` times, interleaved with the baseline's call for the same key; the
   answers are checked against the generator's own truth for a sample of keys.

Prints the fill rate, then p50/p95/p99 per query in ms, rows per call, and the p95's ratio
to the baseline's. Target (issue 12): p95 <= 100 ms at 1,000,000 persons.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import random
import shutil
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from events.catalogue import PAYLOADS  # noqa: E402
from events.clock import SHANGHAI  # noqa: E402
from events.envelope import parse_event  # noqa: E402
from events.regions import RegionReference, load_reference  # noqa: E402
from projections import case_queries as q  # noqa: E402
from projections import worklist  # noqa: E402
from projections.case_queries import Selection  # noqa: E402
from projections.client import Store  # noqa: E402
from projections.migrations import migrate  # noqa: E402
from projections.rows import COLUMNS, to_row  # noqa: E402

DAY = dt.date(2026, 7, 20)
PARTITIONS = 12
BLOCK_ROWS = 100_000
#: Processes making rows while the main one inserts (each its own persons and partitions).
PRODUCERS = 2
PERSONS_PER_OFFICER = 330
#: The page a county's caseload is also read in (the console's list; ``limit`` of /api/cases).
PAGE = 500
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GROUPS = ("employment_difficulty", "rural_surplus_labour", "low_income_graduate",
          "temporary_assistance")  # fmt: skip
GROUP_WEIGHTS = (55, 30, 10, 5)
RULES = {
    "employment_difficulty": "ed.long_term_unemployed",
    "rural_surplus_labour": "rsl.willing_not_transferred",
    "low_income_graduate": "lig.low_income",
    "temporary_assistance": "ta.disaster",
}


@dataclass
class Truth:
    """What the generator made: each person's current officer, county, and whether their
    case is open with a visit due by DAY (what the ledger's reads must answer)."""

    officer: list[str] = field(default_factory=list)
    county: list[str] = field(default_factory=list)
    person: list[str] = field(default_factory=list)
    open: list[bool] = field(default_factory=list)
    due: list[dt.date] = field(default_factory=list)

    def select(self, index: dict[str, list[int]], key: str, due: bool) -> set[str]:
        """The persons of ``key`` (an officer or county) with an open case (due by DAY)."""
        return {
            self.person[i]
            for i in index.get(key, ())
            if self.open[i] and (not due or self.due[i] <= DAY)
        }


class Registry:
    """A deterministic registry: counties, officers, households and each person's events."""

    def __init__(self, persons: int, households: int, reference: RegionReference) -> None:
        self.rng = random.Random(12)
        self.persons, self.households = persons, households
        counties = [c for c in reference.counties() if not c.is_statistical_zone]
        weights = [self.rng.uniform(0.4, 1.6) for _ in counties]
        total = sum(weights)
        self.counties = [c.code for c in counties]
        self.city = {c.code: reference.city_of(c.code) or "" for c in counties}
        self.share = {c: w / total for c, w in zip(self.counties, weights, strict=True)}
        self.officers = {
            c: [f"of-{c}-{k:03d}" for k in range(max(3, round(persons * s / PERSONS_PER_OFFICER)))]
            for c, s in self.share.items()
        }
        self.offsets = [0] * PARTITIONS
        self.truth = Truth()
        self.part, self.parts = 0, 1
        #: one household in ten is a zero-employment household (by its id's hash)
        self.zero_households = [
            h
            for c in self.counties
            for i in range(max(1, round(households * self.share[c])))
            if zlib.crc32((h := f"hh-{c}-{i:06d}").encode()) % 10 == 0
        ]

    def _household(self, county: str, i: int) -> str:
        n = max(1, round(self.households * self.share[county]))
        return f"hh-{county}-{i % n:06d}"

    def _doc(
        self, kind: str, region: str, key: str, at: dt.datetime, payload: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "event_type": kind,
            "schema_version": PAYLOADS[kind].VERSION,
            "occurred_at": at.isoformat(),
            "recorded_at": (at + dt.timedelta(minutes=5)).isoformat(),
            "region": region,
            "aggregate_id": key,
            "source": "eams.cases",
            "actor": payload.get("officer", "registry-bench"),
            "payload": payload,
        }

    def events(self, part: int = 0, parts: int = 1) -> Iterator[tuple[dict[str, Any], int, int]]:
        """Every event (document, partition, offset) of share ``part`` of ``parts`` (its
        persons and households, on its own partitions): each person's history in the order
        it happened, then the zero-employment households."""
        self.rng = rng = random.Random(1000 + part)
        self.part, self.parts = part, parts
        n = len(range(part, self.persons, parts))
        counties = rng.choices(self.counties, [self.share[c] for c in self.counties], k=n)
        for i, county in enumerate(counties):
            yield from self._person(i, county)
        for household in self.zero_households[part::parts]:
            yield from self._zero_household(household)

    def _place(self, key: str) -> tuple[int, int]:
        partition = zlib.crc32(key.encode()) % (PARTITIONS // self.parts) * self.parts + self.part
        self.offsets[partition] += 1
        return partition, self.offsets[partition] - 1

    def _person(self, i: int, county: str) -> Iterator[tuple[dict[str, Any], int, int]]:
        rng = self.rng
        pid = f"p_{rng.getrandbits(128):032x}"
        officer = rng.choice(self.officers[county])
        household = self._household(county, rng.randrange(1 << 30))
        group = rng.choices(GROUPS, GROUP_WEIGHTS)[0]
        registered = DAY - dt.timedelta(days=rng.randrange(30, 720))
        at = dt.datetime.combine(registered, dt.time(9, rng.randrange(60)), tzinfo=SHANGHAI)
        hour = dt.timedelta(hours=1)
        base = {"person_id": pid}
        out: list[tuple[str, dt.datetime, dict[str, Any]]] = [
            ("person.registered", at, base | {
                "target_group": group, "employment_status": "unemployed",
                "household_id": household, "gender": rng.choice(("male", "female")),
                "birth_year": rng.randrange(1966, 2004), "registered_on": registered.isoformat(),
                "national_id_masked": f"{county}********{rng.randrange(10_000):04d}",
                "name_masked": rng.choice(SURNAMES) + "*"}),
            ("case.assigned", at + hour, base | {"office": county, "officer": officer}),
        ]  # fmt: skip
        if rng.random() < 0.7:
            since = (registered + dt.timedelta(1)).isoformat()
            out.append(("person.recognized", at + 24 * hour, base | {
                "target_group": group, "rule_set": f"{self.city[county]}@1",
                "rule_id": RULES[group], "recognised_on": since}))  # fmt: skip
        zero = zlib.crc32(household.encode()) % 10 == 0
        interval = 30 if zero or group == "temporary_assistance" else 90
        # the last visit (or the registration) and the next one an interval after it; some late
        last = max(registered, DAY - dt.timedelta(days=rng.randrange(interval + 20)))
        if last > registered and rng.random() < 0.85:
            visited = dt.datetime.combine(last, dt.time(10), tzinfo=SHANGHAI)
            out.append(("visit.recorded", visited, base | {
                "channel": rng.choice(("home_visit", "phone", "office")),
                "visited_on": last.isoformat(),
                "outcome": "not_reached" if rng.random() < 0.1 else "contacted"}))  # fmt: skip
        due = last + dt.timedelta(days=interval)
        scheduled = dt.datetime.combine(last, dt.time(11), tzinfo=SHANGHAI)
        out.append(("visit.scheduled", scheduled, base | {
            "due_on": due.isoformat(), "interval_days": interval,
            "basis": "zero_employment_household" if zero else group}))  # fmt: skip
        late = dt.datetime.combine(DAY - dt.timedelta(days=2), dt.time(15), tzinfo=SHANGHAI)
        if rng.random() < 0.03 and len(self.officers[county]) > 1:
            successor = rng.choice([o for o in self.officers[county] if o != officer])
            out.append(("case.handed_over", late, base | {
                "from_office": county, "from_officer": officer, "office": county,
                "officer": successor, "reason": "片区调整"}))  # fmt: skip
            officer = successor
        is_open = True
        if rng.random() < 0.05:
            exited = (DAY - dt.timedelta(1)).isoformat()
            out.append(("person.exited", late + hour, base | {"reason": "employed",
                                                              "exited_on": exited}))  # fmt: skip
            is_open = False
        t = self.truth
        t.person.append(pid)
        t.officer.append(officer)
        t.county.append(county)
        t.open.append(is_open)
        t.due.append(due)
        for kind, when, payload in out:
            yield (self._doc(kind, county, pid, when, payload), *self._place(pid))

    def _zero_household(self, household: str) -> Iterator[tuple[dict[str, Any], int, int]]:
        rng = self.rng
        county = household.split("-")[1]
        identified = DAY - dt.timedelta(days=rng.randrange(10, 200))
        at = dt.datetime.combine(identified, dt.time(9), tzinfo=SHANGHAI)
        deadline = identified + dt.timedelta(days=90)
        base = {"household_id": household}
        yield (self._doc("household.zero_employment_identified", county, household, at, base | {
            "members_of_working_age": rng.randrange(1, 4), "identified_on": identified.isoformat(),
            "deadline": deadline.isoformat()}), *self._place(household))  # fmt: skip
        if rng.random() < 0.35:
            cleared = identified + dt.timedelta(days=rng.randrange(5, 120))
            if cleared < DAY:
                when = dt.datetime.combine(cleared, dt.time(16), tzinfo=SHANGHAI)
                payload = base | {"cleared_on": cleared.isoformat(), "on_time": cleared <= deadline}
                kind = "household.zero_employment_cleared"
                yield (self._doc(kind, county, household, when, payload), *self._place(household))


def _check(doc: dict[str, Any], row: tuple[Any, ...], reference: RegionReference) -> None:
    """The row of ``doc`` is the row of the same event parsed by the catalogue."""
    parsed_row = to_row(parse_event(doc, reference=reference).as_dict(), row[-2], row[-1],
                        reference)  # fmt: skip
    assert parsed_row[:-3] == row[:-3], f"{doc['event_type']} differs once parsed"
    mine, parsed = orjson.loads(row[-3]), orjson.loads(parsed_row[-3])
    defaults = {k for k, f in PAYLOADS[doc["event_type"]].model_fields.items()
                if not f.is_required()}  # fmt: skip
    # the log holds the parsed form: the same values, plus the payload's defaults
    assert parsed.items() >= mine.items() and set(parsed) - set(mine) <= defaults


def _produce(registry: Registry, reference: RegionReference, out: Any, part: int) -> None:
    """In a forked process: the rows of share ``part`` of the events, in blocks of
    BLOCK_ROWS columns, onto ``out``; then its share of the truth (None ends)."""
    block: list[tuple[Any, ...]] = []
    for n, (doc, partition, offset) in enumerate(registry.events(part, PRODUCERS)):
        row = to_row(doc, partition, offset, reference)
        if n % 100 == 0:
            _check(doc, row, reference)
        block.append(row)
        if len(block) >= BLOCK_ROWS:
            out.put(list(zip(*block, strict=True)))
            block = []
    if block:
        out.put(list(zip(*block, strict=True)))
    out.put(registry.truth)
    out.put(None)


def fill(store: Store, registry: Registry, reference: RegionReference) -> int:
    """Insert every event of the registry into ``events`` in blocks of ~BLOCK_ROWS; return
    how many. A forked process makes the rows (the generator, :func:`to_row`, and one event
    in 100 parsed by the catalogue, which must give the same row) while this one inserts.

    A ``--dir`` that holds this registry already (as many events) is measured again as it
    is: the events are generated again for the truth, and not inserted."""
    held = int(store.scalar("SELECT count() FROM events") or 0)
    if held:
        generated = sum(1 for part in range(PRODUCERS) for _ in registry.events(part, PRODUCERS))
        if generated != held:
            raise SystemExit(f"the --dir holds {held:,} events, not this registry's {generated:,}")
        print(f"  reusing the {held:,} events the --dir holds (the fill rate below is not one)")
        return held
    context = multiprocessing.get_context("fork")
    queue: Any = context.Queue(maxsize=3)
    producers = [
        context.Process(target=_produce, args=(registry, reference, queue, k), daemon=True)
        for k in range(PRODUCERS)
    ]
    for producer in producers:
        producer.start()
    written, running = 0, PRODUCERS
    started = time.perf_counter()
    while running:
        try:
            item = queue.get(timeout=5)
        except Empty:
            if any(p.exitcode not in (None, 0) for p in producers):
                raise SystemExit("a producer died; see its traceback above") from None
            continue
        if item is None:
            running -= 1
            continue
        if isinstance(item, Truth):
            for name in ("officer", "county", "person", "open", "due"):
                getattr(registry.truth, name).extend(getattr(item, name))
            continue
        store.insert_columns("events", item, COLUMNS)
        written += len(item[0])
        rate = written / (time.perf_counter() - started)
        print(f"  {written:>12,} events  {rate:>9,.0f} events/s", end="\r", flush=True)
    for producer in producers:
        producer.join()
    print()
    return written


def settle(store: Store, limit_s: float = 900) -> None:
    """Until the engine runs no merge of the ledger's tables (as a live system would be
    between batches), or ``limit_s`` passed (then say so)."""
    started = time.perf_counter()
    while store.scalar("SELECT count() FROM system.merges WHERE database = currentDatabase()"):
        if time.perf_counter() - started > limit_s:
            print(f"  merges still running after {limit_s:.0f} s; measuring anyway")
            return
        time.sleep(1)


def baseline_tables(store: Store, truth: Truth) -> None:
    """The plain indexed lookups: one row per person with its current state, ordered by
    officer (and by county), filled from the generator's truth."""
    for name, order in (("bench_by_officer", "officer"), ("bench_by_county", "region")):
        store.command(f"DROP TABLE IF EXISTS {name}")
        store.command(
            f"CREATE TABLE {name} (officer String, region LowCardinality(String), "
            "person_id String, is_open UInt8, visit_due Date) "
            f"ENGINE = MergeTree ORDER BY ({order}, person_id)"
        )
        columns: list[list[Any]] = [truth.officer, truth.county, truth.person,
                                    [int(o) for o in truth.open], truth.due]  # fmt: skip
        for lo in range(0, len(truth.person), 500_000):
            names = ("officer", "region", "person_id", "is_open", "visit_due")
            store.insert_columns(name, [c[lo : lo + 500_000] for c in columns], names)
        store.command(f"OPTIMIZE TABLE {name} FINAL")


def _index(keys: list[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        out.setdefault(key, []).append(i)
    return out


@dataclass
class Series:
    """Latencies (ms) and rows of one query's calls."""

    label: str
    ms: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    def pct(self, p: float) -> float:
        """The ``p``-th percentile (nearest rank)."""
        ordered = sorted(self.ms)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def timed(series: Series, fn: Callable[[], list[Any]]) -> list[Any]:
    """Call ``fn`` once into ``series``."""
    started = time.perf_counter()
    result = fn()
    series.ms.append((time.perf_counter() - started) * 1000)
    series.rows.append(len(result))
    return result


def measure(store: Store, registry: Registry, calls: int) -> list[tuple[Series, Series]]:
    """Each query against its baseline, interleaved call by call in random order."""
    truth = registry.truth
    by_officer, by_county = _index(truth.officer), _index(truth.county)
    rng = random.Random(7)
    officers = [o for os in registry.officers.values() for o in os]
    base_sql = ("SELECT person_id, officer, region, visit_due FROM {table} WHERE {column} = "
                "{{k:String}} AND is_open = 1{due} ORDER BY person_id{limit}")  # fmt: skip

    def base(
        table: str, column: str, key: str, due: bool, limit: int | None
    ) -> Callable[[], list[Any]]:
        sql = base_sql.format(table=table, column=column,
                              due=" AND visit_due <= {d:Date}" if due else "",
                              limit=f" LIMIT {limit}" if limit else "")  # fmt: skip
        return lambda: store.dicts(sql, {"k": key, "d": DAY})

    county = (registry.counties, by_county, "bench_by_county", "region")
    plans: list[tuple[str, list[str], dict[str, list[int]], str, str, bool, int | None]] = [
        ("caseload, officer", officers, by_officer, "bench_by_officer", "officer", False, None),
        ("visits due, officer", officers, by_officer, "bench_by_officer", "officer", True, None),
        ("caseload, county", *county, False, None),
        (f"caseload, county, first {PAGE}", *county, False, PAGE),
        ("visits due, county", *county, True, None),
    ]
    out = []
    for label, keys, index, table, column, due, limit in plans:
        real, plain = Series(label), Series(f"baseline: {table} WHERE {column} = ?")
        page = q.Page(limit)
        for n in range(calls):
            key = rng.choice(keys)
            sel = (
                Selection(officer=key)
                if column == "officer"
                else Selection(regions=frozenset({key}))
            )

            def call(sel: Selection = sel, due: bool = due, page: q.Page = page) -> list[Any]:
                return q.visits_due(store, sel, DAY) if due else q.caseload(store, sel, page=page)

            pair = [(real, call), (plain, base(table, column, key, due, limit))]
            rng.shuffle(pair)
            results = {id(s): timed(s, fn) for s, fn in pair}
            if n < 20:  # the answers, against what the generator made
                want = truth.select(index, key, due)
                if limit:
                    want = set(sorted(want)[:limit])
                got = {r["person_id"] for r in results[id(real)]}
                assert got == want, f"{label} {key}: {len(got)} persons, expected {len(want)}"
                assert {r["person_id"] for r in results[id(plain)]} == want
        out.append((real, plain))
    return out


def report(pairs: list[tuple[Series, Series]]) -> None:
    """The table: rows per call, p50/p95/p99 and the p95 ratio to the baseline."""
    print(f"{'query':<44}{'rows/call':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'p95 ratio':>11}")
    worst = 0.0
    for real, plain in pairs:
        for s in (plain, real):
            ratio = f"{s.pct(95) / plain.pct(95):>10.1f}x" if s is real else ""
            rows = sum(s.rows) / len(s.rows)
            print(f"{s.label:<44}{rows:>10,.0f}{s.pct(50):>9.1f}{s.pct(95):>9.1f}"
                  f"{s.pct(99):>9.1f}{ratio}")  # fmt: skip
        worst = max(worst, real.pct(95))
        print()
    verdict = "met" if worst <= 100 else "NOT met"
    print(
        f"target p95 <= 100 ms: {verdict} "
        f"(worst p95 {worst:.1f} ms, {len(pairs[0][0].ms)} calls each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--households", type=int, default=300_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--dir", type=Path, help="chDB data path (default: a temporary one)")
    args = parser.parse_args()
    reference = load_reference("shandong")
    work = args.dir or Path(tempfile.mkdtemp(prefix="eams-caseload-"))
    store = Store(f"chdb://{work / 'clickhouse'}")
    try:
        migrate(store)
        registry = Registry(args.persons, args.households, reference)
        n_officers = sum(len(o) for o in registry.officers.values())
        cities = len(set(registry.city.values()))
        print(
            f"registry: {args.persons:,} persons, {args.households:,} households, "
            f"{len(registry.counties)} counties of {cities} cities, {n_officers:,} officers"
        )
        started = time.perf_counter()
        events = fill(store, registry, reference)
        took = time.perf_counter() - started
        print(
            f"fill: {events:,} events through to_row and the views in {took:,.0f} s "
            f"({events / took:,.0f} events/s; {len(registry.zero_households):,} "
            "zero-employment households)"
        )
        started = time.perf_counter()
        settle(store)
        parts = store.dicts(
            "SELECT table, count() AS parts, sum(rows) AS rows FROM system.parts WHERE active "
            "AND database = currentDatabase() AND table IN ('case_ledger', 'case_index', "
            "'case_groups') GROUP BY table ORDER BY table"
        )
        held = ", ".join(f"{p['table']} {int(p['parts'])} parts / {int(p['rows']):,} rows"
                         for p in parts)  # fmt: skip
        print(f"merges settled in {time.perf_counter() - started:,.0f} s: {held}")
        started = time.perf_counter()
        worklist.rebuild(store, time.time_ns())
        rebuilt = time.perf_counter() - started
        rows = int(store.scalar("SELECT count() FROM case_worklist") or 0)
        print(f"worklist rebuilt whole in {rebuilt:,.1f} s ({rows:,} rows: a case under each key)")
        settle(store)
        sample = [p for p in registry.truth.person[:: max(1, len(registry.truth.person) // 1000)]]
        started = time.perf_counter()
        worklist.refresh(store, sample, time.time_ns())
        took = time.perf_counter() - started
        print(f"worklist refresh of {len(sample):,} persons (what a batch touches): {took:,.2f} s")
        settle(store)
        baseline_tables(store, registry.truth)
        report(measure(store, registry, args.calls))
    finally:
        store.close()
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
