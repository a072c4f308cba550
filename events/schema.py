"""JSON Schema (draft 2020-12) of the event envelope and every payload, for sources.

``eams events schema`` prints ``export_json_schema()``. The document describes the
current version of each event type: one ``$defs`` entry per event type (named after
the type) with ``event_type`` as a ``const`` and the payload as a ``$ref`` to the payload
model; the root is a ``oneOf`` over them. Older versions are still accepted on ingest
and upcast.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from events.catalogue import CURRENT_VERSION, LABELS, PAYLOADS, PERSON_EVENT_TYPES
from events.envelope import Envelope

__all__ = ["SCHEMA_ID", "export_json_schema"]

SCHEMA_ID = "https://eams.invalid/schemas/event.json"
_REF_TEMPLATE = "#/$defs/{model}"


def _envelope_common() -> tuple[dict[str, Any], list[str]]:
    """Envelope properties and required names, without the per-type ones."""
    schema = Envelope.model_json_schema(mode="validation", ref_template=_REF_TEMPLATE)
    props = {
        name: prop
        for name, prop in schema["properties"].items()
        if name not in ("event_type", "schema_version", "payload")
    }
    for name in ("occurred_at", "recorded_at"):
        props[name]["description"] = "ISO 8601 with a UTC offset; naive times are rejected"
    props["region"]["description"] = (
        "region code of the configured hierarchy (GB/T 2260 for Shandong)"
    )
    props["event_id"]["description"] = (
        "chosen by the source and resent unchanged on retry (dedupe key)"
    )
    required = [n for n in schema.get("required", []) if n in props]
    return props, required


def export_json_schema() -> dict[str, Any]:
    """Return the JSON Schema document for all event types (JSON-serialisable)."""
    models = sorted({model for model in PAYLOADS.values()}, key=lambda m: m.__name__)
    _, payload_doc = models_json_schema(
        [(model, "validation") for model in models], ref_template=_REF_TEMPLATE
    )
    defs: dict[str, Any] = dict(payload_doc.get("$defs", {}))
    common, required = _envelope_common()
    one_of: list[dict[str, str]] = []
    for event_type, model in sorted(PAYLOADS.items()):
        label = LABELS.get(event_type, {})
        summary = (model.__doc__ or event_type).strip().splitlines()[0]
        defs[event_type] = {
            "title": label.get("en", event_type),
            "description": f"{label.get('zh', '')} — {summary}",
            "type": "object",
            "additionalProperties": False,
            "properties": {
                **common,
                "event_type": {"const": event_type},
                "schema_version": {"const": CURRENT_VERSION[event_type]},
                "payload": {"$ref": _REF_TEMPLATE.format(model=model.__name__)},
            },
            "required": sorted({*required, "event_type", "schema_version", "payload"}),
            "x-person-event": event_type in PERSON_EVENT_TYPES,
        }
        one_of.append({"$ref": f"#/$defs/{event_type}"})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "EAMS event",
        "description": "Envelope of one EAMS event; the payload is typed by event_type.",
        "oneOf": one_of,
        "$defs": defs,
    }
