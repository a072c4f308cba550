"""Fixtures for the events tests: region references and raw-event factories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from events.envelope import new_event_id
from events.identity import make_national_id, make_uscc
from events.regions import RegionReference, load_reference

NATIONAL_ID = make_national_id("370102", date(1990, 1, 2), 123)
USCC = make_uscc("91370100MA3C00001")
PERSON_ID = "p_" + "0" * 32

# A minimal valid current-version payload for every event type of the catalogue.
MINIMAL_PAYLOADS: dict[str, dict[str, Any]] = {
    "person.registered": {
        "national_id": NATIONAL_ID,
        "target_group": "employment_difficulty",
        "employment_status": "unemployed",
    },
    "person.recognized": {"person_id": PERSON_ID, "target_group": "rural_surplus_labour"},
    "person.recognition_revoked": {
        "person_id": PERSON_ID,
        "target_group": "low_income_graduate",
        "reason": "income above threshold",
    },
    "person.exited": {"person_id": PERSON_ID, "reason": "employed"},
    "person.facts_recorded": {
        "person_id": PERSON_ID,
        "facts": {"disability": True},
        "observed_on": "2024-03-01",
        "source": "officer",
    },
    "person.recognition_refused": {
        "person_id": PERSON_ID,
        "target_group": "employment_difficulty",
        "rule_set": "370100@1",
        "evaluated_on": "2024-03-01",
    },
    "case.assigned": {"person_id": PERSON_ID, "office": "370102", "officer": "officer-1"},
    "case.handed_over": {
        "person_id": PERSON_ID,
        "from_office": "370102",
        "from_officer": "officer-1",
        "office": "370103",
        "officer": "officer-2",
        "reason": "moved to Shizhong",
    },
    "household.member_joined": {"household_id": "h1", "person_id": PERSON_ID, "working_age": True},
    "household.clearing_overdue": {
        "household_id": "h1",
        "deadline": "2024-03-01",
        "escalated_to": "370102",
    },
    "service.refused": {
        "person_id": PERSON_ID,
        "service": "job_referral",
        "refused_on": "2024-03-01",
    },
    "visit.scheduled": {
        "person_id": PERSON_ID,
        "due_on": "2024-04-01",
        "interval_days": 30,
        "basis": "default",
    },
    "plan.revised": {"person_id": PERSON_ID, "plan_id": "plan-1", "version": 2},
    "plan.ended": {"person_id": PERSON_ID, "plan_id": "plan-1", "reason": "goals met"},
    "lead.assigned": {
        "person_id": PERSON_ID,
        "lead_id": "l1",
        "office": "370102",
        "officer": "officer-1",
    },
    "lead.declined": {"person_id": PERSON_ID, "lead_id": "l1", "reason": "already employed"},
    "audit.person_read": {"subject": PERSON_ID, "purpose": "regular visit", "view": "case"},
    "household.zero_employment_identified": {"household_id": "h1", "members_of_working_age": 2},
    "household.zero_employment_cleared": {"household_id": "h1"},
    "visit.recorded": {"person_id": PERSON_ID, "channel": "home_visit", "visited_on": "2024-03-01"},
    "service.delivered": {"person_id": PERSON_ID, "service": "career_guidance"},
    "plan.agreed": {"person_id": PERSON_ID, "plan_id": "plan-1", "services": ["job_referral"]},
    "referral.made": {"person_id": PERSON_ID, "referral_id": "r1"},
    "placement.recorded": {
        "person_id": PERSON_ID,
        "placement": "welfare_post",
        "started_on": "2024-04-01",
    },
    "training.enrolled": {"person_id": PERSON_ID, "course_id": "c1"},
    "training.completed": {"person_id": PERSON_ID, "course_id": "c1"},
    "subsidy.applied": {"person_id": PERSON_ID, "application_id": "a1", "subsidy": "post"},
    "subsidy.checked": {
        "person_id": PERSON_ID,
        "application_id": "a1",
        "subsidy": "post",
        "policy": "post",
        "version": "370100@2",
        "eligible": True,
        "first_month": "2026-03",
        "checked_on": "2026-03-02",
    },
    "subsidy.approved": {"person_id": PERSON_ID, "application_id": "a1", "subsidy": "post"},
    "subsidy.rejected": {
        "person_id": PERSON_ID,
        "application_id": "a1",
        "subsidy": "post",
        "reason": "材料不全",
        "rejected_on": "2026-03-02",
    },
    "subsidy.entitled": {
        "person_id": PERSON_ID,
        "application_id": "a1",
        "subsidy": "post",
        "amount": "500.00",
        "month": "2026-03",
    },
    "subsidy.stopped": {
        "person_id": PERSON_ID,
        "application_id": "a1",
        "subsidy": "post",
        "reason": "不再符合条件",
        "from_month": "2026-04",
    },
    "subsidy.recovery_ordered": {
        "person_id": PERSON_ID,
        "application_id": "a1",
        "subsidy": "post",
        "order_id": "ro-1",
        "amount": "500.00",
        "reason": "事实更正",
        "ordered_on": "2026-04-02",
    },
    "subsidy.recovery_cancelled": {
        "person_id": PERSON_ID,
        "application_id": "a1",
        "subsidy": "post",
        "order_id": "ro-1",
        "amount": "200.00",
        "reason": "再次更正",
        "cancelled_on": "2026-05-02",
    },
    "subsidy.paid": {
        "person_id": PERSON_ID,
        "application_id": "a1",
        "subsidy": "post",
        "amount": "1500.00",
    },
    "subsidy.recovered": {
        "person_id": PERSON_ID,
        "application_id": "a1",
        "subsidy": "post",
        "amount": 1500,
        "reason": "duplicate claim",
    },
    "payment_batch.created": {
        "batch_id": "pb-371302-2026-03-1",
        "month": "2026-03",
        "lines": [
            {
                "line": 1,
                "person_id": PERSON_ID,
                "application_id": "a1",
                "subsidy": "post",
                "month": "2026-03",
                "amount": "600.00",
            }
        ],
        "count": 1,
        "total": "600.00",
    },  # fmt: skip
    "payment_batch.exported": {
        "batch_id": "pb-371302-2026-03-1",
        "file_sha256": "a" * 64,
        "count": 1,
        "total": "600",
    },  # fmt: skip
    "payment_batch.reconciled": {
        "batch_id": "pb-371302-2026-03-1",
        "file_sha256": "a" * 64,
        "results": [
            {
                "line": 1,
                "outcome": "paid",
                "amount": "600.00",
                "person_id": PERSON_ID,
                "application_id": "a1",
                "subsidy": "post",
                "month": "2026-03",
            }
        ],
        "paid": 1,
        "failed": 0,
        "paid_total": "600.00",
        "complete": True,
    },  # fmt: skip
    "evaluation.frozen": {
        "evaluation_id": "ev-shandong-assistance-2026-Q1",
        "table": "shandong-assistance@abc",
        "title": "绩效评价",
        "period": "2026-Q1",
        "start": "2026-01-01",
        "end": "2026-03-31",
        "as_of": "2026-04-02T09:00:00+08:00",
        "scores": [
            {
                "region": "371302",
                "level": "county",
                "indicators": {
                    "coverage": {
                        "numerator": "2",
                        "denominator": "3",
                        "value": "0.6667",
                        "score": "14.04",
                    }
                },
                "total": "70.18",
                "rank": 1,
            }
        ],
    },  # fmt: skip
    "subsidy.payment_reported": {
        "person_id": PERSON_ID,
        "subsidy": "post",
        "month": "2026年3月",
        "amount": "600",
    },  # fmt: skip
    "social_insurance.contribution_reported": {"person_id": PERSON_ID, "month": "202603"},
    "welfare_post.opened": {"post_id": "wp1", "title": "village cleaner"},
    "welfare_post.assigned": {"person_id": PERSON_ID, "post_id": "wp1"},
    "welfare_post.vacated": {"person_id": PERSON_ID, "post_id": "wp1"},
    "welfare_post.attendance_recorded": {
        "person_id": PERSON_ID,
        "post_id": "wp1",
        "application_id": "a1",
        "month": "2024-02",
        "days_present": 20,
        "days_required": 22,
        "amount": "1000.00",
    },
    "welfare_post.seated": {"post_id": "wp1", "person_id": PERSON_ID, "seated": 1},
    "welfare_post.overbooked": {"post_id": "wp1", "person_id": PERSON_ID, "slots": 1},
    "welfare_post.released": {"post_id": "wp1", "person_id": PERSON_ID, "seated": 0},
    "lead.discovered": {"national_id": NATIONAL_ID, "lead_id": "l1", "source": "civil_affairs"},
    "lead.contacted": {"person_id": PERSON_ID, "lead_id": "l1", "channel": "phone"},
    "lead.converted": {
        "person_id": PERSON_ID,
        "lead_id": "l1",
        "target_group": "employment_difficulty",
    },
    "layoff.reported": {"enterprise_uscc": USCC, "headcount_before": 500, "laid_off": 220},
    "enterprise.headcount_reported": {
        "uscc": USCC,
        "period": "2024-02",
        "base_headcount": 300,
        "current_headcount": 280,
    },
    "unemployment_claim.filed": {"person_id": PERSON_ID},
    "vacancy.reported": {"vacancy_id": "v1", "openings": 3},
    "disaster_area.flagged": {
        "disaster_id": "d1",
        "kind": "natural_disaster",
        "severity": "II",
        "title": "flood",
        "regions": ["370102", "370300"],
        "period_start": "2024-07-01",
    },
    "disaster_area.updated": {
        "disaster_id": "d1",
        "kind": "natural_disaster",
        "severity": "I",
        "title": "flood",
        "regions": ["370102"],
        "period_start": "2024-07-01",
        "period_end": "2024-08-01",
    },
    "disaster_area.cleared": {"disaster_id": "d1", "period_end": "2024-08-01"},
    "risk.level_changed": {"previous_level": "normal", "level": "IV", "risk_index": 0.42},
    "alert.raised": {"alert_id": "al1", "rule": "layoff_200", "level": "III", "summary": "x"},
    "alert.escalated": {"alert_id": "al1", "to_role": "city_duty"},
    "alert.level_changed": {
        "alert_id": "al1",
        "rule": "r1",
        "previous_level": "III",
        "level": "II",
    },
    "alert.inhibited": {"alert_id": "al1", "by_alert_id": "al0"},
    "alert.inhibition_ended": {"alert_id": "al1", "reason": "parent resolved"},
    "alert.acknowledged": {"alert_id": "al1"},
    "alert.silenced": {"alert_id": "al1", "until": "2024-03-02T00:00:00+08:00"},
    "alert.unsilenced": {"alert_id": "al1", "reason": "处置完毕 handled"},
    "silence.created": {
        "silence_id": "s1",
        "region": "371300",
        "starts_at": "2024-03-01T00:00:00+08:00",
        "ends_at": "2024-03-02T00:00:00+08:00",
    },
    "silence.expired": {"silence_id": "s1"},
    "alert.resolved": {"alert_id": "al1", "automatic": True},
    "notification.sent": {"notification_id": "n1", "channel": "wecom", "recipient": "duty-jn"},
    "notification.failed": {
        "notification_id": "n1",
        "channel": "sms",
        "recipient": "duty-jn",
        "error": "timeout",
    },
    "playbook.proposed": {"run_id": "run1", "playbook_id": "flood"},
    "playbook.activated": {"run_id": "run1", "playbook_id": "flood"},
    "playbook.declined": {"run_id": "run1", "playbook_id": "flood", "reason": "false alarm"},
    "playbook.step_assigned": {"run_id": "run1", "step_id": "s1", "owner_role": "incident"},
    "playbook.step_completed": {"run_id": "run1", "step_id": "s1"},
    "playbook.step_overdue": {
        "run_id": "run1",
        "step_id": "s1",
        "due_at": "2024-03-01T12:00:00+08:00",
    },
    "playbook.note_added": {"run_id": "run1", "note": "roads to the site reopened"},
    "playbook.closed": {"run_id": "run1"},
    "audit.dlq_revealed": {"entries": ["dl_0"], "count": 1, "reason": "fix a mapping"},
    "job_fair.scheduled": {
        "fair_id": "jf1",
        "title": "flood relief fair",
        "scheduled_for": "2024-07-10",
    },
    "temporary_assistance.enrolled": {"person_id": PERSON_ID, "disaster_id": "d1"},
    "temporary_assistance.ended": {"person_id": PERSON_ID},
    "fraud.suspected": {"case_id": "f1", "rule": "duplicate_payment", "person_id": PERSON_ID},
    "fraud.confirmed": {"case_id": "f1", "amount_to_recover": "1500"},
    "fraud.dismissed": {"case_id": "f1"},
}

RawEvent = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def shandong() -> RegionReference:
    """The Shandong region reference."""
    return load_reference("shandong")


@pytest.fixture(scope="session")
def us() -> RegionReference:
    """The US (FIPS) region reference."""
    return load_reference("us")


@pytest.fixture
def raw_event() -> RawEvent:
    """Factory of raw event dicts: ``raw_event("layoff.reported", payload=…, region=…)``."""

    def build(event_type: str = "layoff.reported", **overrides: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event_id": str(new_event_id()),
            "event_type": event_type,
            "schema_version": 2 if event_type == "layoff.reported" else 1,
            "occurred_at": "2024-03-01T09:00:00+08:00",
            "recorded_at": "2024-03-02T10:00:00+08:00",
            "region": "370102",
            "source": "test",
            "actor": "officer-1",
            "payload": dict(MINIMAL_PAYLOADS[event_type]),
        }
        event.update(overrides)
        return event

    return build


@pytest.fixture(scope="session")
def minimal_payloads() -> dict[str, dict[str, Any]]:
    """A minimal valid current-version payload per event type."""
    return MINIMAL_PAYLOADS


@pytest.fixture(scope="session")
def national_id() -> str:
    """A valid resident ID (Jinan Lixia district, born 1990-01-02)."""
    return NATIONAL_ID


@pytest.fixture(scope="session")
def uscc() -> str:
    """A valid unified social credit code."""
    return USCC
