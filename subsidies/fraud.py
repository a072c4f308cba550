"""A fraud case as a command aggregate (kind ``fraud_case``, keyed by the case id the rule
derives from what it found: one case per finding, however often the sweep finds it):

    suspect ──► fraud.suspected   the rule, the persons, the evidence (each fact with the
                                  event it is in), what is at risk and what it proposes to
                                  order back; once (a finding seen again changes nothing,
                                  a dismissed one is not raised again)
    confirm ──► fraud.confirmed   by an auditor, with the reason: the recoveries (the
                                  proposed ones unless the auditor names others); the
                                  casework reactor orders each back on the person's case
                                  (``subsidy.recovery_ordered`` with the case id)
    dismiss ──► fraud.dismissed   with the reason

The case's region is the county of its first person, so an auditor limited to regions
handles only their regions' cases (404 outside them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from events.commands import Change, Command, parse_payload
from events.envelope import Envelope
from events.errors import CommandRejectedError
from events.payload_base import MAX_ITEMS, Ident, Money, PersonId, Text
from events.payloads_money import Evidence, Recovery

__all__ = ["FRAUD_EVENTS", "FraudCase", "FraudCaseAggregate", "Suspect"]

FRAUD_EVENTS = frozenset({"fraud.suspected", "fraud.confirmed", "fraud.dismissed"})


@dataclass(frozen=True, slots=True)
class FraudCase:
    """The state of one case."""

    case_id: str
    region: str | None = None
    status: str = "none"
    """none, suspected, confirmed, dismissed."""
    rule: str | None = None
    persons: frozenset[str] = frozenset()
    """The persons the rule found: the only ones a confirmation may order money back from."""
    recoveries: tuple[dict[str, Any], ...] = field(default_factory=tuple)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Suspect(_Body):
    """What a rule found (sent by the supervision sweep)."""

    region: Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
    rule: Ident
    kind: Ident
    title: Text
    persons: Annotated[tuple[PersonId, ...], Field(min_length=1, max_length=MAX_ITEMS)]
    application_id: Ident | None = None
    amount: Money | None = None
    detail: Text | None = None
    evidence: Annotated[tuple[Evidence, ...], Field(min_length=1, max_length=MAX_ITEMS)]
    recoveries: Annotated[tuple[Recovery, ...], Field(max_length=MAX_ITEMS)] = ()
    found_on: dt.date


class Confirm(_Body):
    """The auditor confirms, saying why; ``recoveries`` replace the proposed ones."""

    reason: Text
    recoveries: Annotated[tuple[Recovery, ...], Field(max_length=MAX_ITEMS)] | None = None


class Dismiss(_Body):
    """The auditor dismisses, saying why."""

    reason: Text


class FraudCaseAggregate:
    """The command aggregate of a fraud case."""

    kind = "fraud_case"
    event_types = FRAUD_EVENTS

    def initial(self, aggregate_id: str) -> FraudCase:
        """A case nothing was found for."""
        return FraudCase(case_id=aggregate_id)

    def region_of(self, state: FraudCase) -> str | None:
        """The county of the case's first person."""
        return state.region

    def apply(self, state: FraudCase, event: Envelope) -> FraudCase:
        """The case after one of its events."""
        p = event.payload_dict()
        kind = event.event_type
        if kind == "fraud.suspected" and state.status == "none":
            named = {str(p["person_id"])} if p.get("person_id") else set()
            persons = frozenset(p.get("persons") or ()) | named
            proposed = tuple(p.get("recoveries") or ())
            return replace(state, region=event.region, status="suspected", rule=p.get("rule"),
                           persons=persons, recoveries=proposed)  # fmt: skip
        if kind == "fraud.confirmed" and state.status in ("none", "suspected"):
            return replace(state, status="confirmed", region=state.region or event.region)
        if kind == "fraud.dismissed" and state.status in ("none", "suspected"):
            return replace(state, status="dismissed", region=state.region or event.region)
        return state

    def decide(self, state: FraudCase, command: Command, now: dt.datetime) -> list[Change]:
        """The events a case's command leads to."""
        if command.verb == "suspect":
            body = parse_payload(Suspect, command)
            if state.status != "none":
                return []  # found again: the case exists (or was dismissed)
            payload = {
                "case_id": state.case_id,
                "person_id": body.persons[0],
                **body.model_dump(mode="json", exclude_none=True, exclude={"region"}),
            }
            return [Change("fraud.suspected", payload, region=body.region)]
        if state.status == "none":
            raise CommandRejectedError(
                f"{command.command_type}: there is no fraud case {state.case_id}", code="not_found"
            )
        if state.status != "suspected":
            raise CommandRejectedError(
                f"{command.command_type}: {state.case_id} was {state.status} already; a "
                "case is decided once",
                code="conflict",
            )
        if command.verb == "confirm":
            confirm = parse_payload(Confirm, command)
            for n, r in enumerate(confirm.recoveries or ()):
                if r.person_id not in state.persons:
                    raise CommandRejectedError(
                        f"fraud_case.confirm payload.recoveries[{n}].person_id: {r.person_id} "
                        f"is not a person of {state.case_id}; a case orders back only from the "
                        "persons it found",
                        code="forbidden",
                    )
            chosen = (
                [r.model_dump(mode="json") for r in confirm.recoveries]
                if confirm.recoveries is not None
                else [dict(r) for r in state.recoveries]
            )
            total = sum((Decimal(str(r["amount"])) for r in chosen), Decimal(0))
            payload = {"case_id": state.case_id, "reason": confirm.reason,
                       "recoveries": chosen, "amount_to_recover": str(total)}  # fmt: skip
            return [Change("fraud.confirmed", payload, region=state.region)]
        if command.verb == "dismiss":
            dismiss = parse_payload(Dismiss, command)
            payload = {"case_id": state.case_id, "reason": dismiss.reason}
            return [Change("fraud.dismissed", payload, region=state.region)]
        raise CommandRejectedError(
            f"{command.command_type}: a fraud case takes suspect, confirm and dismiss",
            code="invalid",
        )
