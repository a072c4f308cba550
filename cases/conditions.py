"""Conditions of recognition and schedule rules: one readable line each.

A condition is ``fact``, ``not fact`` or ``fact OP value`` with OP one of ``==  !=  >=  <=
>  <  in``; a value is a number, ``true``/``false``, a word (``female``, ``rural``), a list
``[a, b]`` or ``$parameter`` (the city's parameter of that name)::

    age >= $older_woman_age
    gender == female
    not transferred
    hukou in [rural]

The text is kept as written: a decision records each condition's text with the value it
read, so a reader of the log sees the rule as the city wrote it. A condition on a fact that
is not known fails (its value is recorded as ``None``: "record this fact").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = ["Condition", "ConditionSyntaxError", "parse_condition"]

_OPS = ("==", "!=", ">=", "<=", ">", "<", " in ")
_FACT = re.compile(r"^[a-z][a-z0-9_]*$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class ConditionSyntaxError(ValueError):
    """A condition that cannot be read; the message says what is expected."""


@dataclass(frozen=True, slots=True)
class Condition:
    """One parsed condition: the fact it reads, the operator and the operand as written."""

    text: str
    fact: str
    op: str  # "truthy", "falsy", "==", "!=", ">=", "<=", ">", "<", "in"
    operand: Any = None
    parameter: str | None = None

    def operand_for(self, parameters: Mapping[str, Any]) -> Any:
        """The operand with a ``$parameter`` resolved."""
        return parameters[self.parameter] if self.parameter is not None else self.operand

    def judge(self, facts: Mapping[str, Any], parameters: Mapping[str, Any]) -> tuple[bool, Any]:
        """(holds, the value read). An unknown fact never holds."""
        value = facts.get(self.fact)
        if value is None:
            return False, None
        if self.op == "truthy":
            return bool(value), value
        if self.op == "falsy":
            return not value, value
        want = self.operand_for(parameters)
        if isinstance(value, date) and isinstance(want, str):
            want = date.fromisoformat(want)
        try:
            if self.op == "==":
                return value == want, value
            if self.op == "!=":
                return value != want, value
            if self.op == "in":
                return value in want, value
            if self.op == ">=":
                return value >= want, value
            if self.op == "<=":
                return value <= want, value
            if self.op == ">":
                return value > want, value
            return value < want, value
        except TypeError:
            return False, value


def _operand(text: str) -> tuple[Any, str | None]:
    text = text.strip()
    if not text:
        raise ConditionSyntaxError("a value is missing after the operator")
    if text.startswith("$"):
        name = text[1:]
        if not _FACT.match(name):
            raise ConditionSyntaxError(f"{text!r} is not a parameter name ($name)")
        return None, name
    if text.startswith("["):
        if not text.endswith("]"):
            raise ConditionSyntaxError(f"the list {text!r} is not closed with ']'")
        items = [p.strip() for p in text[1:-1].split(",") if p.strip()]
        return tuple(_operand(p)[0] for p in items), None
    if text in ("true", "false"):
        return text == "true", None
    if _NUMBER.match(text):
        return (float(text) if "." in text else int(text)), None
    return text.strip("'\""), None


def parse_condition(text: str, facts: Collection[str]) -> Condition:
    """Read one condition; ``facts`` are the names it may read (a misspelt one is refused
    with the nearest name)."""
    source = " ".join(str(text).split())
    body = source
    for op in _OPS:
        if op in body:
            left, right = body.split(op, 1)
            fact = left.strip()
            operand, parameter = _operand(right)
            name = op.strip()
            if name == "in" and parameter is None and not isinstance(operand, tuple):
                raise ConditionSyntaxError(f"'in' takes a list, e.g. {fact} in [a, b]")
            return Condition(source, _fact(fact, facts), name, operand, parameter)
    negated = body.startswith("not ")
    fact = body[4:].strip() if negated else body
    return Condition(source, _fact(fact, facts), "falsy" if negated else "truthy")


def _fact(name: str, facts: Collection[str]) -> str:
    if not _FACT.match(name):
        raise ConditionSyntaxError(
            f"{name!r} is not a fact name; write 'fact', 'not fact' or 'fact OP value' "
            "(OP one of == != >= <= > < in)"
        )
    if name not in facts:
        close = difflib.get_close_matches(name, sorted(facts), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConditionSyntaxError(f"unknown fact {name!r}{hint}")
    return name
