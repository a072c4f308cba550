"""The recognition engine: a person's facts judged against their city's rules on a day.

Pure: :func:`judge` reads the recorded facts, the rules in force (:class:`~cases.rules.
Resolved`) and the day, and says for every target group whether the person belongs to it,
by which rule, and the value each condition read. The person's case
(:mod:`cases.person`) turns judgements into events; :mod:`cases.explain` replays them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cases.facts import derive
from cases.rules import Resolved, RuleSpec
from events.payloads_cases import ConditionResult
from events.vocabulary import DifficultyReason, TargetGroup

__all__ = ["Judgement", "judge", "recorded_value"]


@dataclass(frozen=True)
class Judgement:
    """Whether a person belongs to one group on a day, and why (or why not)."""

    group: TargetGroup
    holds: bool
    rule_set: str
    """The city's version judged by (``370100@1``)."""
    rule_id: str | None
    """The first rule (in file order) whose conditions all hold; None when none does."""
    reason: DifficultyReason | None
    conditions: tuple[ConditionResult, ...]
    """``requires`` and the recognising rule's conditions when the group holds; otherwise
    ``requires`` and every rule's conditions."""
    valid_until: dt.date | None

    @property
    def failed(self) -> tuple[ConditionResult, ...]:
        """The conditions that did not hold."""
        return tuple(c for c in self.conditions if not c.ok)

    def signature(self) -> tuple[str, ...]:
        """What a refusal said (the failed conditions): an unchanged refusal is not repeated."""
        return tuple(sorted(f"{c.rule}:{c.condition}" for c in self.failed))


def recorded_value(value: Any) -> bool | int | float | str | None:
    """A fact's value as a decision records it (a date as ISO text)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:200]


#: The most results one city version keeps (a condition's fact takes few values: ages,
#: months, yes/no, a group of words). 200,000 persons of benchmarks/recognition leave
#: ~1,800 per version (~17 MiB for all 16 cities); past the limit, results are made again
#: instead of kept, so a long-running worker's memory stays bounded (~12 MiB a version).
MEMO_LIMIT = 20_000


def _results(
    rules: Resolved, rule: str, texts: tuple[str, ...], facts: Mapping[str, Any]
) -> list[ConditionResult]:
    """Each condition judged: a condition reads one fact, so its result for a value of
    that fact is made once per city version and shared (the results are frozen). Half
    the re-evaluation's time was making the same results again (benchmarks/recognition)."""
    memo = rules.memo
    out = []
    for text in texts:
        condition = rules.condition(text)
        seen = facts.get(condition.fact)
        key = (rule, text, seen.__class__, seen)  # True == 1: the class tells them apart
        try:
            result = memo.get(key)
            keep = len(memo) < MEMO_LIMIT
        except TypeError:  # a value that cannot be a key (a list): judged each time
            result, keep = None, False
        if result is None:
            ok, value = condition.judge(facts, rules.parameters)
            result = ConditionResult(rule=rule, condition=text, value=recorded_value(value), ok=ok)
            if keep:
                memo[key] = result
        out.append(result)
    return out


def judge(
    rules: Resolved,
    recorded: Mapping[str, Any],
    on: dt.date,
    groups: tuple[TargetGroup, ...] | None = None,
) -> list[Judgement]:
    """Judge the recorded facts on day ``on`` for every group of the rules (or ``groups``)."""
    facts = derive(recorded, on, rules.parameters)
    out: list[Judgement] = []
    for group, spec in rules.rule_set.groups.items():
        if groups is not None and group not in groups:
            continue
        requires = _results(rules, "requires", spec.requires, facts)
        met = all(r.ok for r in requires)
        chosen: RuleSpec | None = None
        tried: list[ConditionResult] = []
        for rule in spec.rules:
            results = _results(rules, rule.id, rule.when, facts)
            if met and all(r.ok for r in results):
                chosen = rule
                tried = results
                break
            tried += results
        valid = on + dt.timedelta(days=spec.valid_days) if chosen and spec.valid_days else None
        out.append(
            Judgement(
                group=group,
                holds=chosen is not None,
                rule_set=rules.ref,
                rule_id=chosen.id if chosen else None,
                reason=chosen.reason if chosen else None,
                conditions=tuple(requires + tried),
                valid_until=valid,
            )
        )
    return out
