"""The fraud rules (风险内控) as configuration: ``deploy/fraud/rules.yaml``.

Each rule names one of the kinds below (what it looks for is fixed in code, in
:mod:`projections.fraud_queries`; what it is called, how severe it is and its thresholds are
the file's), with the parameters its kind takes::

    duplicate_payment             one person paid more than once for one subsidy and month
                                  (EAMS's own payments and the counties' ledgers, any county)
    paid_after_death              a payment for a month after the death a civil-affairs
                                  record gives
    paid_while_employed_elsewhere a payment of ``subsidies`` for a month the social-insurance
                                  records show the person employed by another enterprise
    shared_account                one payee account on the applications of ``min_persons``
                                  or more persons of different households
    short_hire                    an enterprise's claim (``subsidies``) for a hire of fewer
                                  than ``min_months``, or for a person its contributions
                                  stop for within ``min_months`` of the hire
    graduate_not_low_income       the graduates' job-search subsidy paid to a person whose
                                  household the latest facts show is not low-income
    officer_relative              an application approved by a member of the person's
                                  household (the approver's own person, linked to their user)

``eams fraud lint`` reports ``file:line: where: message`` with did-you-mean.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from events.errors import ConfigError
from events.vocabulary import SubsidyKind
from events.yaml_lines import YamlLines, YamlSyntaxError

__all__ = ["FraudRule", "FraudRules", "FraudRulesError", "lint_fraud_rules", "load_fraud_rules"]

Title = Annotated[str, Field(min_length=1, max_length=120)]


class FraudRulesError(ConfigError):
    """The fraud rules cannot be used; the message lists every problem with its line."""


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")]
    title: Title
    title_en: Title
    severity: Literal["low", "medium", "high"] = "medium"
    source: Annotated[str, Field(min_length=1, max_length=300)] = "EAMS default"
    enabled: bool = True


class DuplicatePayment(_Rule):
    kind: Literal["duplicate_payment"]


class PaidAfterDeath(_Rule):
    kind: Literal["paid_after_death"]


class PaidWhileEmployedElsewhere(_Rule):
    kind: Literal["paid_while_employed_elsewhere"]
    subsidies: Annotated[tuple[SubsidyKind, ...], Field(min_length=1)]


class SharedAccount(_Rule):
    kind: Literal["shared_account"]
    min_persons: Annotated[int, Field(ge=2, le=1000)] = 2


class ShortHire(_Rule):
    kind: Literal["short_hire"]
    min_months: Annotated[int, Field(ge=1, le=120)] = 6
    subsidies: Annotated[tuple[SubsidyKind, ...], Field(min_length=1)]


class GraduateNotLowIncome(_Rule):
    kind: Literal["graduate_not_low_income"]


class OfficerRelative(_Rule):
    kind: Literal["officer_relative"]


FraudRule = Annotated[
    DuplicatePayment
    | PaidAfterDeath
    | PaidWhileEmployedElsewhere
    | SharedAccount
    | ShortHire
    | GraduateNotLowIncome
    | OfficerRelative,
    Field(discriminator="kind"),
]
_KINDS = (DuplicatePayment, PaidAfterDeath, PaidWhileEmployedElsewhere, SharedAccount,
          ShortHire, GraduateNotLowIncome, OfficerRelative)  # fmt: skip


@dataclass(frozen=True)
class FraudRules:
    """The rules of one file, the enabled ones in its order."""

    path: Path
    rules: tuple[_Rule, ...]

    def enabled(self) -> list[_Rule]:
        return [r for r in self.rules if r.enabled]

    def get(self, rule_id: str) -> _Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


_BY_KIND: dict[str, type[_Rule]] = {
    m.model_fields["kind"].annotation.__args__[0]: m  # type: ignore[union-attr]
    for m in _KINDS
}


def _rule(lines: YamlLines, i: int, raw: object) -> _Rule | list[str]:
    """One rule checked against its kind's model (so an unknown key is told what its kind
    takes)."""
    at = ("rules", i)
    if not isinstance(raw, dict):
        return [lines.say(at, "a rule is an object (id:, kind:, title:, title_en: …)")]
    kind = raw.get("kind")
    model = _BY_KIND.get(str(kind))
    if model is None:
        close = difflib.get_close_matches(str(kind), list(_BY_KIND), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(_BY_KIND)
        return [lines.say((*at, "kind"), f"unknown kind {kind!r}{hint} (one of {known})")]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        out: list[tuple[int, str]] = []
        for err in exc.errors(include_url=False):
            loc = (*at, *err["loc"])
            if err["type"] == "extra_forbidden":
                name = str(err["loc"][-1])
                allowed = [f for f in model.model_fields if f != "kind"]
                close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
                hint = (
                    f"; did you mean {close[0]!r}?"
                    if close
                    else f" (allowed: {', '.join(allowed)})"
                )
                msg = f"unknown key {name!r} for a {kind} rule{hint}"
            elif err["type"] == "missing":
                loc, msg = loc[:-1], f"missing key {err['loc'][-1]!r}"
            elif err["type"] == "string_pattern_mismatch" and err["loc"] == ("id",):
                msg = f"{raw.get('id')!r}: an id is lower-case letters, digits and _ (2-41)"
            else:
                msg = str(err["msg"]).removeprefix("Value error, ")
            out.append((lines.line_of(loc), lines.say(loc, msg)))
        return [text for _, text in sorted(out, key=lambda p: p[0])]


def _read(path: Path) -> tuple[FraudRules | None, list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path}:1: cannot read the fraud rules: {exc}"]
    try:
        lines = YamlLines(path, text)
    except YamlSyntaxError as exc:
        return None, [str(exc)]
    if not isinstance(lines.doc, dict):
        return None, [f"{path}:1: the fraud rules are a YAML object (version:, rules:)"]
    raw_rules = lines.doc.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        return None, [lines.say(("rules",), "give a list of rules (rules: - id: …)")]
    if lines.doc.get("version") != 1:
        return None, [lines.say(("version",), "the fraud rules' format is version: 1")]
    extra = sorted(set(lines.doc) - {"version", "rules"})
    if extra:
        return None, [lines.say((extra[0],), f"unknown key {extra[0]!r} (allowed: version, rules)")]
    out: list[str] = []
    parsed: list[_Rule] = []
    for i, raw in enumerate(raw_rules):
        found = _rule(lines, i, raw)
        if isinstance(found, list):
            out += found
        else:
            parsed.append(found)
    if out:
        return None, out
    seen: dict[str, int] = {}
    for i, rule in enumerate(parsed):
        if rule.id in seen:
            out.append(lines.say(("rules", i, "id"),
                                 f"{rule.id!r} is rule {seen[rule.id] + 1} already"))  # fmt: skip
        seen.setdefault(rule.id, i)
    return (None if out else FraudRules(path, tuple(parsed))), out


def lint_fraud_rules(path: Path) -> list[str]:
    """Every problem of the file as ``path:line: where: message`` (none: it can be used)."""
    return _read(path)[1]


def load_fraud_rules(path: Path) -> FraudRules:
    """The rules of ``path``; raises :class:`FraudRulesError` listing every problem."""
    rules, errors = _read(path)
    if rules is None:
        raise FraudRulesError("\n".join(errors))
    return rules
