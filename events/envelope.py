"""The event envelope and ``parse_event``, the one way raw input becomes an event.

``parse_event`` runs, in order:

1. decode the body (JSON object, via orjson) — else reject ``(body)``;
2. look up ``event_type`` in the catalogue — else reject naming the closest types;
3. upcast the payload from ``schema_version`` to the current version;
4. validate the payload into its typed model, then the envelope fields;
5. check ``region`` and every region code in the payload against the reference.

Any failure is an ``EventRejectedError`` naming the dotted field and what was
expected; no pydantic or orjson exception escapes.
"""

from __future__ import annotations

import difflib
import uuid
from datetime import datetime
from typing import Annotated, Any

import orjson
import uuid_utils.compat
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from events.catalogue import PAYLOADS
from events.clock import SHANGHAI, today
from events.clock import now as clock_now
from events.errors import EventRejectedError
from events.payload_base import UINT16_MAX, EventPayload
from events.pii_scan import scrub
from events.regions import RegionReference
from events.upcasting import upcast

__all__ = [
    "SHANGHAI",
    "Envelope",
    "is_statistical_zone",
    "new_event_id",
    "parse_event",
    "region_flags",
    "rejection_from_validation_error",
    "today",
]

#: Longest event type name accepted before it is looked up (the catalogue's are < 40).
MAX_EVENT_TYPE = 64
_NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def new_event_id() -> uuid.UUID:
    """Return a new time-ordered event id (UUIDv7) as a stdlib ``uuid.UUID``."""
    return uuid_utils.compat.uuid7()


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dotted(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def rejection_from_validation_error(
    exc: ValidationError, *, prefix: str = "", model: type[BaseModel] | None = None
) -> EventRejectedError:
    """Translate the FIRST error of a pydantic ValidationError into an EventRejectedError.

    ``prefix`` is prepended to the error location (``payload``); ``model`` lets an
    unknown-field error list the allowed fields.
    """
    err = exc.errors(include_url=False)[0]
    loc = tuple(err["loc"])
    field = _dotted(prefix, loc) or "(body)"
    kind = err["type"]
    if kind == "extra_forbidden":
        reason = "unknown field"
        if model is not None and len(loc) == 1:
            reason += f"; allowed: {', '.join(model.model_fields)}"
    elif kind == "missing":
        reason = "required field is missing"
    else:
        reason = str(err["msg"])
        for noise in ("Value error, ", "Assertion failed, "):
            reason = reason.removeprefix(noise)
        value = err.get("input")
        if kind not in ("value_error", "assertion_error") and not isinstance(value, dict | list):
            reason += f" (got {_short(value)})"
    return EventRejectedError(field, reason)


def _unknown_type_reason(event_type: object) -> str:
    if event_type is None:
        return "required field is missing"
    if not isinstance(event_type, str):
        return f"must be a string such as 'layoff.reported', got {_short(event_type)}"
    if len(event_type) > MAX_EVENT_TYPE:  # never echo or fuzzy-match a huge string
        return (
            f"unknown event type {_short(event_type)} ({len(event_type)} characters; event "
            f"types are names of at most {MAX_EVENT_TYPE} such as 'layoff.reported')"
        )
    reason = f"unknown event type {event_type!r}"
    close = difflib.get_close_matches(event_type, list(PAYLOADS), n=3, cutoff=0.6)
    if close:
        return reason + f"; did you mean {', '.join(close)}?"
    return reason + f"; the {len(PAYLOADS)} known types are listed by `eams events schema`"


class Envelope(BaseModel):
    """One event: envelope fields plus the typed, current-version payload.

    Constructing an Envelope from a dict upcasts and types the payload; a typed payload
    instance may be given instead (then ``schema_version`` defaults to its version).
    Payload problems raise EventRejectedError directly; use ``parse_event`` for input
    from outside so every problem arrives as EventRejectedError.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID
    event_type: str
    # The default only serves typed construction: the before-validator sets the
    # payload model's version then, and requires the field for dict payloads.
    schema_version: Annotated[int, Field(ge=1, le=UINT16_MAX)] = 1
    occurred_at: datetime
    recorded_at: datetime = Field(default_factory=clock_now)
    region: _NonEmpty
    aggregate_id: _NonEmpty | None = None
    source: _NonEmpty
    actor: _NonEmpty
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None
    payload: SerializeAsAny[EventPayload]

    @model_validator(mode="before")
    @classmethod
    def _typed_payload(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        event_type = data.get("event_type")
        if not isinstance(event_type, str) or event_type not in PAYLOADS:
            raise EventRejectedError("event_type", _unknown_type_reason(event_type))
        model = PAYLOADS[event_type]
        payload = data.get("payload")
        if isinstance(payload, EventPayload):
            if type(payload) is not model:
                raise EventRejectedError(
                    "payload",
                    f"is a {type(payload).__name__}; {event_type} expects {model.__name__}",
                )
            version = data.get("schema_version", model.VERSION)
            if version != model.VERSION:
                raise EventRejectedError(
                    "schema_version",
                    f"a typed {model.__name__} payload is version {model.VERSION}, "
                    f"got {_short(version)}",
                )
            return {**data, "schema_version": model.VERSION}
        if "schema_version" not in data:
            raise EventRejectedError(
                "schema_version",
                f"required field is missing (current version of {event_type} is {model.VERSION})",
            )
        version = data["schema_version"]
        if isinstance(version, str) and version.strip().isdigit():
            version = int(version)
        if payload is None:
            raise EventRejectedError("payload", "required field is missing (a JSON object)")
        if not isinstance(payload, dict):
            raise EventRejectedError("payload", f"must be a JSON object, got {_short(payload)}")
        version, current = upcast(event_type, version, payload)
        try:
            typed = model.model_validate(current)
        except ValidationError as e:
            raise rejection_from_validation_error(e, prefix="payload", model=model) from None
        return {**data, "schema_version": version, "payload": typed}

    @field_validator("occurred_at", "recorded_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                "datetime without time zone; give an offset, e.g. 2024-03-01T09:00:00+08:00"
            )
        try:
            return value.astimezone(SHANGHAI)
        except OverflowError:
            raise ValueError(
                "time is out of range once converted to Asia/Shanghai; expected a real date"
            ) from None

    @property
    def payload_type(self) -> type[EventPayload]:
        """The payload model class of this event."""
        return type(self.payload)

    def payload_dict(self) -> dict[str, Any]:
        """The payload as the log holds it: JSON-ready, without None values."""
        return self.payload.model_dump(mode="json", exclude_none=True)

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of this event (payload without None values)."""
        data = self.model_dump(mode="json", exclude={"payload"})
        data["payload"] = self.payload_dict()
        return data

    def to_json(self) -> bytes:
        """Serialise to JSON bytes: field order stable, datetimes ISO 8601 with offset."""
        return orjson.dumps(self.as_dict())

    def partition_key(self) -> bytes:
        """Kafka key: the aggregate id, or the event id when there is none."""
        return (self.aggregate_id or str(self.event_id)).encode("utf-8")


def _decode(raw: bytes | bytearray | memoryview | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(raw, dict):
        return dict(raw)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise EventRejectedError(
            "(body)", f"not valid JSON ({e}); expected one JSON object per event"
        ) from None
    if not isinstance(data, dict):
        raise EventRejectedError(
            "(body)", f"expected a JSON object, got {type(data).__name__} {_short(data, 40)}"
        )
    return data


def internal_event(
    event_type: str,
    *,
    region: str,
    aggregate_id: str,
    actor: str,
    source: str,
    payload: dict[str, Any],
    event_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
    recorded_at: datetime | None = None,
) -> Envelope:
    """An event EAMS decides itself (alert lifecycle, notifications, users' commands): the
    current schema version of its type, payload fields that are None left out, national
    IDs and mobile numbers in its strings masked (:mod:`events.pii_scan`), a new
    time-ordered id unless a derived one makes appending it twice harmless."""
    now = clock_now()
    return Envelope.model_validate(
        {
            "event_id": event_id or new_event_id(),
            "event_type": event_type,
            "schema_version": PAYLOADS[event_type].VERSION,
            "occurred_at": occurred_at or now,
            "recorded_at": recorded_at or now,
            "region": region,
            "aggregate_id": aggregate_id,
            "source": source,
            "actor": actor,
            # free text typed by users (notes, reasons) is scanned like ingested input
            "payload": scrub({k: v for k, v in payload.items() if v is not None})[0],
        }
    )


def parse_event(
    raw: bytes | str | dict[str, Any], *, reference: RegionReference, line: int | None = None
) -> Envelope:
    """Parse, upcast and validate one raw event; raise EventRejectedError on any problem.

    ``line`` (1-based, for file imports) is attached to the rejection.
    """
    try:
        data = _decode(raw)
        try:
            envelope = Envelope.model_validate(data)
        except ValidationError as e:
            raise rejection_from_validation_error(e, model=Envelope) from None
        except (TypeError, ValueError, OverflowError) as e:  # last resort: never escape raw
            raise EventRejectedError("(body)", f"could not be validated: {e}") from None
        reference.require(envelope.region, "region")
        # vars(): a field the payload lacks is not looked up through pydantic's __getattr__
        for i, code in enumerate(vars(envelope.payload).get("regions", ())):
            reference.require(code, f"payload.regions[{i}]")
    except EventRejectedError as e:
        raise e.with_line(line) from None
    return envelope


def is_statistical_zone(code: str, reference: RegionReference) -> bool:
    """True if ``code`` is a statistical development zone (accepted, but flagged)."""
    region = reference.get(code)
    return region is not None and region.is_statistical_zone


def region_flags(envelope: Envelope, reference: RegionReference) -> dict[str, bool]:
    """Derived flags of an event's region: ``{"region_is_statistical_zone": bool}``."""
    return {"region_is_statistical_zone": is_statistical_zone(envelope.region, reference)}
