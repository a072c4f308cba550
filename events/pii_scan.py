"""National ID numbers and mainland mobile numbers hidden in any text, found and masked.

The named personal fields (``national_id``, ``name``, ``phone``) are pseudonymised by
:mod:`events.privacy`; this module catches the same data where a source put it anywhere
else: a note (``"回访 110101199003071234，电话 13812345678"``), an enterprise name, an
identifier, a list of needs, the reason of a rejection.

Two strictness levels:

- **strict** (events stored in the log): an 18-character run counts as an ID only when it
  passes the GB 11643 checks (real birth date, checksum), so ordinary long numbers in free
  text are left alone; a mobile number is ``1[3-9]`` + 9 digits (optionally ``+86``,
  spaces or dashes inside).
- **loose** (dead-letter reasons and previews): every run of 17 digits + digit/X is
  masked, checksum or not: an ID with a typo is still somebody's ID.

A match must not touch an ASCII letter or digit on either side, so pseudonyms
(``p_`` + hex), UUIDs and credit codes never match part-way; Chinese text around a number
does not prevent a match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from events.errors import EventRejectedError
from events.identity import mask_national_id, mask_phone, validate_national_id

__all__ = ["Replacer", "mask_text", "scrub", "valid_national_id"]

_ID = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_MOBILE = re.compile(
    r"(?<![0-9A-Za-z])(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}(?![0-9A-Za-z])"
)

_ANY = re.compile(f"{_ID.pattern}|{_MOBILE.pattern}")

#: What replaces a found value: ``(kind, matched text) -> replacement``; kind is
#: ``"national_id"`` or ``"phone"``.
Replacer = Callable[[str, str], str]


def _mask(kind: str, found: str) -> str:
    return mask_national_id(found) if kind == "national_id" else mask_phone(found)


def valid_national_id(value: str) -> bool:
    """True when ``value`` is an 18-character resident ID that passes every GB 11643 check."""
    try:
        validate_national_id(value)
    except EventRejectedError:
        return False
    return True


def mask_text(text: str, *, strict: bool = True, replace: Replacer = _mask) -> tuple[str, int]:
    """``text`` with every ID-shaped value and mobile number replaced, and how many were.

    ``replace`` defaults to the display masks of the named fields (``370102********123X``,
    ``138****5678``).
    """
    if _ANY.search(text) is None:
        return text, 0  # most strings: one pass of the combined pattern and done
    count = 0

    def ids(m: re.Match[str]) -> str:
        nonlocal count
        if strict and not valid_national_id(m.group()):
            return m.group()
        count += 1
        return replace("national_id", m.group())

    def mobiles(m: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return replace("phone", m.group())

    text = _ID.sub(ids, text)
    text = _MOBILE.sub(mobiles, text)
    return text, count


def scrub(value: Any, *, strict: bool = True, replace: Replacer = _mask) -> tuple[Any, int]:
    """``value`` (a string, or lists/tuples/dicts of them, nested) with IDs and mobiles
    replaced in every string, and how many were. Anything else is returned as it is;
    dict keys are kept (they are names chosen by EAMS, not input)."""
    if isinstance(value, str):
        return mask_text(value, strict=strict, replace=replace)
    if isinstance(value, list | tuple):
        total = 0
        items = []
        for item in value:
            new, n = scrub(item, strict=strict, replace=replace)
            items.append(new)
            total += n
        return (type(value)(items) if total else value), total
    if isinstance(value, dict):
        total = 0
        out = {}
        for key, item in value.items():
            out[key], n = scrub(item, strict=strict, replace=replace)
            total += n
        return (out if total else value), total
    return value, 0
