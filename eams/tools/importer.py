"""``eams import``: a file's records into ``eams.ingest.raw``, resumably.

Every record ends up somewhere, and is counted:

- NDJSON without a mapping: each line is an event as a source sends it; it goes to the raw
  topic as it is and the ingest stream validates it (a line larger than an input may be is
  dead-lettered here: the raw topic would refuse it).
- Any file with a mapping (:mod:`eams.imports`): a record the mapping turns into an event
  that passes the catalogue's checks is *accepted* and submitted; one it cannot is
  dead-lettered (``eams.events.dlq``, sealed, with the record's own text and a reason naming
  the line and the column); one a skip rule matches, or that repeats an earlier record of
  the file, is *skipped*.

Resuming: after every :data:`CHECKPOINT_EVERY` records, once the broker has acknowledged
everything sent so far, the position and the counts are written to a checkpoint file
(``<state_dir>/imports/``, one per file content and mapping). Ctrl-C writes one within the
next thousand records and stops there; a crash loses only what came after the last one.
Running the same command again starts after the checkpoint; records sent again after a
crash keep their event ids (the stream drops the resubmissions) and their dead-letter entry
ids (one entry each).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from eams.errors import ConfigError
from eams.imports.check import Outcome, outcomes
from eams.imports.convert import Converter
from eams.imports.mapping import MappingDoc, load_mapping
from eams.imports.readers import FormatSpec, Record, Table, open_table
from events.regions import load_reference
from streams.dlq import DeadLetterKey, dead_letter_part
from streams.kafka import KafkaAccess
from streams.pipeline import MAX_INPUT_BYTES, too_large
from streams.producer import RawProducer
from streams.topics import TopicNames

__all__ = [
    "CHECKPOINT_EVERY",
    "ImportReport",
    "RawLines",
    "format_spec",
    "import_file",
    "open_input",
]

#: Records between checkpoints (each waits for the broker's acknowledgements).
CHECKPOINT_EVERY = 20_000


@dataclass
class ImportReport:
    """What an import did (counts include a resumed run's earlier part)."""

    records: int = 0
    accepted: int = 0
    submitted: int = 0  # NDJSON lines sent for the stream to validate
    dead_lettered: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    resumed_from: int = 0
    interrupted: bool = False
    checkpoint: Path | None = None

    def state(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "accepted": self.accepted,
            "submitted": self.submitted,
            "dead_lettered": self.dead_lettered,
            "skipped": dict(self.skipped),
        }


def format_spec(doc: MappingDoc | None, **overrides: Any) -> FormatSpec:
    """The mapping's ``file`` settings with the command line's given ones on top."""
    base = doc.file if doc is not None else None
    values: dict[str, Any] = {
        "kind": base.format if base else "auto",
        "encoding": base.encoding if base else None,
        "delimiter": base.delimiter if base else None,
        "sheet": base.sheet if base else None,
        "header_row": base.header_row if base else 1,
        "header_rows": base.header_rows if base else 1,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return FormatSpec(**values)


class RawLines:
    """An NDJSON file without a mapping: its lines as bytes, never decoded here (the stream
    validates each one as it came, whatever its bytes)."""

    kind = "ndjson"
    encoding = None
    columns = ("(line)",)

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self, start_after: int = 0) -> Iterator[Record]:
        number = 0
        with self.path.open("rb") as fh:
            for line_no, line in enumerate(fh, 1):
                raw = line.rstrip(b"\r\n")
                if not raw.strip():
                    continue
                number += 1
                if number > start_after:
                    yield Record(number, line_no, (), raw)

    def count(self) -> int:
        with self.path.open("rb") as fh:
            return sum(1 for line in fh if line.strip())


_NDJSON = (".ndjson", ".jsonl", ".json")


def open_input(
    path: Path, mapping_path: Path | None, **overrides: Any
) -> tuple[Table | RawLines, MappingDoc | None]:
    """The file as a table, read as its mapping (and the command line) says."""
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    doc = load_mapping(mapping_path) if mapping_path is not None else None
    kind = overrides.get("kind")
    if doc is None and (
        kind == "ndjson" or (kind in (None, "auto") and path.suffix.lower() in _NDJSON)
    ):
        return RawLines(path), None
    table = open_table(path, format_spec(doc, **overrides))
    if doc is None and table.kind != "ndjson":
        raise ConfigError(
            f"{path}: a {table.kind.upper()} file needs --mapping FILE (columns -> event "
            f"fields); start one with `eams mapping suggest {path.name}`, or see "
            "deploy/mappings/"
        )
    return table, doc


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class _Checkpoint:
    """Where an import of one file content through one mapping has got to."""

    def __init__(self, state_dir: Path, path: Path, mapping_path: Path | None) -> None:
        key = _digest(path)[:16]
        if mapping_path is not None:
            key += "-" + hashlib.sha256(mapping_path.read_bytes()).hexdigest()[:8]
        self.path = state_dir / "imports" / f"{path.name}.{key}.json"

    def load(self) -> dict[str, Any] | None:
        try:
            state = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return state if isinstance(state, dict) and not state.get("complete") else None

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(state))
        os.replace(tmp, self.path)  # a crash leaves the old checkpoint or the new, whole


async def import_file(
    table: Table | RawLines,
    doc: MappingDoc | None,
    *,
    kafka: KafkaAccess,
    dlq_kafka: KafkaAccess,
    topic_names: TopicNames,
    hierarchy: str,
    signing_key: bytes,
    dlq_key: DeadLetterKey,
    state_dir: Path,
    mapping_path: Path | None = None,
    restart: bool = False,
    checkpoint_every: int = CHECKPOINT_EVERY,
    on_progress: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> ImportReport:
    """Import ``table`` (see the module docstring). Records are signed with ``signing_key``
        (``Settings.ingest_key()``) as the importer ``import:<file>``, which keeps each event's
        own source and actor (see :mod:`streams.principal`); dead letters are sealed with
        ``dlq_key``. ``stop`` set: checkpoint within a thousand records and return
    (``interrupted``)."""
    path = table.path
    report = ImportReport()
    checkpoint = _Checkpoint(state_dir, path, mapping_path)
    report.checkpoint = checkpoint.path
    saved = None if restart else checkpoint.load()
    if saved is not None:
        report.records = report.resumed_from = int(saved["records"])
        report.accepted = int(saved["accepted"])
        report.submitted = int(saved["submitted"])
        report.dead_lettered = int(saved["dead_lettered"])
        report.skipped.update(saved.get("skipped", {}))
    source = f"import:{path.name}"
    dlq = AIOKafkaProducer(**dlq_kafka.client_options(), enable_idempotence=True)
    pending: list[asyncio.Future[Any]] = []

    async def dead_letter(raw: bytes, line: int, reason: str, field: str) -> None:
        dead = dead_letter_part(
            dlq_key, raw, reason=reason, field=field, source=source,
            origin=f"{path}:{line}", line=str(line),
        )  # fmt: skip
        pending.append(
            await dlq.send(topic_names.dlq, value=dead.value, key=dead.key, headers=dead.headers)
        )
        report.dead_lettered += 1

    async def settle(producer: RawProducer, complete: bool = False) -> None:
        """Wait for the broker to have everything sent so far, then move the checkpoint."""
        await producer.flush()
        if pending:
            await asyncio.gather(*pending)
            pending.clear()
        checkpoint.save({**report.state(), "complete": complete, "file": str(path)})

    converter = (
        Converter(doc, table.columns, load_reference(doc.hierarchy or hierarchy), source=source)
        if doc is not None and isinstance(table, Table)
        else None
    )
    await dlq.start()
    try:
        async with RawProducer(
            kafka, topic_names.ingest_raw, source=source, signing_key=signing_key
        ) as producer:
            records: Iterator[tuple[Record, Outcome | None]]
            if converter is None:
                records = ((r, None) for r in table.records(report.resumed_from))
            else:
                assert isinstance(table, Table)  # a converter is only made for a table
                found = outcomes(table, converter, start_after=report.resumed_from)
                records = ((o.record, o) for o in found)
            since = 0
            for record, outcome in records:
                report.records += 1
                since += 1
                if outcome is None:  # NDJSON: the stream validates
                    raw = record.raw
                    if len(raw) > MAX_INPUT_BYTES:  # the raw topic would refuse it
                        refused = too_large(len(raw), f"line {record.line}: ")
                        await dead_letter(raw, record.line, refused.reason, refused.field)
                    else:
                        await producer.submit(raw, line=record.line)
                        report.submitted += 1
                elif outcome.event is not None:
                    await producer.submit(orjson.dumps(outcome.event), line=record.line)
                    report.accepted += 1
                elif outcome.error is not None:
                    error = outcome.error
                    await dead_letter(
                        record.raw, record.line, f"line {record.line}: {error}", error.column
                    )
                else:
                    report.skipped[str(outcome.skipped)] += 1
                if since >= checkpoint_every or report.records % 1000 == 0:
                    await asyncio.sleep(0)  # let the producer's tasks and the signals run
                    stopping = stop is not None and stop.is_set()
                    if since >= checkpoint_every or stopping:
                        since = 0
                        await settle(producer)
                    if on_progress:
                        on_progress(report.records)
                    if stopping:
                        report.interrupted = True
                        return report
            await settle(producer, complete=True)
            if on_progress:
                on_progress(report.records)
    finally:
        await dlq.stop()
    return report
