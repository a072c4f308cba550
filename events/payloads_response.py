"""Payloads of the response part of the catalogue: risk levels, alerts and their
notifications, contingency-playbook runs and the job fairs they schedule, temporary
assistance and fraud cases.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import AwareDatetime, Field, field_validator

from events.payload_base import (
    EventPayload,
    Ident,
    PersonPayload,
    Positive,
    Text,
    not_before,
)
from events.vocabulary import NotificationChannel, RiskLevel, Severity

__all__ = [
    "AlertAcknowledged",
    "AlertEscalated",
    "AlertInhibited",
    "AlertInhibitionEnded",
    "AlertLevelChanged",
    "AlertRaised",
    "AlertResolved",
    "AlertSilenced",
    "AlertUnsilenced",
    "SilenceCreated",
    "SilenceExpired",
    "JobFairScheduled",
    "NotificationFailed",
    "NotificationSent",
    "PlaybookActivated",
    "PlaybookClosed",
    "PlaybookDeclined",
    "PlaybookNoteAdded",
    "PlaybookProposed",
    "PlaybookStepAssigned",
    "PlaybookStepCompleted",
    "PlaybookStepOverdue",
    "RiskLevelChanged",
    "TemporaryAssistanceEnded",
    "TemporaryAssistanceEnrolled",
]


class RiskLevelChanged(EventPayload):
    """The risk level of the envelope's region changed."""

    previous_level: RiskLevel
    level: RiskLevel
    risk_index: float | None = None
    indicators: dict[str, float] = Field(default_factory=dict)
    period: Text | None = None

    def aggregate_key(self, region: str) -> str | None:
        """Risk is keyed per region."""
        return f"risk:{region}"


class _AlertPayload(EventPayload):
    AGGREGATE_FIELD = "alert_id"

    alert_id: Ident


class AlertRaised(_AlertPayload):
    """A threshold alert started firing."""

    rule: Ident
    level: Severity
    summary: Text
    indicator: Ident | None = None
    value: float | None = None
    threshold: float | None = None
    pending_since: AwareDatetime | None = None


class AlertLevelChanged(_AlertPayload):
    """A firing alert's level went up or down (the condition is the same alert)."""

    rule: Ident
    previous_level: Severity
    level: Severity
    value: float | None = None
    threshold: float | None = None


class AlertInhibited(_AlertPayload):
    """Notifications for this alert are held back: a firing alert on a parent region (or an
    active playbook for the area) already covers it."""

    by_alert_id: Ident | None = None
    by_playbook_run: Ident | None = None
    reason: Text | None = None


class AlertInhibitionEnded(_AlertPayload):
    """What inhibited this alert no longer holds (the parent alert resolved, or the playbook
    run closed); its notifications resume."""

    reason: Text | None = None


class AlertEscalated(_AlertPayload):
    """An unacknowledged alert was escalated to the next roster level or role."""

    to_role: Ident | None = None
    to_officer: Ident | None = None
    reason: Text | None = None


class AlertAcknowledged(_AlertPayload):
    """A duty officer acknowledged an alert."""

    note: Text | None = None


class AlertSilenced(_AlertPayload):
    """An alert was silenced until a given time."""

    until: AwareDatetime
    silence_id: Ident | None = None
    reason: Text | None = None


class AlertUnsilenced(_AlertPayload):
    """An alert's silence was ended before its time: notifications resume now."""

    reason: Text | None = None


class SilenceCreated(EventPayload):
    """A silence by matchers: alerts matching every given matcher are not notified between
    ``starts_at`` and ``ends_at`` (Alertmanager-style). ``region`` matches the region and
    everything under it."""

    AGGREGATE_FIELD = "silence_id"

    silence_id: Ident
    rule: Ident | None = None
    region: Ident | None = None
    level: Severity | None = None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: Text | None = None


class SilenceExpired(EventPayload):
    """A silence was ended early by hand."""

    AGGREGATE_FIELD = "silence_id"

    silence_id: Ident
    reason: Text | None = None


class AlertResolved(_AlertPayload):
    """An alert was resolved (automatically when the condition cleared, or by hand)."""

    automatic: bool = False
    resolution: Text | None = None


class _NotificationPayload(EventPayload):
    AGGREGATE_FIELD = "notification_id"

    notification_id: Ident
    alert_id: Ident | None = None
    channel: NotificationChannel
    recipient: Ident
    """Roster member or channel name; never a phone number or e-mail address."""
    attempt: Positive = 1


class NotificationSent(_NotificationPayload):
    """A notification was delivered on a channel."""


class NotificationFailed(_NotificationPayload):
    """A notification attempt failed."""

    error: Text
    retryable: bool = True
    next_attempt_at: AwareDatetime | None = None


class _PlaybookPayload(EventPayload):
    AGGREGATE_FIELD = "run_id"

    run_id: Ident


class PlaybookProposed(_PlaybookPayload):
    """A contingency playbook run was proposed (automatically, by its trigger)."""

    playbook_id: Ident
    trigger_alert_id: Ident | None = None
    disaster_id: Ident | None = None
    drill: bool = False
    level: Severity | None = None
    """The severity variant proposed (I most severe); alerts of this level or lower in the
    run's area are inhibited while the run is active."""
    area: Ident | None = None
    """The region code the run covers, at its trigger's scope level (a county, city or the
    province); the envelope's region is normally the same."""


class PlaybookActivated(_PlaybookPayload):
    """The incident team activated a proposed playbook run (or a drill activated itself)."""

    playbook_id: Ident
    drill: bool = False
    level: Severity | None = None


class PlaybookDeclined(_PlaybookPayload):
    """The incident team declined a proposed playbook run, saying why."""

    playbook_id: Ident
    reason: Text


class PlaybookStepAssigned(_PlaybookPayload):
    """A playbook step was assigned to an owner with a deadline."""

    step_id: Ident
    owner_role: Ident
    assignee: Ident | None = None
    due_at: AwareDatetime | None = None


class PlaybookStepCompleted(_PlaybookPayload):
    """A playbook step was completed (an approval step: approved by ``completed_by``)."""

    step_id: Ident
    outcome: Text | None = None
    completed_by: Ident | None = None
    """Who completed it; the envelope's actor too, kept here for the after-action report."""
    note: Text | None = None
    evidence: Text | None = None
    """Where the proof lives: a document number, file reference or link."""
    counts: dict[str, float] = Field(default_factory=dict)
    """Figures the step produced, e.g. ``{"people_enrolled": 120}``."""


class PlaybookStepOverdue(_PlaybookPayload):
    """A playbook step passed its deadline without completion."""

    step_id: Ident
    due_at: AwareDatetime


class PlaybookNoteAdded(_PlaybookPayload):
    """A member of the incident team added a note to a run (or to one of its steps)."""

    note: Text
    step_id: Ident | None = None


class PlaybookClosed(_PlaybookPayload):
    """A playbook run was closed, with its after-action report."""

    outcome: Text | None = None
    report: dict[str, Any] = Field(default_factory=dict)
    """The after-action report: people enrolled and placed, subsidies paid, step timings
    against their deadlines (``playbooks.aggregate.after_action_report``)."""
    forced: bool = False
    """Closed while steps were still open; ``reason`` says why."""
    reason: Text | None = None


class JobFairScheduled(EventPayload):
    """A job fair was scheduled in the envelope's region (by a playbook run or by hand)."""

    AGGREGATE_FIELD = "fair_id"

    fair_id: Ident
    title: Text
    scheduled_for: date
    venue: Text | None = None
    playbook_run_id: Ident | None = None


class TemporaryAssistanceEnrolled(PersonPayload):
    """A person hit by a disaster was enrolled for temporary assistance."""

    disaster_id: Ident | None = None
    playbook_run_id: Ident | None = None
    starts_on: date | None = None
    ends_on: date | None = None

    _ends_after_start = field_validator("ends_on")(not_before("starts_on"))


class TemporaryAssistanceEnded(PersonPayload):
    """Temporary assistance of a person ended."""

    ended_on: date | None = None
    reason: Text | None = None
