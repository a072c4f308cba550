"""Payload bounds match the store: every field of every payload, against the real schema.

The catalogue's JSON Schema (what source systems are given) is walked field by field: every
integer has a maximum, every string a length, pattern or format, every list a length. The
fields projected into typed columns are checked against the column types of a real
embedded ClickHouse with every migration applied; and the largest accepted value of each
is inserted there, while one more is refused at parse with the field named.
"""

from __future__ import annotations

import datetime as dt
import typing
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic.fields import FieldInfo

from events.catalogue import CURRENT_VERSION, PAYLOADS
from events.clock import SHANGHAI
from events.envelope import Envelope, parse_event
from events.errors import EventRejectedError
from events.payload_base import UINT16_MAX, UINT32_MAX
from events.regions import load_reference
from projections.client import Store
from projections.migrations import migrate
from projections.rows import COLUMNS, DEFAULT_BOUNDS, PAYLOAD_COLUMNS, to_row, uint_max
from streams.pipeline import SYSTEM_PREFIXES

REF = load_reference("shandong")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A real embedded ClickHouse with every migration applied."""
    path: Path = tmp_path_factory.mktemp("bounds-chdb")
    s = Store(f"chdb://{path}")
    migrate(s)
    yield s
    s.close()


def column_types(store: Store, table: str = "events") -> dict[str, str]:
    rows = store.rows(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
        "AND table = {t:String}",
        {"t": table},
    )
    return {str(n): str(t) for n, t in rows}


def _walk(schema: dict[str, Any], defs: dict[str, Any], path: str) -> Iterator[tuple[str, str]]:
    """(path, problem) for every unbounded leaf of a JSON Schema."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].split("/")[-1]]
    if "anyOf" in schema:
        branches = schema["anyOf"]
        # Decimal is "number or numeric string": bounded by max_digits (checked below).
        numeric = any(b.get("type") == "number" for b in branches)
        for branch in branches:
            if not (numeric and branch.get("type") == "string"):
                yield from _walk(branch, defs, path)
        return
    if "enum" in schema or "const" in schema:
        return
    kind = schema.get("type")
    if kind == "string" and not {"maxLength", "pattern", "format"} & schema.keys():
        yield path, "string without maxLength"
    elif kind == "integer" and "maximum" not in schema:
        yield path, "integer without maximum"
    elif kind == "array":
        if "maxItems" not in schema:
            yield path, "array without maxItems"
        yield from _walk(schema.get("items", {}), defs, path + "[]")
    elif kind == "object":
        for name, sub in schema.get("properties", {}).items():
            yield from _walk(sub, defs, f"{path}.{name}")


def test_every_payload_field_is_bounded() -> None:
    problems = []
    for event_type, model in PAYLOADS.items():
        schema = model.model_json_schema()
        for path, problem in _walk(schema, schema.get("$defs", {}), "payload"):
            problems.append(f"{event_type} {path}: {problem}")
        for name, props in schema.get("properties", {}).items():
            # open maps only in what EAMS writes itself (sources may not send those)
            if "additionalProperties" in props and not event_type.startswith(SYSTEM_PREFIXES):
                problems.append(f"{event_type} payload.{name}: open object")
    assert problems == []


def _integer_maximum(schema: dict[str, Any]) -> int | None:
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "integer":
            return int(branch["maximum"])
    return None


def _max_digits(metadata: list[Any], annotation: Any) -> int | None:
    """The ``max_digits`` of a Decimal field, wherever it sits (Optional, Annotated)."""
    for item in metadata:
        if getattr(item, "max_digits", None) is not None:
            return int(item.max_digits)
        found = _max_digits(getattr(item, "metadata", []), None)
        if found is not None:
            return found
    for arg in typing.get_args(annotation):
        if isinstance(arg, FieldInfo) or hasattr(arg, "max_digits"):
            found = _max_digits([arg], None)
        else:
            found = _max_digits([], arg)
        if found is not None:
            return found
    return None


def test_projected_payload_fields_fit_their_columns(store: Store) -> None:
    types = column_types(store)
    checked = 0
    for event_type, model in PAYLOADS.items():
        props = model.model_json_schema().get("properties", {})
        for field, column in PAYLOAD_COLUMNS.items():
            if field not in props:
                continue
            checked += 1
            column_type = types[column]
            if column_type.startswith("UInt"):
                top = _integer_maximum(props[field])
                limit = uint_max(column_type)
                assert top is not None and limit is not None, (event_type, field)
                assert top <= limit, f"{event_type} payload.{field} ≤ {top:,} > {column_type}"
            elif column_type == "Float64":
                info = model.model_fields[field]
                max_digits = _max_digits(info.metadata, info.annotation)
                # 15 significant digits survive a Float64 exactly
                assert max_digits is not None and max_digits <= 15, (event_type, field)
            else:
                pytest.fail(f"{column} is {column_type}: add its bound to this test")
    assert checked >= 8  # laid_off, headcount_before and amount in every money event
    assert uint_max(types["schema_version"]) == UINT16_MAX
    assert Envelope.model_json_schema()["properties"]["schema_version"]["maximum"] == UINT16_MAX
    # the bounds the projector checks before it inserts are the migrations' column types
    assert {k: uint_max(types[k]) for k in DEFAULT_BOUNDS} == DEFAULT_BOUNDS


def _layoff(laid_off: int, headcount: int | None = None) -> dict[str, Any]:
    now = dt.datetime(2026, 6, 1, 8, tzinfo=SHANGHAI).isoformat()
    payload: dict[str, Any] = {"enterprise_name": "某某机械厂", "laid_off": laid_off}
    if headcount is not None:
        payload["headcount_before"] = headcount
    return {
        "event_id": str(uuid.uuid4()), "event_type": "layoff.reported",
        "schema_version": CURRENT_VERSION["layoff.reported"], "occurred_at": now,
        "recorded_at": now, "region": "371302", "source": "test", "actor": "tester",
        "payload": payload,
    }  # fmt: skip


def _insert(store: Store, envelope: Envelope, offset: int) -> None:
    row = to_row(orjson.loads(envelope.to_json()), 0, offset, REF)
    store.insert_columns("events", [[v] for v in row], COLUMNS)


def test_largest_accepted_values_are_stored_and_one_more_is_refused(store: Store) -> None:
    top = parse_event(orjson.dumps(_layoff(UINT32_MAX, UINT32_MAX)), reference=REF)
    _insert(store, top, 1)
    stored = store.rows(
        "SELECT laid_off, headcount_before FROM events WHERE event_id = {e:UUID}",
        {"e": str(top.event_id)},
    )
    assert stored == [(UINT32_MAX, UINT32_MAX)]
    for field, doc in (
        ("payload.laid_off", _layoff(UINT32_MAX + 1)),
        ("payload.headcount_before", _layoff(1, UINT32_MAX + 1)),
    ):
        with pytest.raises(EventRejectedError) as caught:
            parse_event(orjson.dumps(doc), reference=REF)
        assert caught.value.field == field
        assert "4294967295" in str(caught.value)


def test_the_issues_poison_layoff_is_refused_at_parse_naming_the_field() -> None:
    with pytest.raises(EventRejectedError) as caught:
        parse_event(orjson.dumps(_layoff(5_000_000_000)), reference=REF)
    assert caught.value.field == "payload.laid_off"


def test_converter_refuses_what_the_column_cannot_hold() -> None:
    # An event already in the log from before the bounds (or appended by another writer):
    # the converter names the field and the column instead of letting the insert fail.
    doc = _layoff(1)
    doc["payload"]["laid_off"] = 5_000_000_000
    with pytest.raises(EventRejectedError) as caught:
        to_row(doc, 0, 7, REF)
    assert caught.value.field == "payload.laid_off"
    assert "4,294,967,295" in str(caught.value)
    # … and a migration that widens the column widens the check with it
    row = to_row(doc, 0, 7, REF, {**DEFAULT_BOUNDS, "laid_off": 2**64 - 1})
    assert row[COLUMNS.index("laid_off")] == 5_000_000_000


def test_money_keeps_cents_at_its_largest() -> None:
    largest = Decimal("999999999999.99")
    assert float(largest) == 999999999999.99
