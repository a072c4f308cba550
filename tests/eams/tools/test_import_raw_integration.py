"""Real files from real offices through the real worker: the five states' WARN notices as
published, with their mappings alone; an import killed midway and resumed."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fixtures import Worker

from eams.settings import PROJECT_ROOT
from streams.dlq import read_dead_letters

pytestmark = pytest.mark.integration

RAW = PROJECT_ROOT / "tests" / "data" / "warn_raw"
MAPPINGS = PROJECT_ROOT / "deploy" / "mappings"
STATES = {"il": "17", "fl": "12", "tx": "48", "oh": "39", "ny": "36"}
SUMMARY = re.compile(
    r"([\d,]+) records.*?: ([\d,]+) accepted and submitted to eams.ingest.raw, ([\d,]+) "
    r"dead-lettered \(see `eams dlq list`\), ([\d,]+) skipped"
)


def eams(worker: Worker, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eams.cli", *args], env=dict(os.environ, **worker.env()),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def numbers(stdout: str) -> tuple[int, int, int, int]:
    found = SUMMARY.search(stdout)
    assert found, stdout
    a, b, c, d = (int(g.replace(",", "")) for g in found.groups())
    return a, b, c, d


@pytest.fixture
def us_worker(worker_factory: Any) -> Worker:
    return worker_factory(EAMS_REGION_HIERARCHY="shandong,us")  # type: ignore[no-any-return]


def letters(worker: Worker) -> list[Any]:
    return asyncio.run(
        read_dead_letters(
            worker.kafka("stream"), worker.settings.topics.dlq,
            worker.settings.existing_dead_letter_key(),
        )
    )  # fmt: skip


@pytest.mark.timeout(600)
def test_the_five_states_import_with_their_mappings_alone(us_worker: Worker) -> None:
    total: dict[str, tuple[int, int, int, int]] = {}
    for state in STATES:
        done = eams(us_worker, "import", str(RAW / f"{state}.csv"),
                    "--mapping", str(MAPPINGS / f"warn_{state}.yaml"))  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        records, accepted, dead, skipped = total[state] = numbers(done.stdout)
        assert records == accepted + dead + skipped
        # >= 98 % of the distinct records are in (a record published twice is skipped)
        repeats = sum(
            int(n.replace(",", ""))
            for n in re.findall(r"skipped ([\d,]+): the same record", done.stdout)
        )
        assert accepted / (records - repeats) >= 0.98, (state, done.stdout)
    counts = us_worker.wait_settled(timeout=300)
    assert counts["events"] == sum(t[1] for t in total.values())
    assert counts["events_by_type"] == {"layoff.reported": counts["events"]}

    # every dead letter names its line and column, and carries the record's own text
    dead = letters(us_worker)
    assert len(dead) == sum(t[2] for t in total.values())
    by_source = {s: [d for d in dead if d.source == f"import:{s}.csv"] for s in STATES}
    for d in dead:
        assert re.match(rf"line {d.line}: column '{re.escape(d.field)}': ", d.reason), d.reason
    texas = {d.field for d in by_source["tx"]}
    assert texas == {"TOTAL_LAYOFF_NUMBER"}
    ohio = sorted(d.reason.split(": ", 2)[2] for d in by_source["oh"])
    assert sum("has no number in it" in r for r in ohio) == 10  # "Unknown"
    assert sum(r.startswith("empty") for r in ohio) == 6  # revisions without a count

    # the projections by state hold what the files say
    states = {r["code"]: r for r in us_worker.api.get("/api/overview/cities?hierarchy=us").json()}
    with (RAW / "ny.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    distinct = {
        (r["Business Legal Name"], r["Date of WARN Notice "], r["Impacted Site Address"],
         r["Number of Affected Workers "]): int(r["Number of Affected Workers "])
        for r in rows
    }  # fmt: skip
    assert states["36"]["people_laid_off"] == sum(distinct.values())
    assert states["02"]["people_laid_off"] == 0  # Alaska: no notice names it

    # importing a file again adds nothing
    again = eams(
        us_worker, "import", str(RAW / "ny.csv"), "--mapping", str(MAPPINGS / "warn_ny.yaml")
    )
    assert again.returncode == 0 and numbers(again.stdout)[1] == total["ny"][1]
    assert us_worker.wait_settled()["events"] == counts["events"]


HEADER = ["NOTICE_DATE", "JOB_SITE_NAME", "COUNTY_NAME", "WDA_NAME", "TOTAL_LAYOFF_NUMBER",
          "LayOff_Date", "WFDD_RECEIVED_DATE", "CITY_NAME"]  # fmt: skip


def _big_file(tmp_path: Path, rows: int) -> Path:
    """A TX-shaped file of ``rows`` distinct notices, every 50th with no head-count."""
    path = tmp_path / "tx_big.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(rows):
            jobs = "" if i % 50 == 0 else str(1 + i % 97)
            day = f"2020-{1 + i % 12:02d}-{1 + i % 28:02d} 00:00:00"
            out.writerow([day, f"Site {i}", "Harris", "Gulf Coast", jobs, day, "", "Houston"])
    return path


@pytest.mark.timeout(600)
def test_an_import_killed_midway_resumes_with_nothing_lost_or_doubled(
    us_worker: Worker, tmp_path: Path
) -> None:
    rows = 30_000
    path = _big_file(tmp_path, rows)
    args = [sys.executable, "-m", "eams.cli", "import", str(path), "--mapping",
            str(MAPPINGS / "warn_tx.yaml"), "--checkpoint-every", "2000"]  # fmt: skip
    proc = subprocess.Popen(args, env=dict(os.environ, **us_worker.env()),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    checkpoints = us_worker.state_dir / "imports"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(checkpoints.glob("tx_big.csv.*.json")):
        assert proc.poll() is None, "the import ended before its first checkpoint"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # no flush, no goodbye
    proc.wait(timeout=30)
    done = eams(us_worker, "import", str(path), "--mapping", str(MAPPINGS / "warn_tx.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    resumed = re.search(r"resumed after record ([\d,]+)", done.stdout)
    assert resumed and 0 < int(resumed.group(1).replace(",", "")) < rows, done.stdout
    records, accepted, dead, skipped = numbers(done.stdout)
    want_dead = len(range(0, rows, 50))
    assert (records, accepted, dead, skipped) == (rows, rows - want_dead, want_dead, 0)
    counts = us_worker.wait_settled(timeout=300)
    assert counts["events"] == rows - want_dead  # nothing lost, nothing twice
    assert counts["distinct_event_ids"] == counts["events"]
    assert len(letters(us_worker)) == want_dead  # one dead letter per bad record


def test_check_sends_nothing_and_reports_per_field(us_worker: Worker) -> None:
    done = eams(us_worker, "import", str(RAW / "oh.csv"), "--mapping",
                str(MAPPINGS / "warn_oh.yaml"), "--check", "--sample", "1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "802 records) through" in out and "nothing was sent" in out
    assert re.search(r"laid_off\s+786\s+0\s+16", out), out
    assert "10 × not a number" in out and "line 14: column 'Potential Number Affected'" in out
    assert "dates: 2017-01-09 … 2023-09-12" in out
    assert '"event_type": "layoff.reported"' in out
    # nothing reached the broker: every raw input consumed and projected is none at all
    assert us_worker.wait_settled()["events"] == 0
    assert letters(us_worker) == []


def test_the_raw_files_are_the_shared_reference_files() -> None:
    """The copies under tests/data are byte-identical to ../shared/data when that exists."""
    shared = PROJECT_ROOT.parent / "shared" / "data" / "warn" / "raw"
    if not shared.exists():
        pytest.skip("../shared is not present in this checkout")
    for state in STATES:
        assert (RAW / f"{state}.csv").read_bytes() == (shared / f"{state}.csv").read_bytes()
