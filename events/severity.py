"""The four-colour severity scale, defined once for the whole system.

The provincial notice grades an emergency, an alert, a playbook response and a region's
risk on one scale, least to most severe::

    IV blue  <  III yellow  <  II orange  <  I red

Each :class:`Level` carries everything the system says about a level: its rank (IV = 1 …
I = 4; 0 is "no level", the ``normal`` risk level), its colour as a word and as the hex the
console paints, and its Chinese and English names. Rules, playbooks, notifications, the
indicators and the console (through ``GET /api/vocabulary``, which serves :func:`document`)
read it from here, so a colour or a name changes in one place.

The wire values themselves are the ``Severity`` and ``RiskLevel`` enums of
``events.vocabulary``; this module gives them their meaning. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from events.errors import EamsError
from events.vocabulary import RiskLevel, Severity

__all__ = [
    "LEVELS",
    "LEVEL_HELP",
    "LEVEL_NAMES",
    "NORMAL",
    "Level",
    "UnknownLevelError",
    "at_least",
    "describe_levels",
    "document",
    "level",
    "most_severe",
    "parse_level",
    "rank",
]


class UnknownLevelError(EamsError, ValueError):
    """A value is not one of the levels I–IV; the message names what was read and lists the
    levels with their colours.

    A ``ValueError`` too, so code that checked levels with ``tuple.index`` still catches it.
    """

    def __init__(self, value: object, what: str = "level") -> None:
        self.value = value
        self.what = what
        super().__init__(f"unknown {what} {value!r}; use {LEVEL_HELP}")


@dataclass(frozen=True, slots=True)
class Level:
    """One level of the scale (or ``NORMAL``, the absence of one).

    ``name`` is the wire value (``"II"``); ``rank`` orders levels (higher is more severe);
    ``colour`` is the English colour word and ``hex`` the colour the console paints it,
    ``ink`` the text colour that reads on ``hex``; ``colour_zh`` is the Chinese colour word
    (``橙色``, as in ``橙色预警``); ``zh`` and ``en`` are the display names.
    """

    name: str
    rank: int
    colour: str
    hex: str
    ink: str
    colour_zh: str
    zh: str
    en: str


#: The levels, least to most severe (the order of the rank).
LEVELS: tuple[Level, ...] = (
    Level(
        name=Severity.IV,
        rank=1,
        colour="blue",
        hex="#1f77b4",
        ink="#ffffff",
        colour_zh="蓝色",
        zh="IV级（蓝色）",
        en="Level IV (blue)",
    ),
    Level(
        name=Severity.III,
        rank=2,
        colour="yellow",
        hex="#e5c100",
        ink="#1d2a3a",
        colour_zh="黄色",
        zh="III级（黄色）",
        en="Level III (yellow)",
    ),
    Level(
        name=Severity.II,
        rank=3,
        colour="orange",
        hex="#ff7f0e",
        ink="#ffffff",
        colour_zh="橙色",
        zh="II级（橙色）",
        en="Level II (orange)",
    ),
    Level(
        name=Severity.I,
        rank=4,
        colour="red",
        hex="#d62728",
        ink="#ffffff",
        colour_zh="红色",
        zh="I级（红色）",
        en="Level I (red)",
    ),
)

#: No level: a region at the ``normal`` risk level, a city with no alert on the map.
NORMAL = Level(
    name=RiskLevel.NORMAL,
    rank=0,
    colour="grey",
    hex="#cfd8e3",
    ink="#1d2a3a",
    colour_zh="灰色",
    zh="正常",
    en="Normal",
)

#: The level names, least to most severe: ``("IV", "III", "II", "I")``.
LEVEL_NAMES: tuple[str, ...] = tuple(str(lv.name) for lv in LEVELS)


def describe_levels(*, most_severe_first: bool = False) -> str:
    """The levels as error messages list them: ``IV (blue), III (yellow), II (orange) or
    I (red)``; most severe first, ``I (most severe, red), II (orange), III (yellow) or
    IV (blue)``."""
    order = LEVELS[::-1] if most_severe_first else LEVELS
    parts = [f"{lv.name} ({lv.colour})" for lv in order]
    if most_severe_first:
        parts[0] = f"{order[0].name} (most severe, {order[0].colour})"
    return ", ".join(parts[:-1]) + " or " + parts[-1]


#: How error messages list the levels: ``IV (blue), III (yellow), II (orange) or I (red)``.
LEVEL_HELP = describe_levels()

_BY_NAME: dict[str, Level] = {str(lv.name): lv for lv in (NORMAL, *LEVELS)}


def parse_level(value: object, what: str = "level") -> Severity:
    """Return ``value`` (``"II"``, ``Severity.II``) as a ``Severity``.

    Raises ``UnknownLevelError`` naming ``what`` and listing the levels for anything else
    (``"V"``, ``"ii"``, ``2``, ``"normal"``, None): the official names are upper-case.
    """
    if isinstance(value, str) and value in LEVEL_NAMES:
        return Severity(value)
    raise UnknownLevelError(value, what)


def level(name: object) -> Level:
    """Return the :class:`Level` named ``name`` (``"I"`` … ``"IV"``, or ``"normal"``)."""
    found = _BY_NAME.get(name) if isinstance(name, str) else None
    if found is None:
        raise UnknownLevelError(name)
    return found


def rank(name: str | None, *, default: int | None = None) -> int:
    """Return the rank of level ``name``: IV = 1 … I = 4; ``"normal"``, ``""`` and None are 0.

    A name that is no level raises ``UnknownLevelError``, unless ``default`` is given, which
    is then returned instead (for rows read back from the store, which were validated when
    written).
    """
    if not name:
        return NORMAL.rank
    found = _BY_NAME.get(name)
    if found is not None:
        return found.rank
    if default is not None:
        return default
    raise UnknownLevelError(name)


def at_least(name: str | None, floor: str) -> bool:
    """Return whether level ``name`` is ``floor`` or more severe (``at_least("I", "III")``)."""
    return rank(name) >= rank(floor)


def most_severe(names: Iterable[str | None]) -> str | None:
    """Return the most severe of ``names`` (levels, ``"normal"`` or None), None when none is
    a level I–IV."""
    best: str | None = None
    for name in names:
        if rank(name) > rank(best):
            best = name
    return best


def document() -> dict[str, Any]:
    """The scale as plain JSON data for clients (the console): the levels least to most
    severe, and ``normal``, each with every field of :class:`Level`."""
    return {
        "levels": [{**asdict(lv), "name": str(lv.name)} for lv in LEVELS],
        "normal": {**asdict(NORMAL), "name": str(NORMAL.name)},
    }
