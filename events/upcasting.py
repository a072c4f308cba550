"""Upcasting: old payload versions are rewritten to the current one on read.

An upcaster is a pure function ``payload dict (version n) -> payload dict (n + 1)``
registered with ``@upcaster(event_type, n)``. ``upcast`` applies the chain
``n → n+1 → … → CURRENT_VERSION[event_type]``. The event log keeps the original bytes;
only readers see the current shape, so a new version never requires rewriting history.

To change a payload: bump ``VERSION`` on its model, then register an upcaster from the
previous version here (a test checks that every step of every chain exists).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from events.catalogue import CURRENT_VERSION
from events.errors import EventRejectedError

__all__ = ["Upcaster", "registered_upcasters", "upcast", "upcaster"]

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn`` as the upcaster of ``event_type`` from ``from_version`` to the next."""

    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS:
            raise ValueError(f"upcaster for {event_type} v{from_version} already registered")
        _UPCASTERS[key] = fn
        return fn

    return register


def registered_upcasters() -> Mapping[tuple[str, int], Upcaster]:
    """Return a read-only view of the registry, keyed by (event type, from version)."""
    return dict(_UPCASTERS)


def upcast(event_type: str, version: int, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Upcast ``payload`` of ``event_type`` at ``version`` to the current version.

    Returns ``(current_version, payload)``; the input dict is never mutated. Raises
    EventRejectedError on ``schema_version`` for a version below 1 or newer than this
    build supports, and on ``event_type`` for an unknown type.
    """
    current = CURRENT_VERSION.get(event_type)
    if current is None:
        raise EventRejectedError("event_type", f"unknown event type {event_type!r}")
    if isinstance(version, bool) or not isinstance(version, int):
        raise EventRejectedError("schema_version", f"must be an integer >= 1, got {version!r}")
    if version < 1:
        raise EventRejectedError("schema_version", f"must be >= 1, got {version}")
    if version > current:
        raise EventRejectedError(
            "schema_version",
            f"version {version} of {event_type} is newer than this build supports "
            f"(newest: {current}); upgrade EAMS or send version {current}",
        )
    out = dict(payload)
    while version < current:
        step = _UPCASTERS.get((event_type, version))
        if step is None:  # a programming error, but never let it pass silently
            raise EventRejectedError(
                "schema_version",
                f"no upcaster from version {version} of {event_type}; send version {current}",
            )
        out = step(out)
        version += 1
    return version, out


def _rename(payload: dict[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """Rename keys. If both the old and the new key are present the old one is left in
    place, so validation rejects it as an unknown field instead of dropping data."""
    out = dict(payload)
    for old, new in renames.items():
        if old in out and new not in out:
            out[new] = out.pop(old)
    return out


@upcaster("layoff.reported", 1)
def _layoff_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Rename v1 count/company/credit_code to laid_off/enterprise_name/enterprise_uscc."""
    return _rename(
        payload,
        {"count": "laid_off", "company": "enterprise_name", "credit_code": "enterprise_uscc"},
    )
