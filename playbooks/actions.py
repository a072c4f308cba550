"""What a playbook run does: the automated actions of its steps, its enrolments, its messages.

- **Actions.** :meth:`Actions.carry_out` issues the action of a step that is ready and
  returns its figures: enrol the affected (``temporary_assistance.enrolled``), open welfare
  posts (``welfare_post.opened``), pay the subsidy batch after its approval step
  (``subsidy.paid``), schedule a job fair (``job_fair.scheduled``), notify the officers of
  the area through the dispatcher's :meth:`~alerting.dispatch.Dispatcher.announce`. Event
  ids are derived from (run, step, subject) (:meth:`Actions.emit`), so an action repeated
  after a crash adds nothing the projections count twice, and the people already enrolled
  or paid are skipped.
- **Enrolment over time.** While a run is active, new registrations citing its disaster
  are enrolled once the enrolment step is done; enrolments end
  (``temporary_assistance.ended``) once the disaster flag has been cleared for the grace
  period of the run's variant.

The runtime (:mod:`playbooks.runner`) decides when; this module does, through the runtime's
:class:`~streams.writer.EventWriter`, and reads what it needs from
:mod:`projections.playbook_queries`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from events.clock import SHANGHAI
from events.regions import RegionReference
from playbooks.aggregate import RunState
from playbooks.errors import CommandRejectedError
from playbooks.model import Library, Playbook, Step
from projections import playbook_queries
from projections.client import Store, run
from streams.writer import EventWriter

if TYPE_CHECKING:
    from alerting.dispatch import Dispatcher

__all__ = ["Actions"]


class Actions:
    """Carries out the actions of playbook runs (see the module docstring)."""

    def __init__(
        self,
        *,
        store: Store,
        reference: RegionReference,
        library: Library,
        writer: EventWriter,
        dispatcher: Dispatcher | None,
        now: Callable[[], dt.datetime],
    ) -> None:
        self.store = store
        self.reference = reference
        self.library = library
        self.writer = writer
        self.dispatcher = dispatcher
        self.now = now

    def definition(self, state: RunState) -> Playbook:
        """The playbook a run follows (raises UnknownPlaybookError if it left the library)."""
        return self.library.require(state.playbook_id or "")

    async def carry_out(
        self, state: RunState, definition: Playbook, step: Step
    ) -> tuple[dict[str, float], str]:
        """Issue the action of ``step``; returns its figures and a note."""
        assert step.action is not None and state.level is not None and state.area is not None
        variant = definition.variant(state.level)
        kind = step.action.kind
        now = self.now()
        if kind == "enrol_temporary_assistance":
            enrolled = await self.enrol(state, step.id)
            return {"people_enrolled": float(enrolled)}, f"登记临时援助对象 {enrolled} 人"
        if kind == "open_welfare_posts":
            slots = int(variant.welfare_posts or 0)
            if slots:
                post = f"{state.run_id}:posts"[:64]  # keyed by the post: its aggregate
                await self.emit(state, step.id, "welfare_post.opened", state.area, "posts", {
                    "post_id": post,
                    "title": f"乡村公益性岗位（{definition.title.split(' / ')[0]}）",
                    "slots": slots,
                }, aggregate=post)  # fmt: skip
            return {"welfare_posts": float(slots)}, f"开发公益性岗位 {slots} 个"
        if kind == "subsidy_batch":
            paid, amount = await self.pay_batch(state, step.id, variant.subsidy_amount)
            return (
                {"subsidies_paid": float(paid), "subsidy_amount": float(amount)},
                f"发放一次性补贴 {paid} 人，共 {amount} 元",
            )
        if kind == "schedule_job_fair":
            on = variant.job_fair_by(state.activated_at or now)
            await self.emit(state, step.id, "job_fair.scheduled", state.area, "fair", {
                "fair_id": f"{state.run_id}:fair"[:64],
                "title": f"专场招聘会（{definition.title.split(' / ')[0]}）",
                "scheduled_for": on.isoformat(), "playbook_run_id": state.run_id,
            })  # fmt: skip
            return {"job_fairs": 1.0}, f"专场招聘会定于 {on.isoformat()}"
        if kind == "notify":
            told = await self.tell(
                state, step.action.message or definition.title, f"notify:{step.id}"
            )
            return {"officers_notified": float(told)}, f"已通知 {told} 名值班人员"
        raise CommandRejectedError(f"unknown action kind {kind!r} in step {step.id}")

    async def enrol(self, state: RunState, step_id: str) -> int:
        """Enrol the affected not yet enrolled by this run; returns how many were new."""
        regions, flagged_ids = await run(self.flagged_regions, state)
        candidates = await run(
            playbook_queries.enrolment_candidates,
            self.store,
            regions,
            state.disaster_id,
            flagged_ids,
        )
        already = {
            p["person_id"]
            for p in await run(playbook_queries.enrolled_persons, self.store, state.run_id)
        }
        today = self.now().date().isoformat()
        new = [c for c in candidates if c["person_id"] not in already]
        for person in new:
            payload: dict[str, Any] = {
                "person_id": person["person_id"],
                "playbook_run_id": state.run_id,
                "starts_on": today,
            }
            if state.disaster_id:
                payload["disaster_id"] = state.disaster_id
            await self.emit(
                state,
                step_id,
                "temporary_assistance.enrolled",
                person["region"],
                f"enrol:{person['person_id']}",
                payload,
                aggregate=person["person_id"],
                flush=False,
            )
        await self.writer.ensure_flushed()
        return len(new)

    def flagged_regions(self, state: RunState) -> tuple[list[str], list[str]]:
        """The regions of the run's area under an active flag of its disaster (the whole
        area when the run has no disaster), and the ids of the flag events."""
        assert state.area is not None
        under = {state.area} | {
            r.code
            for r in self.reference.counties()
            if state.area in [a.code for a in self.reference.ancestors(r.code)]
        }
        if not state.disaster_id:
            return sorted(under), []
        flagged, ids = playbook_queries.disaster_regions(self.store, state.disaster_id)
        return sorted(flagged & under) or sorted(under), ids

    async def pay_batch(
        self, state: RunState, step_id: str, amount: Decimal | None
    ) -> tuple[int, Decimal]:
        """Pay the one-time subsidy to everyone the run enrolled and has not paid yet."""
        enrolled = await run(playbook_queries.enrolled_persons, self.store, state.run_id)
        paid = await run(playbook_queries.paid_applications, self.store, state.run_id)
        each = amount or Decimal(0)
        today = self.now().date().isoformat()
        count = 0
        for person in enrolled:
            application = f"{state.run_id}:{step_id}:{person['person_id']}"[:64]
            if application in paid or each <= 0:
                continue
            await self.emit(state, step_id, "subsidy.paid", person["region"],
                            f"pay:{person['person_id']}", {
                "person_id": person["person_id"], "application_id": application,
                "subsidy": "temporary_assistance_one_time", "amount": str(each),
                "paid_on": today}, aggregate=person["person_id"], flush=False)  # fmt: skip
            count += 1
        await self.writer.ensure_flushed()
        return count, each * count

    async def follow_enrolment(self, state: RunState) -> None:
        """While a run is active: enrol new registrations that cite its disaster once the
        enrolment step is done, and end enrolments after the flag's clear plus grace."""
        if state.status != "active" or state.level is None:
            return
        definition = self.definition(state)
        enrol_steps = [
            s.id
            for s in definition.steps
            if s.action is not None and s.action.kind == "enrol_temporary_assistance"
        ]
        cleared = (
            await run(playbook_queries.disaster_cleared_at, self.store, state.disaster_id)
            if state.disaster_id
            else None
        )
        if cleared is None:  # still a disaster area: later registrations citing it join
            for step_id in enrol_steps:
                got = state.steps.get(step_id)
                if got is not None and got.status == "completed":
                    await self.enrol(state, step_id)
        if not enrol_steps or cleared is None:
            return
        grace = definition.variant(state.level).enrolment_grace or dt.timedelta(0)
        ends_at = cleared + grace
        if self.now() < ends_at:
            return
        enrolled = await run(playbook_queries.enrolled_persons, self.store, state.run_id)
        ended_on = ends_at.astimezone(SHANGHAI).date().isoformat()
        for person in enrolled:
            await self.emit(state, enrol_steps[0], "temporary_assistance.ended", person["region"],
                            f"end:{person['person_id']}", {
                "person_id": person["person_id"], "ended_on": ended_on,
                "reason": "灾区解除且过渡期届满 / flag cleared and grace period over"},
                aggregate=person["person_id"], flush=False)  # fmt: skip
        await self.writer.ensure_flushed()

    async def tell(self, state: RunState, text: str, tag: str) -> int:
        """Notify the officers of the run's area (province duty too) on their channels."""
        if self.dispatcher is None or state.area is None or state.level is None:
            return 0
        told = await self.dispatcher.announce(
            state.area, state.level, text, about=state.run_id, tag=tag, section="playbooks"
        )
        return len(told)

    async def tell_overdue(self, state: RunState, step_id: str) -> None:
        """An overdue step escalates: the area's duty officers and province duty hear."""
        definition = self.definition(state)
        step = definition.step(step_id)
        title = step.title if step is not None else step_id
        await self.tell(state, f"步骤逾期未完成 / step overdue: {title}", f"overdue:{step_id}")

    async def emit(
        self,
        state: RunState,
        step_id: str,
        event_type: str,
        region: str,
        subject: str,
        payload: dict[str, Any],
        *,
        aggregate: str | None = None,
        flush: bool = True,
    ) -> None:
        """Append one outcome event of an action; its id is derived from (run, step,
        subject), so issuing the action again after a crash is counted once."""
        self.writer.append(
            event_type,
            region=region,
            key=(aggregate or state.run_id)[:64],
            payload=payload,
            name=f"{state.run_id}|{step_id}|{subject}",
        )
        if flush:
            await self.writer.ensure_flushed()
