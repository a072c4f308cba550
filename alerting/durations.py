"""Durations as written in rule files: ``"30s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"2w"``, ``"3mo"``.

A month (``mo``) is 30 days, so durations stay exact and comparable; plain numbers
(``30`` or ``"30"``) are seconds. One unit per value keeps rule files easy to read.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

__all__ = ["UNIT_SECONDS", "format_duration", "parse_duration"]

# The regex alternation lists "mo" before "m" so "3mo" is months, not minutes.
UNIT_SECONDS: dict[str, int] = {
    "s": 1,
    "m": 60,
    "h": 3_600,
    "d": 86_400,
    "w": 7 * 86_400,
    "mo": 30 * 86_400,
}

_ACCEPTED = (
    "a number of seconds or a number followed by one unit: s (seconds), m (minutes), "
    "h (hours), d (days), w (weeks), mo (months of 30 days), e.g. '30s', '5m', '2h', '3mo'"
)
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mo|s|m|h|d|w)?\s*$")


def parse_duration(text: str | int | float) -> timedelta:
    """Parse a rule-file duration into a ``timedelta``.

    Accepts ``"0s"``, ``"30s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"2w"``, ``"3mo"`` (30 days
    each) and plain non-negative numbers of seconds (``30``, ``1.5``, ``"30"``).
    Raises ValueError naming the value and listing the accepted units otherwise.
    """
    if isinstance(text, bool):  # bool is an int subclass; "pending: yes" is a mistake
        raise ValueError(f"invalid duration {text!r}: expected {_ACCEPTED}")
    if isinstance(text, int | float):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"invalid duration {text!r}: expected {_ACCEPTED}")
        return timedelta(seconds=text)
    if not isinstance(text, str):
        raise ValueError(f"invalid duration {text!r}: expected {_ACCEPTED}")
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r}: expected {_ACCEPTED}")
    number, unit = match.groups()
    return timedelta(seconds=float(number) * UNIT_SECONDS[unit or "s"])


def format_duration(value: timedelta) -> str:
    """Render a ``timedelta`` in the largest unit that divides it exactly (``"35d"``)."""
    seconds = value.total_seconds()
    for unit in ("mo", "w", "d", "h", "m"):
        size = UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
