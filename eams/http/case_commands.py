"""Case officers' commands over HTTP (issue 12): register, record facts, judge again,
assign and hand over, the assistance plan, visits, services, refusals, placements, exit,
and active discovery's leads; and ``explain``, which replays a person's recognition
decisions from the log.

Every route sends one ``person.<verb>`` command (:func:`eams.http.commands.submit`) to the
person's case (:mod:`cases.person`), keyed by the pseudonym; the actor and the regions come
from the session, never from the body (a body naming an ``actor`` is refused), and an
``Idempotency-Key`` makes a retry harmless. The answer is the outcome: accepted, the case's
version and the types of the events appended.

Registration and discovery take the clear national ID (and name, phone) an officer types
from the card. The route is the boundary: it checks the ID (GB 11643 checksum, birth
date), derives the pseudonym (:func:`events.privacy.pseudonym`) and the masks, reads gender
and birth date off the ID when the form does not give them, and sends only the pseudonym
and the masks: no clear ID, name or phone reaches the commands topic, the outcomes or the
log. Free text (notes, reasons) is scanned for IDs and mobile numbers and masked too.

A person outside the caller's regions is answered as if unknown (404, decided by the
command handler); registering or discovering in a region outside them is refused (403).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cases.case_state import PersonCase, apply_event
from cases.explain import explain
from cases.person_commands import (
    AgreePlan,
    Assign,
    EndPlan,
    Evaluate,
    Exit,
    HandOver,
    RecordFacts,
    RecordPlacement,
    RecordRefusal,
    RecordService,
    RecordVisit,
    Register,
    RevisePlan,
)
from cases.rules import RuleBook
from eams.auth import Principal
from eams.host import Host
from eams.http.auth import guard, scope_guard
from eams.http.commands import submit
from eams.http.errors import InvalidRequestError, NotFoundError
from eams.http.scope import Scope
from events.clock import today
from events.commands import Outcome
from events.envelope import Envelope
from events.errors import EventRejectedError
from events.identity import mask_name, mask_national_id, mask_phone, validate_national_id
from events.labels import label
from events.payload_base import Ident, IsoDate, Text
from events.payloads_cases import FactValues
from events.pii_scan import scrub
from events.privacy import pseudonym
from events.regions import RegionReference
from events.vocabulary import EmploymentStatus, Gender, LeadSource, TargetGroup, VisitChannel
from projections.client import run
from projections.person_log import person_log
from subsidies.replay import replay_money

__all__ = ["Identity", "explained", "identity", "router"]

PERSON_ID = r"^p_[0-9a-f]{32}$"
PersonId = Annotated[str, Path(pattern=PERSON_ID, description="the person's pseudonym")]
LeadId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Region = Annotated[str, Field(pattern=r"^[0-9A-Za-z]{2,12}$")]
_PHONE = r"^\+?[0-9][0-9 \-]{5,22}[0-9]$"


@dataclass(frozen=True)
class Identity:
    """What the route keeps of a clear national ID: the pseudonym, the masks, and what the
    ID itself says (gender: the 17th digit, odd for men; birth date: characters 7-14)."""

    person_id: str
    national_id_masked: str
    gender: Gender
    birth_date: IsoDate
    name_masked: str | None = None
    phone_masked: str | None = None


def identity(
    national_id: str,
    secret: bytes,
    *,
    name: str | None = None,
    phone: str | None = None,
    field: str = "national_id",
) -> Identity:
    """Check a clear resident ID and keep only its pseudonym and masks (raises
    :class:`InvalidRequestError` naming ``field`` and what was expected)."""
    try:
        text = validate_national_id(national_id, field)
    except EventRejectedError as exc:
        raise InvalidRequestError(
            f"{exc.field}: {exc.reason}; give the 18-character resident ID as printed on the "
            "card (17 digits and a check digit or X)"
        ) from None
    born = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    return Identity(
        person_id=pseudonym(text, secret),
        national_id_masked=mask_national_id(text),
        gender=Gender.MALE if int(text[16]) % 2 else Gender.FEMALE,
        birth_date=born,
        name_masked=mask_name(name) if name and name.strip() else None,
        phone_masked=mask_phone(phone) if phone else None,
    )


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterForm(_Form):
    """A registration as the officer fills it in, with the clear ID from the card (kept at
    the route: only its pseudonym and masks are sent)."""

    national_id: str = Field(min_length=1, max_length=32, description="居民身份证号 (clear)")
    name: str | None = Field(default=None, min_length=1, max_length=64, description="姓名")
    phone: str | None = Field(default=None, pattern=_PHONE, description="联系电话")
    region: Region = Field(description="the county (or city) registering the person")
    target_group: TargetGroup
    employment_status: EmploymentStatus = EmploymentStatus.UNEMPLOYED
    gender: Gender | None = Field(default=None, description="default: from the ID")
    birth_date: IsoDate | None = Field(default=None, description="default: from the ID")
    household_id: Ident | None = None
    facts: FactValues = FactValues()
    office: Region | None = None
    lead_id: Ident | None = None
    on: IsoDate | None = None


class DiscoverForm(_Form):
    """A possibly eligible person found in another department's data (the clear ID stays
    at the route)."""

    national_id: str | None = Field(default=None, min_length=1, max_length=32)
    name: str | None = Field(default=None, min_length=1, max_length=64)
    region: Region
    source: LeadSource
    lead_id: Ident | None = Field(default=None, description="default: from the record")
    suggested_target_group: TargetGroup | None = None
    facts: FactValues = FactValues()
    record_on: IsoDate | None = None


class LeadAssignForm(_Form):
    """Give the lead to the community's officer."""

    office: Region
    officer: Ident


class LeadContactForm(_Form):
    """The officer reached the lead."""

    channel: VisitChannel
    outcome: Text | None = None
    on: IsoDate | None = None


class LeadDeclineForm(_Form):
    """The lead declined, or needs no assistance."""

    reason: Text


def register_payload(form: RegisterForm, who: Identity) -> dict[str, Any]:
    """The ``person.register`` body of a form: the masks, never the clear values."""
    body = Register(
        region=form.region,
        target_group=form.target_group,
        employment_status=form.employment_status,
        national_id_masked=who.national_id_masked,
        name_masked=who.name_masked,
        phone_masked=who.phone_masked,
        gender=form.gender or who.gender,
        birth_date=form.birth_date or who.birth_date,
        household_id=form.household_id,
        facts=form.facts,
        office=form.office,
        lead_id=form.lead_id,
        on=form.on,
    )
    return body.model_dump(mode="json", exclude_none=True)


def lead_id_for(person_id: str, form: DiscoverForm) -> str:
    """A lead id stable for one record (person, source, day): a form sent twice is one lead."""
    day = (form.record_on or today()).isoformat()
    digest = hashlib.sha256(f"{person_id}|{form.source.value}|{day}".encode()).hexdigest()
    return f"L-{day.replace('-', '')}-{digest[:10]}"


def answer(outcome: Outcome) -> dict[str, Any]:
    """What a command route answers: the outcome, without the events' payloads."""
    return {
        "person_id": outcome.aggregate_id,
        "command_id": str(outcome.command_id),
        "accepted": outcome.accepted,
        "version": outcome.version,
        "duplicate": outcome.duplicate,
        "event_types": list(outcome.event_types),
    }


def _title(rules: RuleBook, ref: str | None, group: str, rule_id: str | None) -> dict[str, str]:
    """The zh and en title of a rule of a city's version (empty when it is unknown)."""
    if not ref or not rule_id:
        return {}
    try:
        spec = rules.version(ref).rule_set.groups.get(TargetGroup(group))
    except (KeyError, ValueError):
        return {}
    for rule in spec.rules if spec else ():
        if rule.id == rule_id:
            return {"zh": rule.title, "en": rule.title_en or rule.title}
    return {}


def _labels(key: str) -> dict[str, str]:
    return {"zh": label(key, "zh"), "en": label(key, "en")}


def explained(doc: dict[str, Any], rules: RuleBook, reference: RegionReference) -> dict[str, Any]:
    """An explanation's JSON with what people read beside the codes: the region's and
    city's names, each group's and event type's label, and each rule's title."""
    for key in ("region", "city"):
        found = reference.get(doc.get(key) or "")
        doc[f"{key}_name"] = {"zh": found.name, "en": found.name_en} if found else None
    for d in doc["decisions"]:
        d["group_label"] = _labels(d["group"])
        d["event_label"] = _labels(d["event_type"])
        d["rule_title"] = _title(
            rules, d["rule_set"], d["group"], d["replayed_rule"] or d["recorded_rule"]
        )
    for j in doc["judged_then"]:
        j["group_label"] = _labels(j["group"])
        j["rule_title"] = _title(rules, doc["rules_then"], j["group"], j["rule_id"])
    return doc


def _region_now(person_id: str, events: tuple[Envelope, ...]) -> str | None:
    """The person's region as the whole log read has it (the scope of the read)."""
    state = PersonCase(person_id=person_id)
    for event in events:
        state = apply_event(state, event)
    return state.region


#: The simple verbs: path under /api/persons/{person_id}, verb, body, summary.
VERBS: tuple[tuple[str, str, type[BaseModel], str], ...] = (
    ("facts", "record_facts", RecordFacts, "Record facts (the person is judged again)"),
    ("evaluate", "evaluate", Evaluate, "Judge the person again (a day, a rule change)"),
    ("assign", "assign", Assign, "Give an unowned case to an office and officer"),
    ("handover", "hand_over", HandOver, "Hand the case over to another office or officer"),
    ("plan", "agree_plan", AgreePlan, "Agree the assistance plan (援助协议)"),
    ("plan/revise", "revise_plan", RevisePlan, "Revise the plan: a new version"),
    ("plan/end", "end_plan", EndPlan, "End the plan"),
    ("visits", "record_visit", RecordVisit, "Record a visit or contact (走访)"),
    ("services", "record_service", RecordService, "Record a service delivered"),
    ("refusals", "record_refusal", RecordRefusal, "Record a refused service or job"),
    ("placements", "record_placement", RecordPlacement, "Record a placement (实现就业)"),
    ("exit", "exit", Exit, "Close the case (退出援助) with its reason"),
)


def router(host: Host) -> APIRouter:
    """The case officers' command routes, and explain, of one worker."""
    api = APIRouter(tags=["cases 援助台账"])
    need = guard(host)
    scoped = scope_guard(host)

    async def send(
        who: Principal, verb: str, person_id: str, payload: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        clean, _ = scrub(payload)  # free text typed by officers: IDs and mobiles masked
        outcome = await submit(
            host, who, f"person.{verb}", person_id, clean, actor=who.actor(None), request=request
        )
        return answer(outcome)

    def in_regions(who: Principal, region: str) -> None:
        Scope(who, host.primary).check(region)

    @api.post("/api/persons", status_code=201, summary="Register a person by their ID (登记)")
    async def register(
        form: RegisterForm, request: Request, who: Principal = need("act:cases")
    ) -> dict[str, Any]:
        """Register a person in ``region`` by the clear ``national_id`` (and ``name``,
        ``phone``): only the pseudonym and masks are sent. The caller's office owns the case
        (first-inquiry responsibility); the person is judged by their city's rules of the
        day and the first visit is scheduled. A person already registered: 409 naming the
        office that owns the case."""
        person = identity(form.national_id, host.secret, name=form.name, phone=form.phone)
        in_regions(who, form.region)
        done = await send(
            who, "register", person.person_id, register_payload(form, person), request
        )
        return done | {
            "national_id_masked": person.national_id_masked,
            "name_masked": person.name_masked,
            "phone_masked": person.phone_masked,
        }

    async def discover(
        who: Principal,
        person_id: str,
        form: DiscoverForm,
        masked: Identity | None,
        request: Request,
    ) -> dict[str, Any]:
        in_regions(who, form.region)
        lead_id = form.lead_id or lead_id_for(person_id, form)
        body = form.model_dump(mode="json", exclude_none=True, exclude={"national_id", "name"})
        body["lead_id"] = lead_id
        if masked is not None:
            body["national_id_masked"] = masked.national_id_masked
            body["name_masked"] = masked.name_masked
        return await send(who, "discover", person_id, body, request) | {"lead_id": lead_id}

    @api.post("/api/leads", status_code=201, summary="A lead found by ID (主动发现)")
    async def discover_by_id(
        form: DiscoverForm, request: Request, who: Principal = need("act:cases")
    ) -> dict[str, Any]:
        """A possibly eligible person found in another department's data, by the clear
        ``national_id`` (required here; only its pseudonym and masks are sent)."""
        if form.national_id is None:
            raise InvalidRequestError(
                "national_id: required here; POST /api/persons/{person_id}/leads takes a "
                "known person by pseudonym"
            )
        person = identity(form.national_id, host.secret, name=form.name)
        return await discover(who, person.person_id, form, person, request)

    @api.post(
        "/api/persons/{person_id}/leads", status_code=201, summary="A lead for a known person"
    )
    async def discover_known(
        person_id: PersonId,
        form: DiscoverForm,
        request: Request,
        who: Principal = need("act:cases"),
    ) -> dict[str, Any]:
        """A lead for the person of ``person_id``; a ``national_id`` given must be theirs."""
        person = None
        if form.national_id is not None:
            person = identity(form.national_id, host.secret, name=form.name)
            if person.person_id != person_id:
                raise InvalidRequestError(
                    f"national_id: is not the ID of {person_id}; leave it out, or POST "
                    "/api/leads to discover by ID"
                )
        return await discover(who, person_id, form, person, request)

    def lead_route(verb: str, form: type[_Form], summary: str) -> None:
        async def lead(
            person_id: PersonId,
            lead_id: LeadId,
            body: _Form,
            request: Request,
            who: Principal = need("act:cases"),
        ) -> dict[str, Any]:
            payload = {"lead_id": lead_id, **body.model_dump(mode="json", exclude_none=True)}
            return await send(who, f"{verb}_lead", person_id, payload, request)

        lead.__annotations__["body"] = form  # FastAPI reads the body's model from here
        lead.__doc__ = summary
        api.post(f"/api/persons/{{person_id}}/leads/{{lead_id}}/{verb}", summary=summary)(lead)

    lead_route("assign", LeadAssignForm, "Give a lead to the community's officer")
    lead_route("contact", LeadContactForm, "The lead was contacted")
    lead_route("decline", LeadDeclineForm, "The lead declined assistance")

    def verb_route(path: str, verb: str, model: type[BaseModel], summary: str) -> None:
        async def act(
            person_id: PersonId,
            body: BaseModel,
            request: Request,
            who: Principal = need("act:cases"),
        ) -> dict[str, Any]:
            payload = body.model_dump(mode="json", exclude_none=True)
            return await send(who, verb, person_id, payload, request)

        act.__annotations__["body"] = model  # FastAPI reads the body's model from here
        act.__doc__ = f"{summary}. Sends person.{verb}; the outcome names the events appended."
        api.post(f"/api/persons/{{person_id}}/{path}", summary=summary)(act)

    for path, verb, model, summary in VERBS:
        verb_route(path, verb, model, summary)

    @api.get(
        "/api/persons/{person_id}/explain",
        summary="Why the person was (not) recognised, replayed from the log (audited)",
    )
    async def explain_person(
        person_id: PersonId,
        purpose: Annotated[
            str, Query(min_length=2, max_length=500, description="why (recorded with the read)")
        ],
        as_of: Annotated[IsoDate | None, Query(description="default: today")] = None,
        scope: Scope = scoped("read:cases"),
    ) -> dict[str, Any]:
        """Every recognition decision up to ``as_of`` replayed with the facts known before
        it and the rule-set version it names (``reproduced``, or what differs), then the
        facts and the judgement as of that day; and every subsidy decision (``subsidies``:
        checks, approvals and recovery orders) replayed as of its day with the catalogue
        version it names. ``audit.person_read`` (view ``explain``) is
        appended before the answer; a person outside the caller's regions is 404 and
        nothing is recorded."""
        if len(purpose.strip()) < 2:
            raise InvalidRequestError(
                "purpose: say why you read this person's detail (2 to 500 characters, not "
                "only spaces): it is recorded with the read"
            )
        day = as_of or today()
        if day > today():
            raise InvalidRequestError(
                f"as_of: {day} is after today ({today()}); explain replays what was known, so "
                "give today or an earlier day"
            )
        log = await run(person_log, host.store, person_id)
        region = _region_now(person_id, log.events)
        if not log.events or not scope.sees(region):
            raise NotFoundError(f"no person {person_id!r}; see GET /api/cases")
        await host.record_audit(
            "audit.person_read",
            region or host.primary.root().code,
            "audit:person_read",
            scope.who.actor(None),
            {"subject": person_id, "purpose": purpose.strip(), "view": "explain"},
        )
        found = explain(person_id, log.events, host.recognition, host.reference, day)
        doc = explained(found.as_dict(), host.recognition, host.primary)
        money = replay_money(person_id, log.events, host.person_aggregate, host.money, day)
        doc["subsidies"] = money
        doc["reproduced"] = doc["reproduced"] and all(m["reproduced"] for m in money)
        doc["events_read"] = len(log.events)
        doc["truncated"] = log.truncated
        if log.truncated:
            doc["note"] = (
                f"only the first {len(log.events)} of {log.total} events were replayed; "
                "decisions after them are not shown"
            )
        return doc

    return api
