"""The alert state machine of one (rule, region), in the style of Alertmanager and Grafana.

``step`` is pure: it takes the rule, the previous ``AlertState``, the value judged at time
``at`` and returns the next state with the ``Transition``s to record. The caller keeps one
state per (rule, region) and decides what a transition becomes (an ``alert.*`` event, a
notification). Evaluation order inside ``step``:

1. No value (None): nothing changes, except that a pending level is dropped (a level
   must hold on data, not on silence).
2. Not firing: the target is the most severe level whose ``enter`` <= value. A new target
   starts pending (``pending`` transition); once it has held for ``rule.pending`` it fires
   (``raised``). When the pending level drops to a less severe one, the timer keeps running
   (the lower level has held all along); when it rises, the timer restarts.
3. Firing at level C:
   a. a more severe level is entered: it pends as above and then fires (``level_raised``);
   b. else the value is still >= exit(C): stay (any keep-firing timer is cancelled);
   c. else the most severe lower level whose exit the value still reaches is taken at once
      (``level_lowered``; lowering never waits);
   d. else the keep-firing timer runs from the first evaluation below exit(C) and, once
      ``rule.keep_firing`` has passed, the alert ``resolved`` and the state is initial.

A repeated evaluation with the same value emits nothing, so replays are harmless.
With ``pending`` 0 an alert fires at its first evaluation and emits only ``raised``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from alerting.errors import AlertingError
from alerting.rule_model import Rule
from events.severity import rank

__all__ = ["AlertState", "Transition", "TransitionKind", "backtest", "step"]

TransitionKind = Literal["pending", "raised", "level_raised", "level_lowered", "resolved"]


@dataclass(frozen=True, slots=True)
class AlertState:
    """The state of one (rule, region) between evaluations.

    ``level`` is the firing level (None: not firing); ``pending_level`` and
    ``pending_since`` a level waiting out ``rule.pending``; ``clear_since`` when the value
    fell below the exit threshold of every level while firing (the keep-firing timer);
    ``firing_since`` when the alert was raised; ``value`` the last value seen.
    """

    level: str | None = None
    pending_level: str | None = None
    pending_since: datetime | None = None
    clear_since: datetime | None = None
    firing_since: datetime | None = None
    value: float | None = None

    @classmethod
    def initial(cls) -> AlertState:
        """Return the state of a (rule, region) never evaluated: not firing, not pending."""
        return cls()


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of an alert at ``at``.

    ``threshold`` is the enter threshold crossed (``pending``, ``raised``,
    ``level_raised``) or the exit threshold of the level left (``level_lowered``,
    ``resolved``). ``level`` is the new level (None once resolved).
    """

    kind: TransitionKind
    level: str | None
    previous_level: str | None
    value: float | None
    threshold: float | None
    at: datetime


def _entered(rule: Rule, value: float) -> str | None:
    """Return the most severe level whose enter threshold ``value`` reaches, or None."""
    found = None
    for name, threshold in rule.levels.items():  # IV → I
        if value >= threshold.enter:
            found = name
    return found


def _pend(
    rule: Rule, state: AlertState, target: str, value: float, at: datetime
) -> tuple[AlertState, list[Transition]]:
    """Hold ``target`` pending; return the state with the pending transition, if new."""
    if state.pending_level == target and state.pending_since is not None:
        return replace(state, value=value), []
    since = at
    if (
        state.pending_level is not None
        and state.pending_since is not None
        and rank(target) < rank(state.pending_level)
    ):
        since = state.pending_since  # a less severe level has held since then too
    pending = replace(state, pending_level=target, pending_since=since, value=value)
    if state.level is not None or at - since >= rule.pending:
        return pending, []  # no separate "pending" while firing or when firing right away
    threshold = rule.levels[target].enter
    return pending, [Transition("pending", target, state.level, value, threshold, at)]


def _fire_if_due(
    rule: Rule, state: AlertState, value: float, at: datetime
) -> tuple[AlertState, list[Transition]]:
    """Fire the pending level of ``state`` if it has held for ``rule.pending``."""
    assert state.pending_level is not None and state.pending_since is not None
    if at - state.pending_since < rule.pending:
        return state, []
    level, previous = state.pending_level, state.level
    kind: TransitionKind = "raised" if previous is None else "level_raised"
    fired = replace(
        state,
        level=level,
        pending_level=None,
        pending_since=None,
        clear_since=None,
        firing_since=state.firing_since if previous is not None else at,
    )
    return fired, [Transition(kind, level, previous, value, rule.levels[level].enter, at)]


def step(
    rule: Rule, state: AlertState, value: float | None, at: datetime
) -> tuple[AlertState, list[Transition]]:
    """Evaluate ``value`` at ``at`` against ``rule``; return the next state and transitions.

    Raises AlertingError if ``state`` fires at a level the rule no longer has (reset such
    states with ``AlertState.initial()`` after changing a rule's levels).
    """
    if state.level is not None and state.level not in rule.levels:
        raise AlertingError(
            f"rule {rule.id!r} has no level {state.level!r} (levels: {', '.join(rule.levels)}); "
            "reset this alert's state with AlertState.initial() after changing the rule"
        )
    if value is None:
        if state.pending_level is None:
            return state, []
        return replace(state, pending_level=None, pending_since=None), []

    target = _entered(rule, value)
    current = state.level
    if current is None:
        if target is None:
            return replace(AlertState.initial(), value=value), []
        pending, transitions = _pend(rule, state, target, value, at)
        fired, more = _fire_if_due(rule, pending, value, at)
        return fired, transitions + more

    if target is not None and rank(target) > rank(current):
        pending, transitions = _pend(rule, replace(state, clear_since=None), target, value, at)
        fired, more = _fire_if_due(rule, pending, value, at)
        return fired, transitions + more

    calm = replace(state, pending_level=None, pending_since=None, value=value)
    exit_threshold = rule.levels[current].exit
    if value >= exit_threshold:
        return replace(calm, clear_since=None), []

    lower = None
    for name, threshold in rule.levels.items():  # IV → I: keep the most severe below C
        if rank(name) < rank(current) and value >= threshold.exit:
            lower = name
    if lower is not None:
        lowered = replace(calm, level=lower, clear_since=None)
        return lowered, [Transition("level_lowered", lower, current, value, exit_threshold, at)]

    clear_since = state.clear_since or at
    if at - clear_since >= rule.keep_firing:
        resolved = replace(AlertState.initial(), value=value)
        return resolved, [Transition("resolved", None, current, value, exit_threshold, at)]
    return replace(calm, clear_since=clear_since), []


def backtest(rule: Rule, series: Iterable[tuple[datetime, float | None]]) -> list[Transition]:
    """Feed a time-ordered series through ``step`` from the initial state.

    Returns every transition, in order. Raises AlertingError naming the index of the first
    point that goes back in time (sort the series by time first).
    """
    state = AlertState.initial()
    transitions: list[Transition] = []
    last: datetime | None = None
    for index, (at, value) in enumerate(series):
        if last is not None and at < last:
            raise AlertingError(
                f"backtest series goes back in time at index {index} ({at.isoformat()} after "
                f"{last.isoformat()}); sort the series by time"
            )
        last = at
        state, emitted = step(rule, state, value, at)
        transitions.extend(emitted)
    return transitions
