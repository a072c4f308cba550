"""``eams import`` on the real broker and a real worker: NDJSON, and real US WARN notices."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures import Worker
from helpers import encode, expected, scenario_events

from eams.settings import PROJECT_ROOT
from streams.dlq import read_dead_letters

pytestmark = pytest.mark.integration

WARN = Path(__file__).resolve().parents[3] / "tests" / "data" / "warn_tx_wi_ia_tn.csv"
MAPPING = PROJECT_ROOT / "deploy" / "mappings" / "warn_us.yaml"
KEY = ("state", "company", "notice_date", "effective_date", "city", "county", "jobs")


def eams(worker: Worker, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI against the worker's broker and namespace."""
    env = dict(os.environ, **worker.env())
    return subprocess.run(
        [sys.executable, "-m", "eams.cli", *args], env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


def test_ndjson_import_counts_every_line(worker: Worker, tmp_path: Path) -> None:
    events = scenario_events(2_000, seed=4)
    lines = encode(events)
    lines.insert(100, b'{"broken": ')  # line 101 is not an event
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")

    done = eams(worker, "import", str(path))
    assert done.returncode == 0, done.stderr
    assert "2001 records: 2001 submitted" in done.stdout

    counts = worker.wait_settled()
    want = expected(events)
    assert counts["events"] == want["events"]
    assert counts["facts"]["people_laid_off"] == want["people_laid_off"]
    key = worker.settings.existing_dead_letter_key()  # the values are sealed
    [letter] = asyncio.run(
        read_dead_letters(worker.kafka("stream"), worker.settings.topics.dlq, key)
    )
    assert letter.raw == b'{"broken": ' and letter.line == "101"
    assert letter.reason.startswith("line 101: (body)")
    assert letter.source == f"import:{path.name}"


@pytest.fixture
def us_worker(worker_factory: Any) -> Worker:
    """A worker that knows both hierarchies."""
    return worker_factory(EAMS_REGION_HIERARCHY="shandong,us")  # type: ignore[no-any-return]


def test_real_warn_notices_import_on_the_us_hierarchy(us_worker: Worker) -> None:
    with WARN.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    unusable = [r for r in rows if not r["jobs"].strip() or not r["notice_date"].strip()]
    usable = {tuple(r[c] for c in KEY): r for r in rows if r not in unusable}  # dedupe by key

    done = eams(us_worker, "import", str(WARN), "--mapping", str(MAPPING))
    assert done.returncode == 0, done.stderr
    assert f"{len(unusable)} dead-lettered" in done.stdout

    counts = us_worker.wait_settled(timeout=180)
    assert counts["events"] == len(usable)
    assert counts["events_by_type"] == {"layoff.reported": len(usable)}
    assert counts["facts"]["people_laid_off"] == sum(int(r["jobs"]) for r in usable.values())

    letters = asyncio.run(
        read_dead_letters(
            us_worker.kafka("stream"),
            us_worker.settings.topics.dlq,
            us_worker.settings.existing_dead_letter_key(),
        )
    )
    assert len(letters) == len(unusable)
    assert {d.field for d in letters} == {"jobs", "notice_date"}
    for d in letters:
        assert d.reason.startswith(f"line {d.line}: column '{d.field}'")
        assert d.raw and b"," in d.raw  # the original CSV line, byte for byte

    states = {r["code"]: r for r in us_worker.api.get("/api/overview/cities?hierarchy=us").json()}
    texas = sum(int(r["jobs"]) for r in usable.values() if r["state"] == "TX")
    assert states["48"]["people_laid_off"] == texas
    assert states["06"]["people_laid_off"] == 0  # California: no notices in this file


def test_warn_sample_is_the_shared_reference_file() -> None:
    """The copy under tests/data is byte-identical to ../shared/data when that exists."""
    shared = PROJECT_ROOT.parent / "shared" / "data" / "warn" / "warn_tx_wi_ia_tn.csv"
    if not shared.exists():
        pytest.skip("../shared is not present in this checkout")
    assert WARN.read_bytes() == shared.read_bytes()
