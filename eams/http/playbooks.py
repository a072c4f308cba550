"""The incident team's HTTP API: playbooks, their runs, steps and outcomes.

Every command names its actor and goes through the one writer of the runs
(:class:`playbooks.runner.PlaybookRunner`); a command that no longer fits the run (activate
after decline, complete a step twice, a step whose dependencies are open) answers 409 with
the reason, an unknown run or playbook 404 (:mod:`eams.http.errors`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from eams.host import Host
from eams.http.auth import scope_guard
from eams.http.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    UnavailableError,
)
from eams.http.scope import Scope
from events.clock import SHANGHAI
from events.severity import LEVEL_NAMES
from playbooks.aggregate import Activate, AddNote, AssignStep, Command, CompleteStep, Decline
from playbooks.errors import CommandRejectedError, UnknownPlaybookError
from playbooks.model import Playbook
from playbooks.runner import PlaybookRunner
from playbooks.runner import simulate as dry_run
from projections import playbook_queries
from projections.client import run

Actor = Field(default=None, min_length=1, max_length=64)


class ActorOnly(BaseModel):
    """Who does it."""

    actor: str | None = Actor


class DeclineBody(BaseModel):
    """Who declines, and why (required)."""

    actor: str | None = Actor
    reason: str = Field(min_length=1, max_length=500)


class AssignBody(BaseModel):
    """Who assigns the step to whom."""

    actor: str | None = Actor
    assignee: str = Field(min_length=1, max_length=64)


class CompleteBody(BaseModel):
    """Who completes (or approves) the step, with an optional note and evidence."""

    actor: str | None = Actor
    note: str | None = Field(default=None, max_length=500)
    evidence: str | None = Field(default=None, max_length=500)


class NoteBody(BaseModel):
    """A note on the run, or on one of its steps."""

    actor: str | None = Actor
    note: str = Field(min_length=1, max_length=500)
    step_id: str | None = Field(default=None, max_length=64)


class CloseBody(BaseModel):
    """Who closes; ``force`` with a ``reason`` closes with steps still open."""

    actor: str | None = Actor
    force: bool = False
    reason: str | None = Field(default=None, max_length=500)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _summary(p: Playbook) -> dict[str, Any]:
    """A playbook of the library as ``GET /api/playbooks`` lists it."""
    steps = [
        {
            "id": s.id,
            "title": s.title,
            "owner": s.owner,
            "action": s.action.kind if s.action else None,
        }
        for s in p.steps
    ]
    return {
        "id": p.id,
        "title": p.title,
        "activation": p.activation,
        "drill": p.drill,
        "trigger": _plain(p.trigger),
        "levels": list(p.variants),
        "steps": steps,
    }


def router(host: Host) -> APIRouter:
    """The playbook routes of one worker."""
    api = APIRouter(tags=["playbooks 应急预案"])
    scoped = scope_guard(host)

    def runner() -> PlaybookRunner:
        if host.playbooks is None or not host.playbooks.restored:
            raise UnavailableError("the playbook runtime is starting; try again shortly")
        return host.playbooks

    def existing(run_id: str, scope: Scope) -> None:
        state = runner().state(run_id)
        area = state.area or ""
        if state.status == "none" or not scope.sees(area):
            raise NotFoundError(f"no playbook run {run_id!r}; see GET /api/playbook-runs")

    async def command(run_id: str, cmd: Command, scope: Scope) -> dict[str, Any]:
        r = runner()
        existing(run_id, scope)
        # a refused command answers 409, events held for the broker 503 (eams.http.errors)
        decided = await r.command(run_id, cmd, scope=scope.who.regions)
        return {"run_id": run_id, "events": [t for t, _ in decided], "run": describe(run_id)}

    def describe(run_id: str) -> dict[str, Any]:
        r = runner()
        state = r.state(run_id)
        out: dict[str, Any] = _plain(state)
        try:
            definition = r.definition(state)
        except UnknownPlaybookError:
            return out
        out["title"] = definition.title
        out["steps"] = [
            _plain(state.steps.get(step.id))
            | {
                "title": step.title,
                "approval": step.approval,
                "depends_on": list(step.depends_on),
                "action": step.action.kind if step.action else None,
                "owner_title": definition.roles.get(step.owner, step.owner),
            }
            for step in definition.steps
            if step.id in state.steps
        ]
        return out

    @api.get("/api/playbooks", summary="The playbook library")
    async def library(scope: Scope = scoped("read:playbooks")) -> list[dict[str, Any]]:
        """Every playbook: id, title, trigger, activation mode and steps."""
        return [_summary(p) for p in runner().library]

    @api.get("/api/playbooks/{playbook_id}/simulate", summary="Dry run on current data")
    async def simulate(
        playbook_id: str,
        region: str,
        level: str = "II",
        scope: Scope = scoped("read:playbooks"),
    ) -> dict[str, Any]:
        """The steps and the actions the playbook would take for ``region`` now; changes
        nothing. An unknown playbook answers 404; one that cannot run for these inputs 422."""
        if level not in LEVEL_NAMES:
            *most, last = reversed(LEVEL_NAMES)  # I, II, III or IV
            raise InvalidRequestError(f"level must be {', '.join(most)} or {last}")
        scope.check(region)
        try:
            return await run(dry_run, runner(), playbook_id, region, level)
        except CommandRejectedError as exc:  # bad input of a dry run, not a conflict
            raise InvalidRequestError(str(exc)) from exc

    @api.get("/api/playbook-runs", summary="Runs (filter by status and region)")
    async def runs(
        status: str | None = None,
        region: str | None = None,
        scope: Scope = scoped("read:playbooks"),
    ) -> list[dict[str, Any]]:
        """Runs from the projection, newest first; ``status`` proposed | active | declined |
        closed."""
        regions = {region} if region else None
        try:
            rows = await run(playbook_queries.list_runs, host.store, status=status, regions=regions)
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from exc
        return scope.rows(rows, region="area")

    @api.get("/api/playbook-runs/board", summary="The playbook board: active runs and steps")
    async def board(scope: Scope = scoped("read:playbooks")) -> list[dict[str, Any]]:
        """Active runs with their steps, owners and overdue steps."""
        rows = await run(playbook_queries.board, host.store, dt.datetime.now(SHANGHAI))
        return scope.rows(rows, region="area")

    @api.get("/api/playbook-runs/{run_id}", summary="One run: state, steps, outcomes")
    async def show(run_id: str, scope: Scope = scoped("read:playbooks")) -> dict[str, Any]:
        """The run as its writer knows it, with the figures of its outcomes."""
        existing(run_id, scope)
        outcomes = await run(playbook_queries.run_outcomes, host.store, run_id)
        return describe(run_id) | {"outcomes": outcomes}

    @api.get("/api/playbook-runs/{run_id}/timeline", summary="A run's events and outcomes")
    async def timeline(
        run_id: str, scope: Scope = scoped("read:playbooks")
    ) -> list[dict[str, Any]]:
        """Every event of the run and the outcome events that name it, in order. It holds
        person-level events (enrolments, payments), so analysts may not read it."""
        if scope.who.suppress_small_cells:
            raise ForbiddenError(
                "a run's timeline lists persons; analysts see its figures on the run"
            )
        existing(run_id, scope)
        return await run(playbook_queries.run_timeline, host.store, run_id)

    @api.post("/api/playbook-runs/{run_id}/activate", summary="Activate a proposed run")
    async def activate(
        run_id: str, body: ActorOnly, scope: Scope = scoped("act:playbooks")
    ) -> dict[str, Any]:
        """Every step is assigned to its owner role with its deadline from now."""
        return await command(run_id, Activate(actor=scope.who.actor(body.actor)), scope)

    @api.post("/api/playbook-runs/{run_id}/decline", summary="Decline a proposed run")
    async def decline(
        run_id: str, body: DeclineBody, scope: Scope = scoped("act:playbooks")
    ) -> dict[str, Any]:
        """The run ends unstarted, with the reason."""
        return await command(run_id, Decline(scope.who.actor(body.actor), body.reason), scope)

    @api.post("/api/playbook-runs/{run_id}/steps/{step_id}/assign", summary="Assign a step")
    async def assign(
        run_id: str, step_id: str, body: AssignBody, scope: Scope = scoped("act:playbooks")
    ) -> dict[str, Any]:
        """Give an open step to a person (its deadline stays)."""
        return await command(
            run_id, AssignStep(step_id, body.assignee, scope.who.actor(body.actor)), scope
        )

    @api.post(
        "/api/playbook-runs/{run_id}/steps/{step_id}/complete",
        summary="Complete (or approve) a step",
    )
    async def complete(
        run_id: str, step_id: str, body: CompleteBody, scope: Scope = scoped("act:playbooks")
    ) -> dict[str, Any]:
        """Completing an approval step approves; its dependants' actions then run."""
        existing(run_id, scope)
        state = runner().state(run_id)
        step = runner().definition(state).step(step_id)
        if step is not None and step.action is not None:
            raise ConflictError(
                f"step {step_id!r} is done by EAMS itself ({step.action.kind}) once its "
                f"dependencies are complete: {', '.join(step.depends_on) or 'none'}",
            )
        actor = scope.who.actor(body.actor)
        cmd = CompleteStep(step_id, actor, note=body.note, evidence=body.evidence)
        return await command(run_id, cmd, scope)

    @api.post("/api/playbook-runs/{run_id}/notes", summary="Add a note")
    async def note(
        run_id: str, body: NoteBody, scope: Scope = scoped("act:playbooks")
    ) -> dict[str, Any]:
        """A note on the run or one of its steps."""
        return await command(
            run_id, AddNote(scope.who.actor(body.actor), body.note, body.step_id), scope
        )

    @api.post("/api/playbook-runs/{run_id}/close", summary="Close with the after-action report")
    async def close(
        run_id: str, body: CloseBody, scope: Scope = scoped("act:playbooks")
    ) -> dict[str, Any]:
        """Close an active run; the after-action report (people enrolled, placed, subsidies
        paid, step timings against deadlines) is recorded in ``playbook.closed``."""
        r = runner()
        existing(run_id, scope)
        actor = scope.who.actor(body.actor)
        report = await r.close(run_id, actor, force=body.force, reason=body.reason)
        return {"run_id": run_id, "report": report}

    @api.get("/api/temporary-assistance", summary="Temporary-assistance enrolment per region")
    async def enrolment(scope: Scope = scoped("read:overview")) -> list[dict[str, Any]]:
        """Enrolled now, in total and ended, per county and city ("<5" for analysts)."""
        today = dt.datetime.now(SHANGHAI).date()
        rows = await run(playbook_queries.enrolment_by_region, host.store, today)
        return scope.rows(rows)

    return api
