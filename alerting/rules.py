"""Alerting rules: YAML files of per-region thresholds, linted with line numbers.

A rule file is a mapping with one key, ``rules:``, a list of rules::

    rules:
      - id: layoffs.city.people_7d
        title: 城市裁员人数 / People laid off
        indicator: people_laid_off_7d
        kind: absolute                  # absolute | ratio_to_baseline | rise_over_low | data_gap
        scope: {level: city}            # or {level: county, within: "370100"} or {regions: [...]}
        levels:                         # IV blue < III yellow < II orange < I red
          IV: {enter: 500, exit: 400}   # enter at value >= enter, leave below exit
          III: {enter: 1000, exit: 800}
        pending: 1h                     # a level must hold this long before it fires
        keep_firing: 1d                 # keep firing this long after the value clears

``lint_rules`` reports every problem at the line of the offending key or value;
``load_rules`` returns a ``RuleSet`` or raises the first problem. A path may be a
directory: its ``*.yaml`` files are read in name order, and ids must be unique across them.
The shipped defaults live in ``alerting/rules/default.yaml`` (``DEFAULT_RULES``).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from alerting.errors import RuleError
from alerting.rule_model import (
    BASELINE_PERIODS,
    KINDS,
    SCOPE_LEVELS,
    Baseline,
    Rule,
    RuleSet,
    Scope,
    Threshold,
)
from alerting.rule_reader import RuleReader

__all__ = [
    "BASELINE_PERIODS",
    "DEFAULT_RULES",
    "KINDS",
    "SCOPE_LEVELS",
    "Baseline",
    "Rule",
    "RuleSet",
    "Scope",
    "Threshold",
    "lint_rules",
    "lint_rules_text",
    "load_rules",
    "load_rules_text",
]

DEFAULT_RULES = Path(__file__).resolve().parent / "rules" / "default.yaml"


def _sources(path: Path | str) -> tuple[list[tuple[str, str]], list[RuleError]]:
    """Return ``(name, text)`` of the rule file or of every ``*.yaml`` in a directory."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.yaml"))
        if not files:
            return [], [RuleError(str(path), 1, "no *.yaml rule files in this directory")]
    else:
        files = [path]
    sources: list[tuple[str, str]] = []
    problems: list[RuleError] = []
    for file in files:
        try:
            sources.append((str(file), file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(RuleError(str(file), 1, f"cannot read the rule file: {exc}"))
    return sources, problems


def _read(
    sources: list[tuple[str, str]], indicators: Collection[str], reference: Any | None
) -> RuleReader:
    """Read every source with one reader, so ids are checked across files."""
    reader = RuleReader(indicators=indicators, reference=reference)
    for name, text in sources:
        reader.read(text, name)
    return reader


def _first(problems: list[RuleError], target: str) -> RuleError:
    """The first problem, prefixed so the user knows how to see them all."""
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    prefix = f"invalid alerting rules{more}; run `eams rules lint {target}` to list them all: "
    return RuleError(first.file, first.line, prefix + first.message)


def lint_rules_text(
    text: str, name: str, *, indicators: Collection[str], reference: Any | None = None
) -> list[RuleError]:
    """Return every problem of the rule file ``text`` (called ``name`` in messages)."""
    return _read([(name, text)], indicators, reference).errors


def lint_rules(
    path: Path | str, *, indicators: Collection[str], reference: Any | None = None
) -> list[RuleError]:
    """Return every problem of a rule file or directory, each with its file and line.

    ``indicators`` are the indicator names rules may use (``alerting.indicator_names``);
    ``reference`` (optional) has ``get(code)`` returning None for unknown region codes.
    """
    sources, problems = _sources(path)
    return problems + _read(sources, indicators, reference).errors


def load_rules_text(
    text: str, name: str, *, indicators: Collection[str], reference: Any | None = None
) -> RuleSet:
    """Return the rules of ``text``; raise the first ``RuleError`` if it has problems."""
    reader = _read([(name, text)], indicators, reference)
    if reader.errors:
        raise _first(reader.errors, name)
    return RuleSet(tuple(reader.rules))


def load_rules(
    path: Path | str, *, indicators: Collection[str], reference: Any | None = None
) -> RuleSet:
    """Return the rules of a file or directory; raise the first ``RuleError`` if any.

    The error says how many more problems there are and to run ``eams rules lint``.
    """
    sources, problems = _sources(path)
    reader = _read(sources, indicators, reference)
    problems += reader.errors
    if problems:
        raise _first(problems, str(path))
    return RuleSet(tuple(reader.rules))
