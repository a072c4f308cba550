"""Pseudonymisation at the ingest boundary.

National ID numbers, phone numbers and names never leave ingest in clear. The ingest
stage calls ``pseudonymise`` on every parsed event; it

1. derives ``person_id`` = keyed HMAC-SHA256 pseudonym of the national ID,
2. fills the masked display fields (``national_id_masked``, ``name_masked``,
   ``phone_masked``) and removes ``national_id``, ``name`` and ``phone``,
3. sets ``aggregate_id`` (person events: the pseudonym; others: the aggregate the
   payload implies, else the event id), replacing a clear national ID used as key;
4. scans every other string of the event (payload fields, nested lists and dicts, the
   actor and source) for national IDs and mainland mobile numbers (:mod:`events.pii_scan`)
   and masks them like the named fields; in identifier fields (``*_id``) and the
   aggregate id they become keyed instead (an identifier that is an ID: its pseudonym;
   one found inside an identifier: ``p`` + keyed hex of the same length), so two
   households keyed by two IDs stay two. :func:`pseudonymised_json` says how many it replaced.

The transformation is idempotent. Downstream consumers call ``assert_no_clear_pii``
as a guard before writing anything.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel

from events.catalogue import PII_FIELDS
from events.envelope import Envelope
from events.errors import EventRejectedError
from events.identity import (
    mask_name,
    mask_national_id,
    mask_phone,
    normalise_account,
    validate_national_id,
)
from events.payload_base import EventPayload, PersonPayload
from events.pii_scan import mask_text, scrub

__all__ = ["account_pseudonym", "assert_no_clear_pii", "pseudonym", "pseudonymise"]

_PII_LABELS = {"national_id": "national ID", "phone": "phone number", "name": "name"}


def pseudonym(national_id: str, secret: bytes) -> str:
    """Return ``p_`` + the first 32 hex characters of HMAC-SHA256(secret, national ID).

    The ID is normalised first (stripped, upper-case X), so ``…123x`` and ``…123X``
    map to the same person.
    """
    normalised = national_id.strip().upper().encode("ascii", "replace")
    return "p_" + hmac.new(secret, normalised, hashlib.sha256).hexdigest()[:32]


def account_pseudonym(account: str, secret: bytes) -> str:
    """Return ``a_`` + 32 hex characters of HMAC-SHA256(secret, ``account:`` + the digits):
    one account is one pseudonym, whoever states it, and never a person's pseudonym."""
    digits = normalise_account(account).encode("ascii")
    return "a_" + hmac.new(secret, b"account:" + digits, hashlib.sha256).hexdigest()[:32]


def _looks_like_national_id(value: str) -> bool:
    if len(value) != 18 or not value[:17].isdigit():
        return False  # cheap pre-check: most keys (pseudonyms, credit codes) stop here
    try:
        validate_national_id(value)
    except EventRejectedError:
        return False
    return True


def _skipped(name: str) -> bool:
    """Payload fields the scan leaves alone: the named ones (handled above), pseudonyms,
    masks, and credit codes (checksum-validated; a rare all-digit code could pass the ID
    checks, and it keys the enterprise)."""
    return name in PII_FIELDS or name == "person_id" or name.endswith(("_masked", "uscc"))


@functools.cache
def _scanned_fields(model: type[EventPayload]) -> tuple[tuple[str, bool], ...]:
    """(field, is an identifier) of the payload fields the scan looks at."""
    return tuple((n, n.endswith("_id")) for n in model.model_fields if not _skipped(n))


def _token(secret: bytes) -> Callable[[str, str], str]:
    """A replacement for values found in identifiers: ``p`` + keyed hex of the same length."""

    def replace(_kind: str, found: str) -> str:
        normalised = "".join(ch for ch in found.upper() if ch.isalnum())
        digest = hmac.new(secret, normalised.encode("ascii"), hashlib.sha256).hexdigest()
        return "p" + digest[: len(found) - 1]

    return replace


@dataclass(frozen=True)
class _Changes:
    payload: dict[str, Any]  # payload field -> new value (None: removed)
    envelope: dict[str, Any]  # actor / source -> masked value
    aggregate_id: str
    masked: int  # values the scan replaced


def _scan_value(
    value: Any, identifier: bool, token: Callable[[str, str], str], secret: bytes
) -> tuple[Any, int]:
    """``value`` with IDs and mobiles replaced, and how many were. Inside an object of the
    payload (a lead's ``facts``, a plan's measures) every field is treated as a payload
    field is: an identifier (``*_id``) keyed, any other string masked."""
    if isinstance(value, BaseModel):
        fields = value.model_dump(mode="json", exclude_none=True)
        total = 0
        for key, item in list(fields.items()):
            fields[key], n = _scan_value(item, key.endswith("_id"), token, secret)
            total += n
        return (type(value).model_validate(fields) if total else value), total
    if isinstance(value, list | tuple) and any(isinstance(v, BaseModel) for v in value):
        total = 0
        items = []
        for item in value:
            new, n = _scan_value(item, identifier, token, secret)
            items.append(new)
            total += n
        return (type(value)(items) if total else value), total
    if not isinstance(value, str | list | tuple | dict):
        return value, 0
    if not identifier:
        return scrub(value)
    if isinstance(value, str) and _looks_like_national_id(value):
        return pseudonym(value, secret), 1  # as an aggregate id would be keyed
    return scrub(value, replace=token)


def _scan(envelope: Envelope, secret: bytes) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Masks for IDs and mobile numbers found in any string outside the named fields."""
    payload = envelope.payload
    token = _token(secret)
    update: dict[str, Any] = {}
    masked = 0
    for name, identifier in _scanned_fields(type(payload)):
        value = getattr(payload, name)
        if value is None:
            continue
        new, n = _scan_value(value, identifier, token, secret)
        if n:
            update[name] = new
            masked += n
    outer: dict[str, Any] = {}
    for name in ("actor", "source"):
        text, n = mask_text(getattr(envelope, name))
        if n:
            outer[name] = text
            masked += n
    return update, outer, masked


def _changes(envelope: Envelope, secret: bytes) -> _Changes:
    """What pseudonymising ``envelope`` changes: payload fields, the actor and source, and
    the aggregate id."""
    payload = envelope.payload
    aggregate_id = envelope.aggregate_id
    update, outer, masked = _scan(envelope, secret)
    if isinstance(payload, PersonPayload):
        clear_id = payload.national_id
        person_id = payload.person_id
        if payload.national_id is not None:
            person_id = update["person_id"] = pseudonym(payload.national_id, secret)
            update["national_id_masked"] = mask_national_id(payload.national_id)
            update["national_id"] = None
        if payload.name is not None:
            update["name_masked"] = mask_name(payload.name)
            update["name"] = None
        if payload.phone is not None:
            update["phone_masked"] = mask_phone(payload.phone)
            update["phone"] = None
        if aggregate_id is None or aggregate_id == clear_id:
            aggregate_id = person_id  # person events are keyed by the pseudonym
    elif aggregate_id is None:
        aggregate_id = payload.aggregate_key(envelope.region)
    if aggregate_id is None:
        aggregate_id = str(envelope.event_id)
    elif _looks_like_national_id(aggregate_id):
        # A clear ID used as a key would leak through Kafka keys and projections.
        aggregate_id = pseudonym(aggregate_id, secret)
    else:  # an ID or mobile inside a key (e.g. an enterprise name that carries one)
        aggregate_id, n = mask_text(aggregate_id, replace=_token(secret))
        masked += n
    return _Changes(update, outer, aggregate_id, masked)


def pseudonymise(envelope: Envelope, secret: bytes) -> Envelope:
    """Return ``envelope`` with personal data replaced by a pseudonym and masked fields.

    Idempotent: ``pseudonymise(pseudonymise(e, s), s) == pseudonymise(e, s)``.
    """
    changes = _changes(envelope, secret)
    update = changes.payload
    if not update and not changes.envelope and changes.aggregate_id == envelope.aggregate_id:
        return envelope
    payload = envelope.payload.model_copy(update=update) if update else envelope.payload
    return envelope.model_copy(
        update={"payload": payload, "aggregate_id": changes.aggregate_id, **changes.envelope}
    )


def pseudonymised_json(envelope: Envelope, secret: bytes) -> tuple[bytes, bytes, int]:
    """``(partition key, JSON, values masked by the scan)`` of ``pseudonymise(envelope)``
    without building it.

    The ingest hot path: the same changes as :func:`pseudonymise`, applied to the JSON
    document instead of copying two models (same bytes as ``pseudonymise(e).to_json()``).
    The count is of IDs and mobile numbers found outside the named fields (ingest shows it
    as ``masked_values``).
    """
    changes = _changes(envelope, secret)
    doc = envelope.as_dict()
    doc.update(changes.envelope)
    doc["aggregate_id"] = changes.aggregate_id
    payload = doc["payload"]
    for name, value in changes.payload.items():
        if value is None:
            payload.pop(name, None)
        elif isinstance(value, BaseModel):
            payload[name] = value.model_dump(mode="json", exclude_none=True)
        elif isinstance(value, list | tuple):
            payload[name] = [
                v.model_dump(mode="json", exclude_none=True) if isinstance(v, BaseModel) else v
                for v in value
            ]
        else:
            payload[name] = value
    if changes.payload:
        # Keep the field order of the model, as to_json() would.
        order = type(envelope.payload).model_fields
        doc["payload"] = {k: payload[k] for k in order if k in payload}
    return changes.aggregate_id.encode("utf-8"), orjson.dumps(doc), changes.masked


def assert_no_clear_pii(envelope: Envelope) -> None:
    """Raise EventRejectedError if the event still carries a clear national ID, phone or name."""
    for field in PII_FIELDS:
        if getattr(envelope.payload, field, None) is not None:
            raise EventRejectedError(
                f"payload.{field}",
                f"clear-text {_PII_LABELS[field]} must not appear downstream of ingest",
            )
    if envelope.aggregate_id is not None and _looks_like_national_id(envelope.aggregate_id):
        raise EventRejectedError(
            "aggregate_id", "clear-text national ID must not appear downstream of ingest"
        )
