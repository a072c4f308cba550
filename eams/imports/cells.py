"""A cell as the readers give it, as text, and as a message quotes it.

CSV cells are always text; python-calamine gives Excel's own types (numbers, booleans,
dates and datetimes, None for an empty cell). Every parser of :mod:`eams.imports.values`
takes a :data:`Cell`.
"""

from __future__ import annotations

import datetime as dt
from typing import TypeAlias

__all__ = ["FULLWIDTH", "Cell", "cell_text", "is_blank", "quote"]

#: What a reader gives for one cell.
Cell: TypeAlias = str | int | float | bool | dt.date | dt.datetime | None

#: Fullwidth ASCII forms (U+FF01..U+FF5E: digits, comma, colon, tilde …), the ideographic
#: space and the minus sign to ASCII: what NFKC does to them, at str.translate's speed.
FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0x2212: 0x2D}
_SHOWN = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


def quote(value: Cell) -> str:
    """The value as a message quotes it: text in quotes, shortened to 60 characters (line
    breaks shown as ``\\n``); a number, date or yes/no as :func:`cell_text` writes it."""
    if not isinstance(value, str):
        return cell_text(value)
    text = value.translate(_SHOWN)
    return f"'{text[:57]}...'" if len(text) > 60 else f"'{text}'"


def is_blank(value: Cell) -> bool:
    """None, the empty string or whitespace only."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value or value.isspace()
    return False


def cell_text(value: Cell) -> str:
    """A cell as text: ``123`` for 123 and 123.0, ``1.5``, ISO for dates, ``true``/``false``."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.date):  # datetime too
        return value.isoformat()
    return str(value)


def label_key(text: str) -> str:
    """A column label as loose matching compares it: fullwidth to halfwidth, lower case,
    without spaces."""
    return "".join(text.translate(FULLWIDTH).lower().split())
