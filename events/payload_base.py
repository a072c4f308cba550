"""Base classes and field types shared by every payload model of the catalogue.

Every payload is a frozen pydantic model that forbids unknown fields. Field types that
carry a check (resident ID, USCC, pseudonym, phone, YYYY-MM period) are declared here
once, so a rejection always reads the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

from events.errors import EventRejectedError
from events.identity import validate_national_id, validate_uscc
from events.pii_scan import mask_text

__all__ = [
    "UINT16_MAX",
    "UINT32_MAX",
    "Count",
    "EventPayload",
    "Ident",
    "IsoDate",
    "MAX_ITEMS",
    "Masked",
    "Money",
    "NationalId",
    "PersonId",
    "PersonPayload",
    "Phone",
    "Reference",
    "Positive",
    "Text",
    "Uscc",
    "YearMonth",
    "not_before",
]


def _as_value_error(check: Callable[[str], str]) -> Callable[[str], str]:
    """Wrap a validator raising EventRejectedError so pydantic reports it at the field."""

    def run(value: str) -> str:
        try:
            return check(value)
        except EventRejectedError as e:
            raise ValueError(e.reason) from None

    return run


def _phone(value: str) -> str:
    text = "".join(ch for ch in value.strip() if ch not in " -()")
    digits = text[1:] if text.startswith("+") else text
    if not digits.isascii() or not digits.isdigit() or not 5 <= len(digits) <= 15:
        raise ValueError("expected a phone number of 5-15 digits, e.g. 13812345678")
    return text


NationalId = Annotated[
    str,
    AfterValidator(_as_value_error(validate_national_id)),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9]{17}[0-9Xx]$",
            "description": "18-character resident ID (GB 11643-1999), checksum-validated",
        }
    ),
]
"""18-character PRC resident ID, checksum-validated, normalised to upper case."""

Uscc = Annotated[
    str,
    AfterValidator(_as_value_error(validate_uscc)),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{18}$",
            "description": "unified social credit code (GB 32100-2015), checksum-validated",
        }
    ),
]
"""Unified social credit code (GB 32100-2015), checksum-validated, upper case."""

#: The largest values the projections store for integer fields (ClickHouse ``UInt16`` and
#: ``UInt32`` columns). Payload integers are bounded here, once, so an event the log accepts
#: always fits its column: ``tests/projections/test_bounds_unit.py`` walks every payload field
#: against the column it is projected into.
UINT16_MAX = 2**16 - 1
UINT32_MAX = 2**32 - 1

Count = Annotated[int, Field(ge=0, le=UINT32_MAX)]
"""A count of people, posts or months: 0 up to the ``UInt32`` maximum (4,294,967,295)."""

Positive = Annotated[int, Field(ge=1, le=UINT32_MAX)]
"""A count of at least one, bounded like :data:`Count`."""

PersonId = Annotated[str, StringConstraints(pattern=r"^p_[0-9a-f]{32}$")]
"""Pseudonym of a person: ``p_`` + 32 hex characters (see ``events.privacy``)."""

Phone = Annotated[str, StringConstraints(max_length=32), AfterValidator(_phone)]
"""A phone number; spaces and dashes are dropped."""

Ident = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def _not_personal(value: str) -> str:
    if mask_text(value)[1]:
        raise ValueError(
            "holds what looks like a citizen ID or a mobile number; give the office's own "
            "number (a person's number never names a record: it would travel in every key)"
        )
    return value


#: An identifier a caller chooses (a form's or a post's number): an :data:`Ident` that is
#: not a person's citizen ID or mobile number.
Reference = Annotated[Ident, AfterValidator(_not_personal)]
"""An identifier assigned by a source or by EAMS (alert id, post id, course id …)."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
"""Free text of reasonable length."""

Masked = Annotated[str, StringConstraints(max_length=64)]
"""A masked display value (``110***********1234``, ``张*``), written by pseudonymisation."""

MAX_ITEMS = 64
"""The most items a list of codes or texts in a payload may hold (needs, services …)."""

YearMonth = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
"""A calendar month as ``YYYY-MM``."""

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
"""An amount in yuan (or the source's currency), non-negative, two decimals."""


def _iso_day(value: object) -> object:
    """Refuse what lax parsing would take for a day (a number: seconds since 1970)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("expected a day as YYYY-MM-DD, got a number")
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise ValueError(f"expected a day as YYYY-MM-DD, got {value[:20]!r}")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_day)]
"""A calendar day given as ``YYYY-MM-DD`` (a number or another spelling is refused)."""


def not_before(other: str) -> Callable[[date | None, ValidationInfo], date | None]:
    """Build a field validator: this date must not precede field ``other`` (if both set)."""

    def check(value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get(other)
        if value is not None and start is not None and value < start:
            raise ValueError(f"must not be before {other} ({start.isoformat()})")
        return value

    return check


class EventPayload(BaseModel):
    """Base of every payload model: frozen, unknown fields rejected.

    ``VERSION`` is the current schema version of the event type; ``AGGREGATE_FIELD``
    names the payload field that identifies the aggregate when the source gives none.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    VERSION: ClassVar[int] = 1
    AGGREGATE_FIELD: ClassVar[str | None] = None

    def aggregate_key(self, region: str) -> str | None:
        """Return the aggregate id this payload implies, or None if it implies none."""
        if self.AGGREGATE_FIELD is None:
            return None
        value = getattr(self, self.AGGREGATE_FIELD, None)
        return None if value is None else str(value)


class PersonPayload(EventPayload):
    """Mixin for payloads about one person: identity plus masked display fields.

    At ingest a source sends ``national_id`` (and may send ``name``/``phone``);
    ``events.privacy.pseudonymise`` replaces them by ``person_id`` and the masked
    fields before anything leaves the ingest boundary. Either ``national_id`` or
    ``person_id`` must be present.
    """

    national_id: NationalId | None = None
    person_id: PersonId | None = None
    national_id_masked: Masked | None = None
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None
    ) = None
    name_masked: Masked | None = None
    phone: Phone | None = None
    phone_masked: Masked | None = None

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if self.national_id is None and self.person_id is None:
            raise ValueError(
                "a person event needs national_id (at ingest) or person_id (the pseudonym)"
            )
        return self

    def aggregate_key(self, region: str) -> str | None:
        """Person events are keyed by the person's pseudonym."""
        return self.person_id
