"""What every money decision of a person's case shares: the city's catalogue in force on a
day, an application looked up by id, and the eligibility check made with what the case
knows of the person on that day (:class:`MoneyDecisions`, the base of
:class:`subsidies.applications.SubsidyDecisions`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from cases.case_state import PersonCase
from cases.deciding import CaseDecisions
from cases.facts import derive
from cases.policy import CasePolicy
from cases.rules import RuleBook
from events.commands import Command
from events.errors import CommandRejectedError
from events.payloads_cases import FactValues
from events.payloads_money import ApplicationFacts
from events.regions import RegionReference
from subsidies.application_state import Application, applications
from subsidies.catalogue import Catalogue, Resolved
from subsidies.eligibility import Check, check, month_of, policy_facts
from subsidies.tenure import post_terms

__all__ = ["MoneyDecisions"]


class MoneyDecisions(CaseDecisions):
    """The catalogue, and the steps the subsidy verbs share."""

    def __init__(
        self,
        catalogue: Catalogue,
        rules: RuleBook,
        policy: CasePolicy,
        reference: RegionReference,
    ) -> None:
        super().__init__(rules, policy, reference)
        self.catalogue = catalogue

    def _catalogue(self, state: PersonCase, day: dt.date, command: Command) -> Resolved:
        city = self._city(state)
        resolved = self.catalogue.resolve(city, day) if city else None
        if resolved is None:
            raise CommandRejectedError(
                f"{command.command_type}: no policy catalogue of city {city} is in force on "
                f"{day}; add the city's version for that year (deploy/policies)",
                code="invalid",
            )
        return resolved

    def _application(self, state: PersonCase, app_id: str, command: Command) -> Application:
        found = applications(state).get(app_id)
        if found is None:
            known = ", ".join(sorted(applications(state))) or "none"
            raise CommandRejectedError(
                f"{command.command_type}: {state.person_id} has no application {app_id!r} "
                f"(applications: {known})",
                code="not_found",
            )
        return found

    def _run_check(
        self,
        state: PersonCase,
        app: Application,
        day: dt.date,
        command: Command,
        first_month: int | None = None,
        *,
        weigh_held: bool = True,
    ) -> tuple[Check, dict[str, Any], list[str]]:
        """The check of ``app`` on ``day`` with what the case knows of the person (and, unless
        ``weigh_held`` is off, the person's other applications); with the recorded facts it
        read and the groups."""
        resolved = self._catalogue(state, day, command)
        policy_id = app.policy or ""
        if resolved.policy(policy_id) is None:
            known = ", ".join(p.id for p in resolved.policy_set.policies)
            raise CommandRejectedError(
                f"{command.command_type}: {resolved.ref} has no policy {policy_id!r} "
                f"(known: {known})",
                code="invalid",
            )
        city = self._city(state)
        rules = self.rules.resolve(city, day) if city else None
        parameters = rules.parameters if rules is not None else {}
        person = derive(state.facts, day, parameters)
        gender = state.facts.get("gender")
        retire = parameters.get(f"retirement_age_{gender}") if gender else None
        stated = ApplicationFacts.model_validate(app.facts)
        groups = sorted(state.recognised)
        facts = policy_facts(person, groups, stated, day, int(retire) if retire else None)
        held = [a.held() for a in applications(state).values()] if weigh_held else []
        if app.on_attendance and app.post_opened is not None:  # no pay before the post opened
            first_month = max(month_of(day) if first_month is None else first_month,
                              app.post_opened)  # fmt: skip
        done = check(
            resolved, policy_id, facts, stated, day, held=held,
            application_id=app.application_id, first_month=first_month,
        )  # fmt: skip
        if app.on_attendance:  # a public-welfare post's pay: the post and the tenure left
            done = post_terms(state, app, done)
        return done, FactValues.model_validate(_recorded(state.facts)).given(), groups

    # -- the verbs ----------------------------------------------------------------------


def _recorded(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The recorded facts a :class:`FactValues` holds (derived ones left out)."""
    return {k: v for k, v in facts.items() if k in FactValues.model_fields and v is not None}
