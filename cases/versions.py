"""The checks every city-versioned configuration shares (recognition rules, the policy
catalogue): each version names a set that exists, overrides only parameters the set has, is
in force only on days the set is, and no two versions of a city overlap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from events.yaml_lines import Loc, YamlLines

__all__ = ["Dated", "check_versions"]


class Dated(Protocol):
    """A versioned, dated thing: a city's version, or the set it applies."""

    @property
    def effective_from(self) -> dt.date: ...

    @property
    def effective_to(self) -> dt.date | None: ...


def check_versions(
    code: str,
    versions: Sequence[Any],
    lines: YamlLines,
    sets: Mapping[str, Any],
    field: str,
) -> list[str]:
    """Every problem of ``code``'s ``versions``; ``field`` names the attribute that refers to
    a set of ``sets`` (``rule_set``, ``policy_set``), each set having ``ref``,
    ``parameters``, ``effective_from`` and ``effective_to``."""
    out: list[str] = []
    numbers: set[int] = set()
    ordered = sorted(enumerate(versions), key=lambda p: p[1].effective_from)
    for i, version in enumerate(versions):
        at: Loc = ("cities", code, "versions", i)
        if version.version in numbers:
            out.append(
                lines.say((*at, "version"), f"version {version.version} of {code} is given twice")
            )
        numbers.add(version.version)
        if version.effective_to is not None and version.effective_to < version.effective_from:
            out.append(lines.say((*at, "effective_to"), "effective_to is before effective_from"))
        ref = getattr(version, field)
        known = sets.get(ref)
        if known is None:
            close = ", ".join(sorted(sets)) or "none"
            what = field.replace("_", " ")
            out.append(lines.say((*at, field), f"no {what} {ref!r} (known: {close})"))
            continue
        for name in version.parameters:
            if name not in known.parameters:
                out.append(
                    lines.say(
                        (*at, "parameters", name),
                        f"{known.ref} has no parameter {name!r} to override",
                    )
                )
        if version.effective_from < known.effective_from or (
            known.effective_to is not None
            and (version.effective_to is None or version.effective_to > known.effective_to)
        ):
            out.append(
                lines.say(
                    (*at, "effective_from"),
                    f"{code}@{version.version} is in force on days {known.ref} is not",
                )
            )
    for (i, a), (_, b) in zip(ordered, ordered[1:], strict=False):
        if a.effective_to is None or a.effective_to >= b.effective_from:
            out.append(
                lines.say(
                    ("cities", code, "versions", i, "effective_to"),
                    f"version {a.version} overlaps version {b.version} (from {b.effective_from}); "
                    f"end it on {b.effective_from - dt.timedelta(days=1)}",
                )
            )
    return out
