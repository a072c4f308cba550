"""The values a playbook definition becomes: triggers, steps, variants, playbooks, the library.

A definition is one YAML file under ``playbooks/library/`` holding one ``playbook:``::

    playbook:
      id: natural_disaster                  # [a-z0-9][a-z0-9_.-]*, unique across the library
      title: 自然灾害临时就业援助 / Natural-disaster temporary employment assistance
      description: …                        # optional
      trigger:
        alert_level_at_least: III           # I (most severe, red) … IV (blue)
        indicators: [disaster_area]         # optional: alert indicators that may trigger it
        disaster_kinds: [natural_disaster]  # optional: events.vocabulary.DisasterKind values
        scope: {level: city}                # the run's area: county | city | province,
                                            # optionally within: "<region code>"
      activation: proposed                  # proposed (the incident team activates) |
                                            # automatic (only with drill: true)
      drill: false                          # optional, default false
      roles:                                # role name -> title
        incident_commander: 应急指挥 / Incident commander
        case_officer: 基层就业服务专员 / Case officer
        finance_approver: 财务审核 / Finance approver
      variants:                             # all four severity variants, I … IV
        I:   {welfare_posts: 300, subsidy_amount: 1500, enrolment_grace: 90d,
              job_fair_within: 3d, deadlines: {assess: 2h}}   # deadlines: per-step overrides
        II:  {…}
        III: {…}
        IV:  {…}
      steps:
        - id: assess
          title: 灾情研判 / Assess the situation
          owner: incident_commander         # a role above
          deadline: 6h                      # after activation (s, m, h, d, w, mo)
          checklist: [核对受灾名单 / Check the list]
        - id: enrol
          title: 登记临时援助对象 / Enrol the affected
          owner: case_officer
          deadline: 24h
          depends_on: [assess]
          action: {kind: enrol_temporary_assistance}
        - id: approve_subsidy
          title: 审批一次性补贴 / Approve the one-time subsidy
          owner: finance_approver
          deadline: 3d
          depends_on: [enrol]
          approval: true                    # a manual approval gate
        - id: pay_subsidy
          title: 发放一次性补贴 / Pay the one-time subsidy
          owner: finance_approver
          deadline: 5d
          depends_on: [approve_subsidy]
          action: {kind: subsidy_batch}
        - id: notify
          title: 通报 / Notify stakeholders
          owner: incident_commander
          deadline: 1h
          action: {kind: notify, roles: [case_officer], message: 预案已启动 / Plan activated}

Automated actions and the variant parameter each uses (``ACTION_PARAMETERS``):

- ``enrol_temporary_assistance``: enrol the affected as temporary-assistance persons; the
  enrolment ends when the disaster flag is cleared plus ``enrolment_grace``;
- ``open_welfare_posts``: open ``welfare_posts`` rural public-welfare posts in the area;
- ``subsidy_batch``: pay ``subsidy_amount`` yuan once to each eligible enrolled person; the
  step must depend (directly or through others) on a step with ``approval: true``;
- ``schedule_job_fair``: schedule a job fair within ``job_fair_within`` of activation;
- ``notify``: notify stakeholders (optional ``roles`` and ``message``).

``playbooks.reader`` builds these values from YAML and ``playbooks.lint`` checks files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from alerting.rule_model import SCOPE_LEVELS
from events.severity import LEVEL_NAMES, at_least
from playbooks.errors import PlaybooksError, UnknownPlaybookError

__all__ = [
    "ACTION_KINDS",
    "ACTION_PARAMETERS",
    "ACTIVATION_MODES",
    "SCOPE_LEVELS",
    "VARIANT_PARAMETERS",
    "Action",
    "Library",
    "Match",
    "Playbook",
    "RegionLookup",
    "Step",
    "Trigger",
    "TriggerScope",
    "Variant",
]

ACTIVATION_MODES: tuple[str, ...] = ("proposed", "automatic")
VARIANT_PARAMETERS: tuple[str, ...] = (
    "welfare_posts",
    "subsidy_amount",
    "enrolment_grace",
    "job_fair_within",
)
ACTION_PARAMETERS: dict[str, tuple[str, ...]] = {
    "enrol_temporary_assistance": ("enrolment_grace",),
    "open_welfare_posts": ("welfare_posts",),
    "subsidy_batch": ("subsidy_amount",),
    "schedule_job_fair": ("job_fair_within",),
    "notify": (),
}
"""Action kind → the variant parameters it uses (each variant must define them)."""
ACTION_KINDS: tuple[str, ...] = tuple(ACTION_PARAMETERS)


class RegionLookup(Protocol):
    """What matching needs of a region reference (``events.regions.RegionReference``)."""

    def get(self, code: str) -> Any:
        """Return the region (with ``code``, ``level``, ``parent``) or None."""

    def ancestors(self, code: str) -> list[Any]:
        """Return the ancestors of ``code``, nearest first."""


@dataclass(frozen=True, slots=True)
class TriggerScope:
    """The area a run covers: the region at ``level`` holding the alert's region.

    With ``within``, only areas equal to or under that region are covered.
    """

    level: str
    within: str | None = None

    def area_of(self, code: str, reference: RegionLookup) -> str | None:
        """Return the code at this scope's level containing region ``code``, else None.

        None when ``code`` is unknown, lies above the scope level (a city alert for a
        county-level playbook) or outside ``within``.
        """
        region = reference.get(code)
        if region is None:
            return None
        chain = [region, *reference.ancestors(code)]
        area = next((r for r in chain if r.level == self.level), None)
        if area is None:
            return None
        if self.within is not None and not any(
            r.code == self.within for r in [area, *reference.ancestors(area.code)]
        ):
            return None
        return str(area.code)


@dataclass(frozen=True, slots=True)
class Trigger:
    """When a playbook is proposed: every condition written must hold.

    - the alert level is ``alert_level_at_least`` or more severe (I is the most severe);
    - if ``indicators`` are listed, the alert judges one of them;
    - if ``disaster_kinds`` are listed, the region is flagged with one of them;
    - the alert's region lies in the ``scope``.
    """

    alert_level_at_least: str
    scope: TriggerScope
    indicators: tuple[str, ...] = ()
    disaster_kinds: tuple[str, ...] = ()

    def accepts(self, level: str, indicator: str | None, disaster_kinds: set[str]) -> bool:
        """Return whether level, indicator and disaster kinds satisfy this trigger."""
        if not at_least(level, self.alert_level_at_least):
            return False
        if self.indicators and indicator not in self.indicators:
            return False
        return not self.disaster_kinds or bool(set(self.disaster_kinds) & disaster_kinds)


@dataclass(frozen=True, slots=True)
class Action:
    """An automated action of a step (``kind`` one of ``ACTION_KINDS``)."""

    kind: str
    roles: tuple[str, ...] = ()
    """For ``notify``: the roles to notify (empty: every role of the playbook)."""
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One step: an owner role, a deadline after activation, dependencies, a checklist."""

    id: str
    title: str
    owner: str
    deadline: timedelta
    depends_on: tuple[str, ...] = ()
    checklist: tuple[str, ...] = ()
    action: Action | None = None
    approval: bool = False
    """A manual approval gate: completing it means approving."""
    description: str | None = None
    line: int = 1


@dataclass(frozen=True)
class Variant:
    """The parameters of one severity level (I … IV) of a playbook."""

    level: str
    welfare_posts: int | None = None
    subsidy_amount: Decimal | None = None
    """Yuan (CNY) per eligible enrolled person, paid once."""
    enrolment_grace: timedelta | None = None
    job_fair_within: timedelta | None = None
    deadlines: dict[str, timedelta] = field(default_factory=dict, hash=False)
    """Step id → deadline overriding the step's own at this level."""
    line: int = 1

    def parameter(self, name: str) -> Any:
        """Return the parameter ``name`` (one of ``VARIANT_PARAMETERS``), or None."""
        if name not in VARIANT_PARAMETERS:
            raise PlaybooksError(
                f"unknown variant parameter {name!r}; known: {', '.join(VARIANT_PARAMETERS)}"
            )
        return getattr(self, name)

    def enrolment_ends_on(self, cleared_on: date) -> date:
        """Return the last day of a temporary-assistance enrolment whose disaster flag was
        cleared on ``cleared_on``: the clearing day plus the grace period."""
        grace = self.enrolment_grace or timedelta(0)
        return cleared_on + timedelta(days=grace.days)

    def job_fair_by(self, activated_at: datetime) -> date:
        """Return the latest day a job fair of a run activated at ``activated_at`` is held."""
        within = self.job_fair_within or timedelta(0)
        return (activated_at + within).date()


@dataclass(frozen=True)
class Playbook:
    """One contingency playbook, as read from a definition file (``file`` and ``line``)."""

    id: str
    title: str
    trigger: Trigger
    activation: str
    roles: dict[str, str] = field(hash=False)
    variants: dict[str, Variant] = field(hash=False)
    """Level → variant, all of I … IV, ordered IV → I."""
    steps: tuple[Step, ...]
    drill: bool = False
    description: str | None = None
    file: str = "<memory>"
    line: int = 1

    def step(self, step_id: str) -> Step | None:
        """Return the step with ``step_id``, or None."""
        return next((s for s in self.steps if s.id == step_id), None)

    def variant(self, level: str) -> Variant:
        """Return the variant of severity ``level`` (I … IV)."""
        try:
            return self.variants[level]
        except KeyError:
            raise PlaybooksError(
                f"playbook {self.id!r} has no variant {level!r}; "
                f"use one of {', '.join(LEVEL_NAMES)}"
            ) from None

    def deadline(self, step_id: str, level: str) -> timedelta:
        """Return the deadline of a step after activation at ``level`` (override applied)."""
        step = self.step(step_id)
        if step is None:
            raise PlaybooksError(f"playbook {self.id!r} has no step {step_id!r}")
        return self.variant(level).deadlines.get(step_id, step.deadline)

    def prerequisites(self, step_id: str) -> set[str]:
        """Return the ids of every step ``step_id`` depends on, directly or transitively."""
        by_id = {s.id: s for s in self.steps}
        seen: set[str] = set()
        todo = list(by_id[step_id].depends_on) if step_id in by_id else []
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(by_id[current].depends_on if current in by_id else ())
        return seen

    def action_parameters(self, step_id: str, level: str) -> dict[str, Any]:
        """Return the variant parameters the step's action uses at ``level``."""
        step = self.step(step_id)
        if step is None or step.action is None:
            return {}
        variant = self.variant(level)
        return {name: variant.parameter(name) for name in ACTION_PARAMETERS[step.action.kind]}


@dataclass(frozen=True, slots=True)
class Match:
    """A playbook whose trigger an alert satisfies: run it at ``level`` for ``area``."""

    playbook: Playbook
    level: str
    """The severity variant to run: the alert's level (I most severe)."""
    area: str
    """The region code at the trigger's scope level that contains the alert's region."""


@dataclass(frozen=True, slots=True)
class Library:
    """The playbooks loaded from one directory, in file-name order."""

    playbooks: tuple[Playbook, ...]

    def __iter__(self) -> Iterator[Playbook]:
        return iter(self.playbooks)

    def __len__(self) -> int:
        return len(self.playbooks)

    @property
    def ids(self) -> tuple[str, ...]:
        """The ids of the playbooks, in library order."""
        return tuple(p.id for p in self.playbooks)

    def get(self, id: str) -> Playbook | None:
        """Return the playbook with ``id``, or None."""
        return next((p for p in self.playbooks if p.id == id), None)

    def require(self, id: str) -> Playbook:
        """Return the playbook with ``id``; raise UnknownPlaybookError naming the known ids."""
        playbook = self.get(id)
        if playbook is None:
            known = ", ".join(self.ids) or "(none)"
            raise UnknownPlaybookError(
                f"no playbook with id {id!r} in the library; known ids: {known}"
            )
        return playbook

    def matching(
        self,
        level: str,
        indicator: str | None,
        region: str,
        disaster_kinds: set[str],
        reference: RegionLookup,
    ) -> list[Match]:
        """Return the playbooks an alert triggers, in library order.

        ``level`` is the alert's level (I … IV), ``indicator`` the indicator it judges
        (None when it judges none), ``region`` its region code and ``disaster_kinds`` the
        kinds the region is flagged with (empty when none). A trigger listing indicators
        needs one of them; listing disaster kinds, needs one of them.
        """
        if level not in LEVEL_NAMES:
            raise PlaybooksError(
                f"unknown alert level {level!r}; use one of {', '.join(LEVEL_NAMES)}"
            )
        found: list[Match] = []
        for playbook in self.playbooks:
            trigger = playbook.trigger
            if not trigger.accepts(level, indicator, disaster_kinds):
                continue
            area = trigger.scope.area_of(region, reference)
            if area is not None:
                found.append(Match(playbook=playbook, level=level, area=area))
        return found
