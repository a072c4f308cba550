"""Active discovery on a person's case: a lead found in another department's data, given to
the community's officer, contacted, and converted (by registration) or declined.
"""

from __future__ import annotations

import datetime as dt

from cases.case_state import PersonCase
from cases.deciding import CaseDecisions
from cases.person_commands import AssignLead, ContactLead, DeclineLead, Discover
from events.commands import Change, Command
from events.errors import CommandRejectedError

__all__ = ["LeadDecisions"]


class LeadDecisions(CaseDecisions):
    """The lead verbs of a person's case."""

    def _discover(
        self, state: PersonCase, body: Discover, command: Command, today: dt.date
    ) -> list[Change]:
        if body.lead_id in state.leads:
            raise CommandRejectedError(
                f"{command.command_type}: lead {body.lead_id} is known "
                f"({state.leads[body.lead_id]})",
                code="conflict",
            )
        day = self._day(body.record_on, today, command, "record_on")
        payload = {
            "lead_id": body.lead_id,
            "source": body.source.value,
            "suggested_target_group": body.suggested_target_group.value
            if body.suggested_target_group
            else None,
            "facts": body.facts.given(),
            "record_on": day.isoformat(),
            "national_id_masked": body.national_id_masked,
            "name_masked": body.name_masked,
        }
        changes = [
            self._change(
                "lead.discovered", state, payload, today, today, region=state.region or body.region
            )
        ]
        return self._then(state, changes, command, today, today) if state.open else changes

    def _lead(self, state: PersonCase, lead: str, command: Command, *stages: str) -> None:
        stage = state.leads.get(lead)
        if stage is None:
            raise CommandRejectedError(
                f"{command.command_type}: no lead {lead!r} for this person", code="not_found"
            )
        if stage not in stages:
            raise CommandRejectedError(
                f"{command.command_type}: lead {lead} is {stage}", code="conflict"
            )

    def _assign_lead(
        self, state: PersonCase, body: AssignLead, command: Command, today: dt.date
    ) -> list[Change]:
        self._lead(state, body.lead_id, command, "discovered", "assigned")
        return [
            self._change(
                "lead.assigned",
                state,
                {"lead_id": body.lead_id, "office": body.office, "officer": body.officer},
                today,
                today,
            )
        ]

    def _contact_lead(
        self, state: PersonCase, body: ContactLead, command: Command, today: dt.date
    ) -> list[Change]:
        self._lead(state, body.lead_id, command, "discovered", "assigned", "contacted")
        day = self._day(body.on, today, command)
        return [
            self._change(
                "lead.contacted",
                state,
                {"lead_id": body.lead_id, "channel": body.channel.value, "outcome": body.outcome},
                day,
                today,
            )
        ]

    def _decline_lead(
        self, state: PersonCase, body: DeclineLead, command: Command, today: dt.date
    ) -> list[Change]:
        self._lead(state, body.lead_id, command, "discovered", "assigned", "contacted")
        return [
            self._change(
                "lead.declined",
                state,
                {"lead_id": body.lead_id, "reason": body.reason},
                today,
                today,
            )
        ]
