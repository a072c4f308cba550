"""What casework does by itself in reaction to the log: the process between a person's case
and their household, and the checks that fall due with the calendar.

Pure: :class:`CaseworkView` folds the events of some partitions (persons and households
are keyed by their own ids, so each view needs only its partitions' events) and says which
commands follow from an event or from a day:

- a person's household, age, gender or work changed → the household is told
  (``household.record_member``): it identifies or clears itself;
- a household identified or cleared → each member's case records the fact
  ``zero_employment_household`` (the recognition and the visit schedule follow);
- a person event that did not come from the case's own writer (an imported registration, a
  civil-affairs lead of a registered person) → the case is judged again
  (``person.evaluate``);
- a day → households past their clearing deadline are escalated (``household.escalate``),
  recognitions past their ``valid_until`` are judged again.

Every reaction has a command id derived from what caused it, so a reaction repeated after
a restart is answered by the handler as a duplicate.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cases.facts import derive
from cases.policy import CasePolicy
from events.clock import SHANGHAI
from events.envelope import Envelope
from events.regions import RegionReference

__all__ = ["CaseworkView", "Reaction", "ReactionExtension"]

_NAMESPACE = uuid.UUID("3c9e4b1a-7d25-4f60-8a13-5b2e9c7d0f41")
_JUDGED_AGAIN = frozenset({"person.registered", "person.facts_recorded", "lead.discovered"})


@dataclass(frozen=True, slots=True)
class Reaction:
    """A command casework sends: its type, aggregate, payload and derived id."""

    command_type: str
    aggregate_id: str
    payload: dict[str, Any]
    command_id: uuid.UUID


class ReactionExtension(Protocol):
    """Reactions of another part of the product (the money) the view carries: the event
    types it reads (``prefixes``), pure like the view's own."""

    prefixes: tuple[str, ...]

    def fold(self, event: Envelope) -> None: ...

    def react(self, event: Envelope) -> list[Reaction]: ...

    def due(self, today: dt.date) -> list[Reaction]: ...


@dataclass(slots=True)
class _Person:
    region: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    registered: bool = False
    exited: bool = False
    told: tuple[str, bool, bool] | None = None  # (household, working age, employed) last reported
    valid_until: dict[str, dt.date] = field(default_factory=dict)


@dataclass(slots=True)
class _Household:
    members: set[str] = field(default_factory=set)
    deadline: dt.date | None = None
    escalated: bool = False


def _id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, ":".join(str(p) for p in parts))


def _day(event: Envelope) -> dt.date:
    return event.occurred_at.astimezone(SHANGHAI).date()


class CaseworkView:
    """The persons and households of some partitions, as casework needs them."""

    #: The event types the view's own reactions read.
    PREFIXES = ("person.", "case.", "visit.", "service.", "plan.", "placement.", "lead.",
                "household.")  # fmt: skip

    def __init__(
        self,
        policy: CasePolicy,
        reference: RegionReference,
        extensions: Sequence[ReactionExtension] = (),
    ) -> None:
        self.policy = policy
        self.reference = reference
        self.persons: dict[str, _Person] = {}
        self.households: dict[str, _Household] = {}
        self.extensions = tuple(extensions)

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Every event type the view or an extension reads."""
        return self.PREFIXES + tuple(p for e in self.extensions for p in e.prefixes)

    def _extension(self, event_type: str) -> ReactionExtension | None:
        for extension in self.extensions:
            if event_type.startswith(extension.prefixes):
                return extension
        return None

    def fold(self, event: Envelope) -> None:
        """Apply an event without reacting (the events before the committed position)."""
        extension = self._extension(event.event_type)
        if extension is not None:
            extension.fold(event)
            return
        self._apply(event)

    def react(self, event: Envelope) -> list[Reaction]:
        """Apply an event and return the commands that follow from it."""
        kind = event.event_type
        extension = self._extension(kind)
        if extension is not None:
            return extension.react(event)
        if kind.startswith("household."):
            before = self.households.get(event.aggregate_id or "")
            joined = kind == "household.member_joined" and (
                before is None or event.payload_dict()["person_id"] not in before.members
            )
            self._apply(event)
            return self._household_reactions(event, joined)
        self._apply(event)
        out: list[Reaction] = []
        person_id = event.aggregate_id
        person = self.persons.get(person_id or "")
        if person is None or person_id is None:
            return out
        out += self._member_report(person_id, person, event)
        if (
            kind in _JUDGED_AGAIN
            and event.causation_id is None
            and person.registered
            and not person.exited
        ):
            out.append(
                Reaction(
                    "person.evaluate",
                    person_id,
                    {"on": _day(event).isoformat()},
                    _id("evaluate", event.event_id),
                )
            )
        return out

    def forget_reports(self) -> None:
        """Forget what households were told (their reports are sent again: a report that
        changes nothing is decided as nothing)."""
        for person in self.persons.values():
            person.told = None

    def due(self, today: dt.date) -> list[Reaction]:
        """The checks that fall due on ``today``."""
        out: list[Reaction] = [r for e in self.extensions for r in e.due(today)]
        for household_id, household in self.households.items():
            if (
                household.deadline is not None
                and not household.escalated
                and today > household.deadline
            ):
                out.append(
                    Reaction(
                        "household.escalate",
                        household_id,
                        {"on": today.isoformat()},
                        _id("escalate", household_id, household.deadline),
                    )
                )
        for person_id, person in self.persons.items():
            if not person.registered or person.exited:
                continue
            expired = [u for u in person.valid_until.values() if u < today]
            if expired:
                out.append(
                    Reaction(
                        "person.evaluate",
                        person_id,
                        {"on": today.isoformat()},
                        _id("expiry", person_id, max(expired)),
                    )
                )
        return out

    # -- folding ---------------------------------------------------------------------------

    def _apply(self, event: Envelope) -> None:
        kind = event.event_type
        p = event.payload_dict()
        if kind.startswith("household."):
            household = self.households.setdefault(event.aggregate_id or "", _Household())
            if kind == "household.member_joined":
                household.members.add(p["person_id"])
            elif kind == "household.zero_employment_identified":
                household.deadline = (
                    dt.date.fromisoformat(p["deadline"]) if p.get("deadline") else None
                )
                household.escalated = False
            elif kind == "household.zero_employment_cleared":
                household.deadline = None
            elif kind == "household.clearing_overdue":
                household.escalated = True
            return
        if event.aggregate_id is None or not event.aggregate_id.startswith("p_"):
            return
        person = self.persons.setdefault(event.aggregate_id, _Person())
        person.region = person.region or event.region
        if kind == "person.registered":
            person.registered, person.exited = True, False
            for name in ("gender", "household_id"):
                if p.get(name):
                    person.facts[name] = p[name]
        elif kind in ("person.facts_recorded", "lead.discovered"):
            person.facts.update(p.get("facts") or {})
        elif kind == "placement.recorded":
            person.facts["employed"] = True
        elif kind == "person.exited":
            person.exited = True
        elif kind == "person.recognized" and p.get("valid_until"):
            person.valid_until[p["target_group"]] = dt.date.fromisoformat(p["valid_until"])
        elif kind == "person.recognition_revoked":
            person.valid_until.pop(p["target_group"], None)

    # -- reactions -------------------------------------------------------------------------

    def _member_report(self, person_id: str, person: _Person, event: Envelope) -> list[Reaction]:
        household = person.facts.get("household_id")
        if not household:
            return []
        households = self.policy.for_city(
            self.reference.city_of(person.region) if person.region else None
        ).households
        parameters = {
            "working_age_min": households.working_age_min,
            "retirement_age_male": households.retirement_age_male,
            "retirement_age_female": households.retirement_age_female,
        }
        derived = derive(person.facts, _day(event), parameters)
        working_age = bool(derived["working_age"]) if derived["working_age"] is not None else True
        employed = bool(person.facts.get("employed"))
        told = (str(household), working_age, employed)
        if told == person.told or person.region is None:
            return []
        person.told = told
        payload = {
            "person_id": person_id,
            "region": person.region,
            "working_age": working_age,
            "employed": employed,
            "on": _day(event).isoformat(),
        }
        return [
            Reaction(
                "household.record_member", str(household), payload, _id("member", event.event_id)
            )
        ]

    def _household_reactions(self, event: Envelope, joined: bool) -> list[Reaction]:
        kind = event.event_type
        household = self.households.get(event.aggregate_id or "")
        members: Iterable[str] = sorted(household.members) if household else ()
        if kind == "household.member_joined":
            # a member who joins a household already identified is told too
            if not joined or household is None or household.deadline is None:
                return []
            flag, members = True, [event.payload_dict()["person_id"]]
        elif kind in ("household.zero_employment_identified", "household.zero_employment_cleared"):
            flag = kind == "household.zero_employment_identified"
        else:
            return []
        return [
            Reaction(
                "person.record_facts",
                member,
                {
                    "facts": {"zero_employment_household": flag},
                    "source": "household",
                    "on": _day(event).isoformat(),
                    "document": f"household {event.aggregate_id}",
                },
                _id("household-flag", event.event_id, member),
            )
            for member in members
        ]
