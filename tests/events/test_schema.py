"""JSON Schema export for source systems."""

from __future__ import annotations

import json
from typing import Any

from events.catalogue import CURRENT_VERSION, PAYLOADS
from events.schema import export_json_schema


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_schema_is_json_serialisable_draft_2020_12() -> None:
    schema = export_json_schema()
    text = json.dumps(schema, ensure_ascii=False)
    assert json.loads(text) == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_lists_every_event_type() -> None:
    schema = export_json_schema()
    defs = schema["$defs"]
    listed = {ref.removeprefix("#/$defs/") for ref in (o["$ref"] for o in schema["oneOf"])}
    assert listed == set(PAYLOADS)
    for event_type, model in PAYLOADS.items():
        entry = defs[event_type]
        props = entry["properties"]
        assert props["event_type"] == {"const": event_type}
        assert props["schema_version"] == {"const": CURRENT_VERSION[event_type]}
        assert props["payload"] == {"$ref": f"#/$defs/{model.__name__}"}
        assert entry["additionalProperties"] is False
        assert {"event_id", "occurred_at", "region", "source", "actor", "payload"} <= set(
            entry["required"]
        )
        assert "recorded_at" not in entry["required"]


def test_every_ref_resolves() -> None:
    schema = export_json_schema()
    for ref in _refs(schema):
        assert ref.startswith("#/$defs/"), ref
        assert ref.removeprefix("#/$defs/") in schema["$defs"], ref


def test_payload_schemas_forbid_extra_fields_and_carry_checks() -> None:
    defs = export_json_schema()["$defs"]
    layoff = defs["LayoffReported"]
    assert layoff["additionalProperties"] is False
    assert "laid_off" in layoff["required"]
    uscc = layoff["properties"]["enterprise_uscc"]["anyOf"][0]
    assert uscc["pattern"].startswith("^[0-9A-HJ-NPQRTUWXY")
    person = defs["PersonRegistered"]["properties"]
    assert person["person_id"]["anyOf"][0]["pattern"] == "^p_[0-9a-f]{32}$"
    assert defs["layoff.reported"]["properties"]["schema_version"] == {"const": 2}
