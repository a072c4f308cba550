"""The event catalogue: every event type, its payload model and its current version.

Event types are dotted and past tense (``layoff.reported``). Payload models live in
``payloads_people``, ``payloads_market``, ``payloads_response`` and ``payloads_audit``;
this module is the single registry the rest of EAMS reads:

- ``PAYLOADS``: event type → payload model of the current version
- ``CURRENT_VERSION``: event type → current schema version (older ones are upcast)
- ``PERSON_EVENT_TYPES``: event types whose payload identifies one person
- ``PII_FIELDS``: payload fields that must never leave the ingest boundary in clear
- ``LABELS``: zh/en display labels of event types and vocabulary values
"""

from __future__ import annotations

from events.labels import EVENT_TYPE_LABELS, LABELS, VALUE_LABELS, label
from events.payload_base import EventPayload, PersonPayload
from events.payloads_audit import DlqRevealed
from events.payloads_cases import (
    CaseAssigned,
    CaseHandedOver,
    HouseholdClearingOverdue,
    HouseholdMemberJoined,
    LeadAssigned,
    LeadDeclined,
    PersonFactsRecorded,
    PersonRead,
    PersonRecognitionRefused,
    PlanEnded,
    PlanRevised,
    ServiceRefused,
    VisitScheduled,
)
from events.payloads_evaluation import EvaluationFrozen
from events.payloads_market import (
    DisasterAreaCleared,
    DisasterAreaFlagged,
    DisasterAreaUpdated,
    EnterpriseHeadcountReported,
    LayoffReported,
    UnemploymentClaimFiled,
    VacancyReported,
)
from events.payloads_money import (
    ContributionReported,
    FraudConfirmed,
    FraudDismissed,
    FraudSuspected,
    PaymentBatchCreated,
    PaymentBatchExported,
    PaymentBatchReconciled,
    PaymentReported,
    SubsidyApplied,
    SubsidyApproved,
    SubsidyChecked,
    SubsidyEntitled,
    SubsidyPaid,
    SubsidyRecovered,
    SubsidyRecoveryCancelled,
    SubsidyRecoveryOrdered,
    SubsidyRejected,
    SubsidyStopped,
)
from events.payloads_people import (
    HouseholdZeroEmploymentCleared,
    HouseholdZeroEmploymentIdentified,
    LeadContacted,
    LeadConverted,
    LeadDiscovered,
    PersonExited,
    PersonRecognitionRevoked,
    PersonRecognized,
    PersonRegistered,
    PlacementRecorded,
    PlanAgreed,
    ReferralMade,
    ServiceDelivered,
    TrainingCompleted,
    TrainingEnrolled,
    VisitRecorded,
    WelfarePostAssigned,
    WelfarePostAttendanceRecorded,
    WelfarePostOpened,
    WelfarePostOverbooked,
    WelfarePostReleased,
    WelfarePostSeated,
    WelfarePostVacated,
)
from events.payloads_response import (
    AlertAcknowledged,
    AlertEscalated,
    AlertInhibited,
    AlertInhibitionEnded,
    AlertLevelChanged,
    AlertRaised,
    AlertResolved,
    AlertSilenced,
    AlertUnsilenced,
    JobFairScheduled,
    NotificationFailed,
    NotificationSent,
    PlaybookActivated,
    PlaybookClosed,
    PlaybookDeclined,
    PlaybookNoteAdded,
    PlaybookProposed,
    PlaybookStepAssigned,
    PlaybookStepCompleted,
    PlaybookStepOverdue,
    RiskLevelChanged,
    SilenceCreated,
    SilenceExpired,
    TemporaryAssistanceEnded,
    TemporaryAssistanceEnrolled,
)
from events.vocabulary import TargetGroup

__all__ = [
    "CATALOGUE_SECTIONS",
    "CURRENT_VERSION",
    "EVENT_TYPE_LABELS",
    "EventPayload",
    "LABELS",
    "PAYLOADS",
    "PERSON_EVENT_TYPES",
    "PII_FIELDS",
    "PersonPayload",
    "TARGET_GROUP_LABELS",
    "VALUE_LABELS",
    "label",
]

CATALOGUE_SECTIONS: dict[str, dict[str, type[EventPayload]]] = {
    "people": {
        "person.registered": PersonRegistered,
        "person.recognized": PersonRecognized,
        "person.recognition_revoked": PersonRecognitionRevoked,
        "person.facts_recorded": PersonFactsRecorded,
        "person.recognition_refused": PersonRecognitionRefused,
        "person.exited": PersonExited,
        "case.assigned": CaseAssigned,
        "case.handed_over": CaseHandedOver,
        "household.member_joined": HouseholdMemberJoined,
        "household.zero_employment_identified": HouseholdZeroEmploymentIdentified,
        "household.zero_employment_cleared": HouseholdZeroEmploymentCleared,
        "household.clearing_overdue": HouseholdClearingOverdue,
        "visit.recorded": VisitRecorded,
        "visit.scheduled": VisitScheduled,
        "service.delivered": ServiceDelivered,
        "service.refused": ServiceRefused,
        "plan.agreed": PlanAgreed,
        "plan.revised": PlanRevised,
        "plan.ended": PlanEnded,
        "referral.made": ReferralMade,
        "placement.recorded": PlacementRecorded,
        "training.enrolled": TrainingEnrolled,
        "training.completed": TrainingCompleted,
        "subsidy.applied": SubsidyApplied,
        "subsidy.checked": SubsidyChecked,
        "subsidy.approved": SubsidyApproved,
        "subsidy.rejected": SubsidyRejected,
        "subsidy.entitled": SubsidyEntitled,
        "subsidy.stopped": SubsidyStopped,
        "subsidy.recovery_ordered": SubsidyRecoveryOrdered,
        "subsidy.paid": SubsidyPaid,
        "subsidy.recovered": SubsidyRecovered,
        "subsidy.recovery_cancelled": SubsidyRecoveryCancelled,
        "payment_batch.created": PaymentBatchCreated,
        "payment_batch.exported": PaymentBatchExported,
        "payment_batch.reconciled": PaymentBatchReconciled,
        "evaluation.frozen": EvaluationFrozen,
        "subsidy.payment_reported": PaymentReported,
        "social_insurance.contribution_reported": ContributionReported,
        "welfare_post.opened": WelfarePostOpened,
        "welfare_post.assigned": WelfarePostAssigned,
        "welfare_post.vacated": WelfarePostVacated,
        "welfare_post.attendance_recorded": WelfarePostAttendanceRecorded,
        "welfare_post.seated": WelfarePostSeated,
        "welfare_post.overbooked": WelfarePostOverbooked,
        "welfare_post.released": WelfarePostReleased,
        "lead.discovered": LeadDiscovered,
        "lead.contacted": LeadContacted,
        "lead.converted": LeadConverted,
        "lead.assigned": LeadAssigned,
        "lead.declined": LeadDeclined,
    },
    "labour_market": {
        "layoff.reported": LayoffReported,
        "enterprise.headcount_reported": EnterpriseHeadcountReported,
        "unemployment_claim.filed": UnemploymentClaimFiled,
        "vacancy.reported": VacancyReported,
    },
    "emergencies": {
        "disaster_area.flagged": DisasterAreaFlagged,
        "disaster_area.updated": DisasterAreaUpdated,
        "disaster_area.cleared": DisasterAreaCleared,
    },
    "response": {
        "risk.level_changed": RiskLevelChanged,
        "alert.raised": AlertRaised,
        "alert.escalated": AlertEscalated,
        "alert.level_changed": AlertLevelChanged,
        "alert.inhibited": AlertInhibited,
        "alert.inhibition_ended": AlertInhibitionEnded,
        "alert.acknowledged": AlertAcknowledged,
        "alert.silenced": AlertSilenced,
        "alert.unsilenced": AlertUnsilenced,
        "silence.created": SilenceCreated,
        "silence.expired": SilenceExpired,
        "alert.resolved": AlertResolved,
        "notification.sent": NotificationSent,
        "notification.failed": NotificationFailed,
        "playbook.proposed": PlaybookProposed,
        "playbook.activated": PlaybookActivated,
        "playbook.declined": PlaybookDeclined,
        "playbook.step_assigned": PlaybookStepAssigned,
        "playbook.step_completed": PlaybookStepCompleted,
        "playbook.step_overdue": PlaybookStepOverdue,
        "playbook.note_added": PlaybookNoteAdded,
        "playbook.closed": PlaybookClosed,
        "job_fair.scheduled": JobFairScheduled,
        "temporary_assistance.enrolled": TemporaryAssistanceEnrolled,
        "temporary_assistance.ended": TemporaryAssistanceEnded,
        "fraud.suspected": FraudSuspected,
        "fraud.confirmed": FraudConfirmed,
        "fraud.dismissed": FraudDismissed,
    },
    "audit": {
        "audit.dlq_revealed": DlqRevealed,
        "audit.person_read": PersonRead,
    },
}

PAYLOADS: dict[str, type[EventPayload]] = {
    event_type: model
    for section in CATALOGUE_SECTIONS.values()
    for event_type, model in section.items()
}
"""Event type → payload model of its current version."""

CURRENT_VERSION: dict[str, int] = {t: model.VERSION for t, model in PAYLOADS.items()}
"""Event type → current schema version; older versions are upcast on read."""

PERSON_EVENT_TYPES: frozenset[str] = frozenset(
    t for t, model in PAYLOADS.items() if issubclass(model, PersonPayload)
)
"""Event types whose payload identifies one person (keyed by the person's pseudonym)."""

PII_FIELDS = ("national_id", "phone", "name")
"""Payload fields that never leave the ingest boundary in clear."""

TARGET_GROUP_LABELS: dict[str, dict[str, str]] = {
    g.value: VALUE_LABELS[g.value] for g in TargetGroup
}
"""zh/en labels of the four target groups."""
