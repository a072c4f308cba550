"""EAMS events: the pure domain of the event log.

Envelope and parsing (``envelope``), the catalogue of event types and typed payloads
(``catalogue``), upcasting of old versions (``upcasting``), the region reference
(``regions``), identity-number checks and masks (``identity``), pseudonymisation
(``privacy``), the JSON Schema export (``schema``), the severity scale I–IV with its
colours and names (``severity``) and the province's clock, Asia/Shanghai (``clock``). No I/O
beyond reading the reference CSV files; no Kafka or ClickHouse imports.
"""

from __future__ import annotations

from events.catalogue import (
    CURRENT_VERSION,
    LABELS,
    PAYLOADS,
    PERSON_EVENT_TYPES,
    PII_FIELDS,
    TARGET_GROUP_LABELS,
    EventPayload,
    PersonPayload,
)
from events.clock import SHANGHAI
from events.envelope import (
    Envelope,
    is_statistical_zone,
    new_event_id,
    parse_event,
    region_flags,
)
from events.errors import EamsError, EventRejectedError, ReferenceDataError
from events.identity import (
    make_national_id,
    make_uscc,
    mask_name,
    mask_national_id,
    mask_phone,
    validate_national_id,
    validate_uscc,
)
from events.privacy import assert_no_clear_pii, pseudonym, pseudonymise
from events.regions import Region, RegionReference, load_reference
from events.schema import export_json_schema
from events.severity import LEVELS, Level, UnknownLevelError, at_least, parse_level, rank
from events.upcasting import upcast, upcaster
from events.vocabulary import (
    DisasterKind,
    EmploymentStatus,
    RiskLevel,
    ServiceKind,
    Severity,
    SubsidyKind,
    TargetGroup,
)

__all__ = [
    "CURRENT_VERSION",
    "LABELS",
    "LEVELS",
    "PAYLOADS",
    "PERSON_EVENT_TYPES",
    "PII_FIELDS",
    "SHANGHAI",
    "TARGET_GROUP_LABELS",
    "DisasterKind",
    "EamsError",
    "EmploymentStatus",
    "Envelope",
    "EventPayload",
    "EventRejectedError",
    "Level",
    "PersonPayload",
    "ReferenceDataError",
    "Region",
    "RegionReference",
    "RiskLevel",
    "ServiceKind",
    "Severity",
    "SubsidyKind",
    "TargetGroup",
    "UnknownLevelError",
    "assert_no_clear_pii",
    "at_least",
    "export_json_schema",
    "is_statistical_zone",
    "load_reference",
    "make_national_id",
    "make_uscc",
    "mask_name",
    "mask_national_id",
    "mask_phone",
    "new_event_id",
    "parse_event",
    "parse_level",
    "pseudonym",
    "pseudonymise",
    "rank",
    "region_flags",
    "upcast",
    "upcaster",
    "validate_national_id",
    "validate_uscc",
]
