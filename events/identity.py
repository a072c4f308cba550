"""Identity numbers: PRC resident ID and unified social credit code, plus display masks.

- Resident identity number, GB 11643-1999: 6-digit region + 8-digit birth date +
  3-digit sequence + ISO 7064 MOD 11-2 check character (digit or X).
- Unified social credit code (统一社会信用代码), GB 32100-2015: 17 characters from a
  31-character alphabet + a MOD 31 check character.

Validators normalise (strip, upper-case) and raise EventRejectedError naming the field
and what was expected. The ``make_*`` helpers compute a valid check character for
simulators and tests.
"""

from __future__ import annotations

from datetime import date

from events.clock import today
from events.errors import EventRejectedError

__all__ = [
    "USCC_CHARSET",
    "make_national_id",
    "make_uscc",
    "mask_account",
    "mask_name",
    "mask_national_id",
    "mask_phone",
    "national_id_check_char",
    "normalise_account",
    "uscc_check_char",
    "validate_national_id",
    "validate_uscc",
]

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_MAP = "10X98765432"

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {ch: i for i, ch in enumerate(USCC_CHARSET)}


def national_id_check_char(body17: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character for 17 digits."""
    total = sum(int(ch) * w for ch, w in zip(body17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_MAP[total % 11]


def validate_national_id(value: str, field: str = "national_id") -> str:
    """Validate an 18-character PRC resident ID and return it normalised (upper-case X)."""
    if not isinstance(value, str):
        raise EventRejectedError(
            field, f"must be a string of 18 characters, got {type(value).__name__}"
        )
    text = value.strip().upper()
    if len(text) != 18:
        raise EventRejectedError(field, f"must be 18 characters, got {len(text)}")
    for pos, ch in enumerate(text[:17], start=1):
        if not ch.isascii() or not ch.isdigit():
            raise EventRejectedError(
                field, f"characters 1-17 must be digits, got {ch!r} at position {pos}"
            )
    if text[17] not in "0123456789X":
        raise EventRejectedError(field, f"last character must be a digit or X, got {text[17]!r}")
    birth = text[6:14]
    try:
        born = date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
    except ValueError:
        raise EventRejectedError(
            field, f"birth date {birth} (characters 7-14) is not a real date (YYYYMMDD)"
        ) from None
    if born.year < 1900:
        raise EventRejectedError(field, f"birth year {born.year} is before 1900")
    if born > today():
        raise EventRejectedError(field, f"birth date {birth} (characters 7-14) is in the future")
    expected = national_id_check_char(text[:17])
    if text[17] != expected:
        raise EventRejectedError(
            field, f"checksum character is {text[17]!r}, expected {expected!r}"
        )
    return text


def make_national_id(region6: str, birth: date, seq3: int) -> str:
    """Build a valid resident ID from a 6-digit region code, birth date and sequence 0-999."""
    if len(region6) != 6 or not region6.isdigit():
        raise ValueError(f"region6 must be 6 digits, got {region6!r}")
    if not 0 <= seq3 <= 999:
        raise ValueError(f"seq3 must be 0..999, got {seq3}")
    body = f"{region6}{birth:%Y%m%d}{seq3:03d}"
    return body + national_id_check_char(body)


def uscc_check_char(body17: str) -> str:
    """Return the GB 32100-2015 check character for 17 USCC characters."""
    total = sum(_USCC_VALUE[ch] * w for ch, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def validate_uscc(value: str, field: str = "uscc") -> str:
    """Validate an 18-character unified social credit code and return it upper-cased."""
    if not isinstance(value, str):
        raise EventRejectedError(
            field, f"must be a string of 18 characters, got {type(value).__name__}"
        )
    text = value.strip().upper()
    if len(text) != 18:
        raise EventRejectedError(field, f"must be 18 characters, got {len(text)}")
    for pos, ch in enumerate(text, start=1):
        if ch not in _USCC_VALUE:
            raise EventRejectedError(
                field,
                f"character {pos} is {ch!r}; allowed are digits and "
                "ABCDEFGHJKLMNPQRTUWXY (no I, O, S, V, Z)",
            )
    expected = uscc_check_char(text[:17])
    if text[17] != expected:
        raise EventRejectedError(
            field, f"checksum character is {text[17]!r}, expected {expected!r}"
        )
    return text


def make_uscc(body17: str) -> str:
    """Append the check character to 17 valid USCC characters (upper-cased)."""
    body = body17.strip().upper()
    if len(body) != 17 or any(ch not in _USCC_VALUE for ch in body):
        raise ValueError(f"body17 must be 17 characters from {USCC_CHARSET}, got {body17!r}")
    return body + uscc_check_char(body)


def mask_national_id(v: str) -> str:
    """Mask a resident ID keeping the first 6 and last 4: ``370102********123X``."""
    text = v.strip().upper()
    if len(text) <= 10:
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def mask_phone(v: str) -> str:
    """Mask a phone number keeping the first 3 and last 4 digits: ``138****5678``."""
    text = "".join(ch for ch in v if ch not in " -")
    if len(text) < 8:
        return "*" * max(len(text) - 2, 0) + text[-2:]
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


def normalise_account(v: str) -> str:
    """A bank account number as its digits (spaces and hyphens dropped; raises ValueError
    naming what was expected when it is not 10-30 digits)."""
    text = "".join(ch for ch in v if ch not in " -")
    if not text.isascii() or not text.isdigit() or not 10 <= len(text) <= 30:
        raise ValueError(
            "a bank account number is 10-30 digits (spaces and hyphens allowed), "
            f"got {len(text)} characters"
        )
    return text


def mask_account(v: str) -> str:
    """Mask a bank account number keeping its last 4 digits: ``****5678``."""
    return "****" + normalise_account(v)[-4:]


# Common two-character (compound) surnames, kept whole when masking.
_COMPOUND_SURNAMES_TEXT = (
    "欧阳司马上官诸葛东方皇甫尉迟公孙慕容长孙宇文司徒夏侯轩辕令狐端木"
    "南宫西门独孤呼延澹台公冶太史申屠钟离闻人赫连万俟濮阳单于司空"
)
_COMPOUND_SURNAMES = frozenset(
    _COMPOUND_SURNAMES_TEXT[i : i + 2] for i in range(0, len(_COMPOUND_SURNAMES_TEXT), 2)
)


def mask_name(v: str) -> str:
    """Mask a personal name: surname then ``*`` for the rest (``张*``, ``欧阳**``).

    The surname is the first character, or the first two for a compound surname such as
    欧阳. A name no longer than its surname is masked entirely, since keeping it would
    reveal it.
    """
    text = v.strip()
    keep = 2 if text[:2] in _COMPOUND_SURNAMES else 1
    if len(text) <= keep:
        return "*" * len(text)
    return text[:keep] + "*" * (len(text) - keep)
