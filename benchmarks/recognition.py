"""Re-evaluating recognition for every person after a rule change: the pure engine
(:func:`cases.recognition.judge`) over a registry's fact sets, against the same loop doing
only :func:`cases.facts.derive`, measured in the same run.

    .venv/bin/python benchmarks/recognition.py [--persons 1000000] [--workers 2]
                                               [--profile 20000]

What it does, in one run:

1. **facts**: ``--persons`` fact sets as the case aggregate folds them from
   ``person.facts_recorded`` (:func:`cases.facts.merge`: what was observed, dates as ISO
   text, unknown facts absent), with the shares a county office sees (gender, age 16-64,
   rural hukou, employment and registered unemployment, disability, 低保/特困/低收入,
   zero-employment households, lost land, graduates, disaster links), spread over the 16
   cities.
2. **rules**: the shipped ``deploy/recognition`` as loaded by the service, and a changed
   version of it written to a temporary folder and loaded (so linted) the same way: every
   city gets a version 2 from the day of the change (registered unemployment of six months
   instead of a year, women from 45, a three-year job-seeking period), version 1 ended the
   day before.
3. **baseline**: :func:`cases.facts.derive` for every person (what any judgement starts with).
4. **judge v1**: every person under their city's shipped version on the day (what the log
   holds before the change).
5. **re-evaluate**: every person under their city's new version, each group's outcome
   compared with v1's: recognitions gained, revoked, unchanged. Once in this process, and
   once with ``--workers`` forked processes (the fact sets are inherited, not pickled; each
   returns its counts, which must equal the single process's).
6. **profile**: cProfile of the re-evaluation over ``--profile`` persons, the top functions.

Prints each pass's seconds and persons/s, its ratio to the baseline, the time projected to
1,000,000 persons, and the outcome counts. Target (issue 12): <= 60 s for 1,000,000.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import multiprocessing
import pstats
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cases.facts import derive, merge  # noqa: E402
from cases.recognition import judge  # noqa: E402
from cases.rules import Resolved, RuleBook, load_recognition  # noqa: E402
from events.payloads_cases import FactValues  # noqa: E402
from events.regions import load_reference  # noqa: E402

RULES = ROOT / "deploy" / "recognition"
CHANGED_ON = dt.date(2026, 7, 1)
DAY = dt.date(2026, 7, 20)
CHANGES = {
    "long_term_unemployed_days": 180,
    "older_woman_age": 45,
    "graduate_job_seeking_days": 1095,
}

#: Set before the workers fork: they read it, the parent never pickles it.
_WORK: dict[str, Any] = {}


def fact_sets(n: int, cities: list[str], seed: int = 12) -> tuple[list[dict[str, Any]], list[str]]:
    """``n`` recorded fact sets (as folded by :func:`cases.facts.merge`) and their cities."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    where: list[str] = []
    for _ in range(n):
        r = rng.random
        age = rng.randrange(16, 65)
        born = DAY - dt.timedelta(days=age * 365 + rng.randrange(365))
        rural = r() < 0.4
        employed = r() < 0.3
        given: dict[str, Any] = {
            "gender": rng.choice(("male", "female")),
            "birth_date": born,
            "hukou": "rural" if rural else "urban",
            "employed": employed,
            "able_to_work": r() < 0.95,
        }
        if not employed and r() < 0.9:
            given["unemployed_since"] = DAY - dt.timedelta(days=rng.randrange(10, 900))
        if r() < 0.85:
            given["willing_to_work"] = r() < 0.85
        if rural:
            given["transferred"] = r() < 0.5
            given["land_lost"] = r() < 0.08
        if r() < 0.03:
            given["disability"] = True
            given["disability_grade"] = rng.randrange(1, 5)
        for fact, share in (("minimum_living_allowance", 0.05), ("extreme_poverty", 0.01),
                            ("low_income", 0.08), ("zero_employment_household", 0.03)):  # fmt: skip
            if r() < 0.6:  # known from the civil-affairs feed, or not recorded
                given[fact] = r() < share
        if age < 30 and r() < 0.3:
            given["graduated_on"] = DAY - dt.timedelta(days=rng.randrange(30, 1500))
        if r() < 0.02:
            given["disaster_id"] = f"dis-{rng.randrange(20)}"
        # observed in one or two records, as the log folds them (the later replaces)
        facts = merge({}, FactValues.model_validate(given))
        out.append(facts)
        where.append(rng.choice(cities))
    return out, where


def changed_rules(book: RuleBook, folder: Path) -> RuleBook:
    """The shipped rules with a version 2 for every city from CHANGED_ON (CHANGES to the
    parameters), written as YAML into ``folder`` and loaded (linted) like the shipped ones."""
    shutil.copy(RULES / "shandong-default.yaml", folder / "shandong-default.yaml")
    cities: dict[str, Any] = {}
    for code, city in sorted(book.cities.items()):
        versions = [v.model_dump(mode="json", exclude_none=True) for v in city.versions]
        last = versions[-1]
        last["effective_to"] = (CHANGED_ON - dt.timedelta(days=1)).isoformat()
        params = dict(last.get("parameters") or {}) | CHANGES
        versions.append({"version": int(last["version"]) + 1,
                         "effective_from": CHANGED_ON.isoformat(),
                         "rule_set": last["rule_set"], "parameters": params,
                         "source": "benchmark: EAMS default thresholds revised"})  # fmt: skip
        cities[code] = {"name": city.name, "versions": versions}
    text = yaml.safe_dump({"cities": cities}, allow_unicode=True, sort_keys=False)
    (folder / "cities.yaml").write_text(text, encoding="utf-8")
    return load_recognition(folder)


def _resolved(book: RuleBook, day: dt.date) -> dict[str, Resolved]:
    """Each city's rules in force on ``day`` (resolved once per city for the whole pass)."""
    out = {}
    for city in book.cities:
        found = book.resolve(city, day)
        assert found is not None, f"no rules for {city} on {day}"
        out[city] = found
    return out


def _holds(rules: Resolved, facts: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(j.group.value for j in judge(rules, facts, DAY) if j.holds)


def derive_pass(lo: int, hi: int) -> Counter[str]:
    """The baseline: only the derived facts of every person."""
    facts, where, rules = _WORK["facts"], _WORK["where"], _WORK["v1"]
    known = Counter[str]()
    for i in range(lo, hi):
        derived = derive(facts[i], DAY, rules[where[i]].parameters)
        known["age known"] += derived["age"] is not None
    return known


def judge_pass(lo: int, hi: int) -> Counter[str]:
    """Every person under the shipped rules: the groups held before the change."""
    facts, where, rules, before = _WORK["facts"], _WORK["where"], _WORK["v1"], _WORK["before"]
    counts = Counter[str]()
    for i in range(lo, hi):
        held = _holds(rules[where[i]], facts[i])
        before[i] = held
        counts.update(held)
    return counts


def reevaluate_pass(lo: int, hi: int) -> Counter[str]:
    """Every person under the new version, each group's outcome against the one before."""
    facts, where, rules, before = _WORK["facts"], _WORK["where"], _WORK["v2"], _WORK["before"]
    counts = Counter[str]()
    for i in range(lo, hi):
        now, then = _holds(rules[where[i]], facts[i]), before[i]
        for group in now - then:
            counts[f"{group}: recognised"] += 1
        for group in then - now:
            counts[f"{group}: revoked"] += 1
        counts["unchanged persons"] += now == then
    return counts


#: Persons per task of the workers (the single-process pass covers whole chunks).
CHUNK = 10_000


def _chunk(
    fn: Callable[[int, int], Counter[str]], lo: int, hi: int
) -> tuple[Counter[str], float, list[frozenset[str]]]:
    """``fn`` over persons ``lo``..``hi`` in a worker: its counts, the CPU seconds it took,
    and the groups each person holds before the change (what judge_pass wrote)."""
    started = time.process_time()
    counts = fn(lo, hi)
    return counts, time.process_time() - started, _WORK["before"][lo:hi]


def _parallel(
    fn: Callable[[int, int], Counter[str]], n: int, workers: int
) -> tuple[list[Counter[str]], float]:
    """``fn`` over every person in ``workers`` forked processes, CHUNK persons a task: the
    counts of each chunk and the CPU seconds of all workers together. What judge_pass
    records in a worker is copied back into this process's ``before``."""
    ranges = [(fn, lo, min(n, lo + CHUNK)) for lo in range(0, n, CHUNK)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.starmap(_chunk, ranges)
    if fn is judge_pass:
        for (_, lo, hi), (_, _, held) in zip(ranges, parts, strict=True):
            _WORK["before"][lo:hi] = held
    return [c for c, _, _ in parts], sum(t for _, t, _ in parts)


def timed(label: str, n: int, fn: Callable[[], Any], base: float | None) -> tuple[float, Any]:
    """Run ``fn`` once; print wall and CPU seconds, persons/s, wall seconds projected to
    1,000,000 persons and the ratio to ``base`` (wall). Returns (wall seconds, counts)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = fn()
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    if isinstance(result, tuple):
        result, cpu = result  # the workers' chunks and CPU seconds, not this process's
    ratio = f"{took / base:>8.1f}x" if base else ""
    print(f"{label:<46}{took:>8.1f}{cpu:>8.1f}{n / took:>12,.0f}"
          f"{took * 1_000_000 / n:>10.1f}{ratio}")  # fmt: skip
    return took, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", type=int, default=20_000)
    parser.add_argument(
        "--single", type=int, default=100_000, help="persons re-evaluated in one process too"
    )
    args = parser.parse_args()
    n = args.persons
    reference = load_reference("shandong")
    book = load_recognition(RULES, cities={c.code: c.name for c in reference.cities()})
    folder = Path(tempfile.mkdtemp(prefix="eams-rules-"))
    try:
        changed = changed_rules(book, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    facts, where = fact_sets(n, sorted(book.cities))
    print(f"{n:,} fact sets over {len(book.cities)} cities built in "
          f"{time.perf_counter() - started:.1f} s (not timed below)")  # fmt: skip
    _WORK.update(facts=facts, where=where, v1=_resolved(book, DAY), v2=_resolved(changed, DAY),
                 before=[frozenset()] * n)  # fmt: skip
    ref_v1 = next(iter(_WORK["v1"].values())).ref
    ref_v2 = next(iter(_WORK["v2"].values())).ref
    print(f"rules on {DAY}: shipped {ref_v1} …, changed {ref_v2} … ({CHANGES})")

    print(f"{'pass':<46}{'wall s':>8}{'cpu s':>8}{'persons/s':>12}{'s per 1M':>10}{'ratio':>9}")
    w = args.workers
    base, _ = timed("baseline: derive only, 1 process", n, lambda: derive_pass(0, n), None)
    _, chunks = timed(f"judge, shipped rules, {w} processes", n,
                      lambda: _parallel(judge_pass, n, w), base)  # fmt: skip
    groups = sum(chunks, Counter[str]())
    many, chunks = timed(f"re-evaluate after the change, {w} processes", n,
                         lambda: _parallel(reevaluate_pass, n, w), base)  # fmt: skip
    after = sum(chunks, Counter[str]())
    k = min(n, max(CHUNK, args.single // CHUNK * CHUNK))
    one, single = timed(f"re-evaluate, first {k:,}, 1 process", k, lambda: reevaluate_pass(0, k),
                        base * k / n)  # fmt: skip
    assert single == sum(chunks[: -(-k // CHUNK)], Counter[str]()), f"1 and {w} processes differ"
    before = ", ".join(f"{g} {c:,}" for g, c in sorted(groups.items()))
    print(f"recognised before the change: {before}")
    print("after the change: " + ", ".join(f"{g} {c:,}" for g, c in sorted(after.items())))
    best = min(one * n / k, many) * 1_000_000 / n
    verdict = "met" if best <= 60 else "NOT met"
    print(f"target <= 60 s for 1,000,000 persons: {verdict} ({best:.1f} s, "
          f"best of 1 and {w} processes, wall time on this machine)")  # fmt: skip

    if args.profile:
        m = min(n, args.profile)
        profile = cProfile.Profile()
        profile.runcall(reevaluate_pass, 0, m)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(14)
        print(f"\nprofile of the re-evaluation over {m:,} persons (by own time):")
        lines = out.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if "ncalls" in line)
        print("\n".join(lines[start : start + 15]))


if __name__ == "__main__":
    main()
