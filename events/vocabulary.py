"""Closed vocabularies of the event catalogue (English snake_case values).

Values are part of the wire format: never rename one, add a new value instead.
Display labels (zh/en) live in ``events.labels``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ALL_VOCABULARIES",
    "DifficultyReason",
    "DisasterKind",
    "EmploymentStatus",
    "ExitReason",
    "Gender",
    "LeadSource",
    "NotificationChannel",
    "PlacementKind",
    "RiskLevel",
    "ServiceKind",
    "Severity",
    "SubsidyKind",
    "TargetGroup",
    "VisitChannel",
]


class TargetGroup(StrEnum):
    """The four employment-assistance target groups of the provincial notice."""

    EMPLOYMENT_DIFFICULTY = "employment_difficulty"
    RURAL_SURPLUS_LABOUR = "rural_surplus_labour"
    LOW_INCOME_GRADUATE = "low_income_graduate"
    TEMPORARY_ASSISTANCE = "temporary_assistance"


class DifficultyReason(StrEnum):
    """Why a person is recognised as having employment difficulties."""

    DISABILITY = "disability"
    LOW_SKILL = "low_skill"
    FAMILY_CIRCUMSTANCES = "family_circumstances"
    LAND_LOSS = "land_loss"
    LONG_TERM_UNEMPLOYMENT = "long_term_unemployment"


class EmploymentStatus(StrEnum):
    """Employment status of a registered person."""

    UNEMPLOYED = "unemployed"
    EMPLOYED = "employed"
    FLEXIBLY_EMPLOYED = "flexibly_employed"
    SELF_EMPLOYED = "self_employed"
    LOST_WORK_DUE_TO_DISASTER = "lost_work_due_to_disaster"
    IN_TRAINING = "in_training"
    JOB_SEEKING_GRADUATE = "job_seeking_graduate"


class Gender(StrEnum):
    """Gender as recorded on the resident ID."""

    MALE = "male"
    FEMALE = "female"


class ExitReason(StrEnum):
    """Why a person leaves the assistance list (dynamic tracking and exit)."""

    EMPLOYED = "employed"
    NO_LONGER_ELIGIBLE = "no_longer_eligible"
    REFUSED_SERVICES = "refused_services"
    MOVED_AWAY = "moved_away"
    RETIRED = "retired"
    DECEASED = "deceased"
    OTHER = "other"


class VisitChannel(StrEnum):
    """How a case officer reached a person."""

    HOME_VISIT = "home_visit"
    OFFICE = "office"
    PHONE = "phone"
    ONLINE = "online"


class ServiceKind(StrEnum):
    """Basic employment services."""

    LEDGER = "ledger"
    CAREER_GUIDANCE = "career_guidance"
    JOB_REFERRAL = "job_referral"
    POLICY_BRIEFING = "policy_briefing"
    COUNSELLING = "counselling"


class SubsidyKind(StrEnum):
    """Special policy assistance: subsidies, allowances and guaranteed loans."""

    SOCIAL_INSURANCE = "social_insurance"
    POST = "post"
    START_UP = "start_up"
    START_UP_LOAN = "start_up_loan"
    VENUE_RENT = "venue_rent"
    TRAINING = "training"
    TRAINING_LIVING_ALLOWANCE = "training_living_allowance"
    JOB_SEARCH_ONE_TIME = "job_search_one_time"
    TEMPORARY_ASSISTANCE_ONE_TIME = "temporary_assistance_one_time"
    JOB_REFERRAL_SUBSIDY = "job_referral_subsidy"
    WELFARE_POST_PAY = "welfare_post_pay"


class PlacementKind(StrEnum):
    """How an assisted person came to be employed."""

    ENTERPRISE = "enterprise"
    FLEXIBLE = "flexible"
    SELF_EMPLOYMENT = "self_employment"
    WELFARE_POST = "welfare_post"
    INTERNSHIP = "internship"


class LeadSource(StrEnum):
    """Where an actively discovered lead came from ("service finds the person")."""

    CIVIL_AFFAIRS = "civil_affairs"
    DISABLED_PERSONS_FEDERATION = "disabled_persons_federation"
    RURAL_REVITALISATION = "rural_revitalisation"
    DISASTER_RESPONSE = "disaster_response"
    FIRST_INQUIRY = "first_inquiry"


class DisasterKind(StrEnum):
    """What makes an area a disaster area for temporary assistance."""

    EPIDEMIC = "epidemic"
    NATURAL_DISASTER = "natural_disaster"
    POLICY_ADJUSTMENT = "policy_adjustment"


class Severity(StrEnum):
    """Severity / level I (most severe, red) to IV (blue)."""

    I = "I"  # noqa: E741 - the official level names
    II = "II"
    III = "III"
    IV = "IV"


class RiskLevel(StrEnum):
    """Risk level of a region: normal, or IV blue · III yellow · II orange · I red."""

    NORMAL = "normal"
    IV = "IV"
    III = "III"
    II = "II"
    I = "I"  # noqa: E741


class NotificationChannel(StrEnum):
    """Channels alerts are delivered on."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    WECOM = "wecom"
    DINGTALK = "dingtalk"
    SMS = "sms"


ALL_VOCABULARIES: tuple[type[StrEnum], ...] = (
    TargetGroup,
    DifficultyReason,
    EmploymentStatus,
    Gender,
    ExitReason,
    VisitChannel,
    ServiceKind,
    SubsidyKind,
    PlacementKind,
    LeadSource,
    DisasterKind,
    Severity,
    RiskLevel,
    NotificationChannel,
)
