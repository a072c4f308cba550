"""Payloads of the audit part of the catalogue: who looked at personal data, and why.

EAMS records these itself (never a source system): the API appends them before it
answers, so a look that left no event did not happen.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from events.payload_base import MAX_ITEMS, Count, EventPayload, Ident, Text

__all__ = ["DlqRevealed"]


class DlqRevealed(EventPayload):
    """An administrator saw dead letters in clear (``eams dlq list --reveal``); the actor
    of the envelope is who."""

    entries: Annotated[tuple[Ident, ...], Field(max_length=MAX_ITEMS)] = ()
    """Ids of the entries shown (the first 64 when more were)."""
    count: Count
    """How many entries were shown."""
    reason: Text
    """Why the administrator needed the clear input (asked by the CLI)."""

    def aggregate_key(self, region: str) -> str | None:
        """Every reveal is one stream of the audit trail."""
        return "audit:dlq"
