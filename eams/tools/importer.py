"""``eams import``: NDJSON events, or CSV rows turned into events by a column mapping.

Every input line ends up somewhere: a line that becomes an event goes to
``eams.ingest.raw`` (where the stream validates it like any other input); a CSV row the
mapping cannot turn into an event goes straight to ``eams.events.dlq`` with its original
bytes (sealed, see :mod:`streams.dlq`) and a reason naming the line and column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import yaml
from aiokafka import AIOKafkaProducer

from eams.errors import ConfigError, RowError
from events.regions import RegionReference, load_reference
from streams.dlq import DeadLetterKey, dead_letter_part
from streams.kafka import KafkaAccess
from streams.pipeline import MAX_INPUT_BYTES, too_large
from streams.producer import RawProducer
from streams.topics import TopicNames

NAMESPACE = uuid.UUID("6f1d1c1e-2f55-4b0e-9b59-3e0f6b1c7a01")


@dataclass(frozen=True)
class Column:
    """How one payload field is read from a CSV column."""

    column: str
    type: str = "str"
    optional: bool = False


@dataclass(frozen=True)
class Mapping:
    """A CSV column mapping, read from YAML (see deploy/mappings/warn_us.yaml)."""

    event_type: str
    schema_version: int
    source: str
    actor: str
    timezone: ZoneInfo
    event_id_from: tuple[str, ...]
    region: dict[str, str]
    occurred_at: Column
    payload: dict[str, Column] = field(default_factory=dict)


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; errors name the file and the key."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the mapping: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: a mapping is a YAML object with event_type, region, payload")

    def need(key: str) -> Any:
        if key not in doc:
            raise ConfigError(f"{path}: missing key {key!r} (see deploy/mappings/warn_us.yaml)")
        return doc[key]

    def column(key: str, spec: Any) -> Column:
        if not isinstance(spec, dict) or "column" not in spec:
            raise ConfigError(f"{path}: {key}: expected {{column: NAME, type: str|int}}")
        if spec.get("type", "str") not in ("str", "int", "float"):
            raise ConfigError(f"{path}: {key}.type: expected str, int or float")
        return Column(str(spec["column"]), str(spec.get("type", "str")), bool(spec.get("optional")))

    try:
        tz = ZoneInfo(str(doc.get("timezone", "Asia/Shanghai")))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"{path}: timezone: unknown zone {doc.get('timezone')!r} (e.g. Asia/Shanghai)"
        ) from exc
    try:
        version = int(doc.get("schema_version", 1))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: schema_version: expected an integer") from exc
    id_columns = doc.get("event_id_from") or ()
    if not isinstance(id_columns, list | tuple):
        raise ConfigError(f"{path}: event_id_from: expected a list of column names")
    payload = need("payload")
    if not isinstance(payload, dict):
        raise ConfigError(f"{path}: payload: expected field: {{column: …}} pairs")
    region = need("region")
    if not isinstance(region, dict):
        raise ConfigError(
            f"{path}: region: expected {{column: C}} or {{us_state: S, us_county: C}}"
        )
    return Mapping(
        event_type=str(need("event_type")),
        schema_version=version,
        source=str(doc.get("source", f"import:{path.stem}")),
        actor=str(doc.get("actor", "importer")),
        timezone=tz,
        event_id_from=tuple(str(c) for c in id_columns),
        region={str(k): str(v) for k, v in region.items()},
        occurred_at=column("occurred_at", need("occurred_at")),
        payload={str(k): column(f"payload.{k}", v) for k, v in payload.items()},
    )


def _value(row: dict[str, str], col: Column) -> Any:
    raw = (row.get(col.column) or "").strip()
    if col.column not in row:
        raise RowError(col.column, "no such column in the CSV header")
    if raw == "":
        if col.optional:
            return None
        raise RowError(col.column, "empty, expected a value")
    try:
        return int(float(raw)) if col.type == "int" else float(raw) if col.type == "float" else raw
    except ValueError as exc:
        raise RowError(col.column, f"expected a number, got {raw!r}") from exc


def _region(row: dict[str, str], mapping: Mapping, reference: RegionReference) -> str:
    spec = mapping.region
    if "column" in spec:
        return (row.get(spec["column"]) or "").strip()
    state = (row.get(spec.get("us_state", "")) or "").strip()
    county = (row.get(spec.get("us_county", "")) or "").strip()
    if county:
        found = reference.find_county(state, county)
        if found is not None:
            return found.code
    state_region = reference.find_city(state)
    if state_region is None:
        raise RowError(spec.get("us_state", "state"), f"unknown US state {state!r}")
    return state_region.code


def convert_row(
    row: dict[str, str], mapping: Mapping, reference: RegionReference
) -> dict[str, Any]:
    """One CSV row -> one event dict, as a source would send it."""
    at = _value(row, mapping.occurred_at)
    try:
        when = dt.datetime.fromisoformat(str(at))
    except ValueError as exc:
        raise RowError(mapping.occurred_at.column, f"expected a date, got {at!r}") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=mapping.timezone)
    payload = {k: v for k, c in mapping.payload.items() if (v := _value(row, c)) is not None}
    key = "|".join(row.get(c, "") for c in mapping.event_id_from) or orjson.dumps(row).decode()
    return {
        "event_id": str(uuid.uuid5(NAMESPACE, f"{mapping.event_type}|{key}")),
        "event_type": mapping.event_type,
        "schema_version": mapping.schema_version,
        "occurred_at": when.isoformat(),
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(),
        "region": _region(row, mapping, reference),
        "source": mapping.source,
        "actor": mapping.actor,
        "payload": payload,
    }


@dataclass
class ImportReport:
    """What an import did."""

    lines: int = 0
    submitted: int = 0
    dead_lettered: int = 0


def _csv_rows(path: Path) -> Iterator[tuple[int, bytes, dict[str, str]]]:
    """(line number, original bytes, row) per CSV record; quoted newlines stay together."""
    with path.open("rb") as fh:
        header_line = fh.readline()
        header = next(csv.reader([header_line.decode("utf-8-sig")]))
        line_no = 1
        pending = b""
        start = 2
        for raw in fh:
            line_no += 1
            pending += raw
            text = pending.decode("utf-8", "replace")
            if text.count('"') % 2:
                continue  # a quoted field spans lines
            if text.strip():
                values = next(csv.reader(io.StringIO(text)))
                yield start, pending.rstrip(b"\r\n"), dict(zip(header, values, strict=False))
            pending = b""
            start = line_no + 1
        if pending.strip():
            # A quote never closed before the end of the file: still one record, so it is
            # converted or dead-lettered like any other, never dropped.
            values = next(csv.reader(io.StringIO(pending.decode("utf-8", "replace"))))
            yield start, pending.rstrip(b"\r\n"), dict(zip(header, values, strict=False))


async def import_file(
    path: Path,
    *,
    kafka: KafkaAccess,
    dlq_kafka: KafkaAccess,
    topic_names: TopicNames,
    hierarchy: str,
    signing_key: bytes,
    dlq_key: DeadLetterKey,
    mapping_path: Path | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import an NDJSON file (one event per line) or a CSV file with a mapping. Records are
    signed with ``signing_key`` (``Settings.ingest_key()``) as the importer ``import:<file>``,
    which keeps each event's own source and actor (see :mod:`streams.principal`). CSV rows
    the mapping cannot convert are dead-lettered, sealed with ``dlq_key``."""
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    report = ImportReport()
    source = f"import:{path.name}"
    is_csv = path.suffix.lower() == ".csv"
    if is_csv and mapping_path is None:
        raise ConfigError(
            f"{path}: a CSV file needs --mapping FILE (columns -> event fields), "
            "e.g. deploy/mappings/warn_us.yaml"
        )
    dlq = AIOKafkaProducer(**dlq_kafka.client_options(), enable_idempotence=True)

    async def dead_letter(raw: bytes, line_no: int, reason: str, field: str) -> None:
        """Seal a line the importer cannot submit into the DLQ (a line larger than an input
        may be is kept as its first ``STUB_BYTES``, its size and digest: the file has it)."""
        dead = dead_letter_part(
            dlq_key,
            raw,
            reason=reason,
            field=field,
            source=source,
            origin=f"{path}:{line_no}",
            line=str(line_no),
        )
        await dlq.send_and_wait(
            topic_names.dlq, value=dead.value, key=dead.key, headers=dead.headers
        )
        report.dead_lettered += 1

    async def submit(producer: RawProducer, raw: bytes, line_no: int) -> None:
        if len(raw) > MAX_INPUT_BYTES:  # the raw topic would refuse it: never stop for it
            refused = too_large(len(raw), f"line {line_no}: ")
            await dead_letter(raw, line_no, refused.reason, refused.field)
        else:
            await producer.submit(raw, line=line_no)
            report.submitted += 1

    await dlq.start()
    try:
        async with RawProducer(
            kafka, topic_names.ingest_raw, source=source, signing_key=signing_key
        ) as producer:
            if not is_csv:
                with path.open("rb") as fh:
                    for line_no, raw in enumerate(fh, 1):
                        report.lines += 1
                        raw = raw.rstrip(b"\r\n")
                        if raw.strip():
                            await submit(producer, raw, line_no)
                        if on_progress and line_no % 500 == 0:
                            on_progress(line_no)
            else:
                assert mapping_path is not None
                mapping = load_mapping(mapping_path)
                reference = load_reference(hierarchy)
                for line_no, raw, row in _csv_rows(path):
                    report.lines += 1
                    try:
                        event = convert_row(row, mapping, reference)
                    except RowError as exc:
                        await dead_letter(raw, line_no, f"line {line_no}: {exc}", exc.column)
                    else:
                        await submit(producer, orjson.dumps(event), line_no)
                    if on_progress and report.lines % 500 == 0:
                        on_progress(report.lines)
            if on_progress:
                on_progress(report.lines)
    finally:
        await dlq.stop()
    return report


def count_lines(path: Path) -> int:
    """Lines in a file (the progress bar's total)."""
    with path.open("rb") as fh:
        return sum(1 for _ in fh)
