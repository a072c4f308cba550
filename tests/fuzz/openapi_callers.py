"""Who the OpenAPI fuzzing calls as, what each may do, and what came back.

:data:`NEEDS` is the permission of every operation, held to the app's routes by
:func:`app_permissions`; a :class:`Caller` decides from it (and ``eams.auth.PERMISSIONS``)
whether an answer may be a 2xx; :class:`Tally` keeps the figures and the findings of
``test_openapi_integration.py``.
"""

from __future__ import annotations

import inspect
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import orjson
import requests
from fastapi.routing import APIRoute
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from eams.auth import PERMISSIONS
from events.regions import load_reference
from streams.pipeline import in_regions

#: The permission each operation needs (``need(...)`` of its route); None: anyone. This is
#: the specification the test holds the app to: test_the_permission_table_is_the_apps fails
#: when a route is added or its permission changes, so the table cannot drift.
NEEDS: dict[str, str | None] = {
    "POST /api/session": None,
    "DELETE /api/session": None,
    "GET /api/me": "read:overview",
    "GET /api/vocabulary": "read:overview",
    "POST /api/ingest": "ingest",
    "GET /api/status": "read:overview",
    "GET /api/overview/cities": "read:overview",
    "GET /api/disaster-areas": "read:overview",
    "GET /api/projections/counts": "read:audit",
    "GET /api/indicators": "read:overview",
    "GET /api/alerts": "read:alerts",
    "GET /api/alerts/{alert_id}": "read:alerts",
    "GET /api/alerts/{alert_id}/timeline": "read:alerts",
    "POST /api/alerts/{alert_id}/ack": "act:alerts",
    "POST /api/alerts/{alert_id}/silence": "act:alerts",
    "POST /api/alerts/{alert_id}/unsilence": "act:alerts",
    "GET /api/silences": "read:alerts",
    "POST /api/silences": "act:alerts",
    "DELETE /api/silences/{silence_id}": "act:alerts",
    "GET /api/rules/backtest": "read:alerts",
    "GET /api/playbooks": "read:playbooks",
    "GET /api/playbooks/{playbook_id}/simulate": "read:playbooks",
    "GET /api/playbook-runs": "read:playbooks",
    "GET /api/playbook-runs/board": "read:playbooks",
    "GET /api/playbook-runs/{run_id}": "read:playbooks",
    "GET /api/playbook-runs/{run_id}/timeline": "read:playbooks",
    "POST /api/playbook-runs/{run_id}/activate": "act:playbooks",
    "POST /api/playbook-runs/{run_id}/decline": "act:playbooks",
    "POST /api/playbook-runs/{run_id}/steps/{step_id}/assign": "act:playbooks",
    "POST /api/playbook-runs/{run_id}/steps/{step_id}/complete": "act:playbooks",
    "POST /api/playbook-runs/{run_id}/notes": "act:playbooks",
    "POST /api/playbook-runs/{run_id}/close": "act:playbooks",
    "GET /api/temporary-assistance": "read:overview",
    "GET /api/quarantine": "read:audit",
    "POST /api/quarantine/retry": "admin",
    "GET /api/geo/shandong": "read:overview",
    "GET /api/regions/{code}/children": "read:overview",
    "GET /api/trends": "read:overview",
    "GET /api/stream": "read:overview",
    "POST /api/admin/rebuild": "admin",
    "GET /api/dlq": "read:audit",
    # case management (issue 12)
    "GET /api/audit/person-reads": "read:audit",
    "GET /api/cases": "read:cases",
    "GET /api/cases/clearing": "read:cases",
    "GET /api/cases/summary": "read:cases",
    "GET /api/cases/plan-reviews": "read:cases",
    "GET /api/cases/silent": "read:cases",
    "GET /api/cases/visits-due": "read:cases",
    "GET /api/households/zero-employment": "read:cases",
    "GET /api/leads": "read:cases",
    "GET /api/leads/funnel": "read:cases",
    "GET /api/persons/{person_id}": "read:cases",
    "GET /api/persons/{person_id}/explain": "read:cases",
    "GET /api/persons/{person_id}/timeline": "read:cases",
    "POST /api/leads": "act:cases",
    "POST /api/persons": "act:cases",
    "POST /api/persons/{person_id}/assign": "act:cases",
    "POST /api/persons/{person_id}/evaluate": "act:cases",
    "POST /api/persons/{person_id}/exit": "act:cases",
    "POST /api/persons/{person_id}/facts": "act:cases",
    "POST /api/persons/{person_id}/handover": "act:cases",
    "POST /api/persons/{person_id}/leads": "act:cases",
    "POST /api/persons/{person_id}/leads/{lead_id}/assign": "act:cases",
    "POST /api/persons/{person_id}/leads/{lead_id}/contact": "act:cases",
    "POST /api/persons/{person_id}/leads/{lead_id}/decline": "act:cases",
    "POST /api/persons/{person_id}/placements": "act:cases",
    "POST /api/persons/{person_id}/plan": "act:cases",
    "POST /api/persons/{person_id}/plan/end": "act:cases",
    "POST /api/persons/{person_id}/plan/revise": "act:cases",
    "POST /api/persons/{person_id}/refusals": "act:cases",
    "POST /api/persons/{person_id}/services": "act:cases",
    "POST /api/persons/{person_id}/visits": "act:cases",
    "POST /api/persons/{person_id}/subsidies": "act:cases",
    "POST /api/persons/{person_id}/subsidies/{application_id}/check": "act:cases",
    "POST /api/persons/{person_id}/subsidies/{application_id}/approve": "approve:subsidies",
    "POST /api/persons/{person_id}/subsidies/{application_id}/reject": "approve:subsidies",
    "POST /api/persons/{person_id}/subsidies/{application_id}/recoveries": "approve:subsidies",
    "GET /api/payment-batches": "read:money",
    "GET /api/payment-batches/{batch_id}": "read:money",
    "POST /api/payment-batches": "pay:subsidies",
    "POST /api/payment-batches/{batch_id}/export": "pay:subsidies",
    "POST /api/payment-batches/{batch_id}/return": "pay:subsidies",
    "GET /api/fraud-cases": "read:fraud",
    "GET /api/fraud-cases/summary": "read:fraud",
    "POST /api/fraud-cases/{case_id}/confirm": "act:fraud",
    "POST /api/fraud-cases/{case_id}/dismiss": "act:fraud",
    "GET /api/welfare-posts": "read:cases",
    "GET /api/welfare-posts/summary": "read:cases",
    "GET /api/welfare-posts/{post_id}": "read:cases",
    "POST /api/welfare-posts": "act:cases",
    "POST /api/welfare-posts/{post_id}/candidates": "act:cases",
    "POST /api/welfare-posts/{post_id}/attendance": "act:cases",
    "POST /api/welfare-posts/{post_id}/attendance/{month}/sheet": "act:cases",
    "POST /api/persons/{person_id}/welfare-post/vacate": "act:cases",
    "GET /api/evaluations": "read:evaluation",
    "GET /api/evaluations/live": "read:evaluation",
    "POST /api/evaluations": "freeze:evaluation",
    "GET /api/evaluations/{evaluation_id}": "read:evaluation",
    "GET /api/evaluations/{evaluation_id}/verify": "read:evaluation",
    "GET /api/evaluations/{evaluation_id}/export": "read:evaluation",
    "POST /api/persons/{person_id}/facts/correct": "act:cases",
    "POST /api/dlq/reveal": "admin",
    "POST /api/dlq/replay": "admin",
}
#: Refused by the route itself although the role has the permission.
REFUSED = {("analyst", "GET /api/playbook-runs/{run_id}/timeline")}  # persons on it
#: Not called with generated inputs (see the module docstring); each has its own test.
EXPLICIT = ("GET /api/stream", "DELETE /api/session", "POST /api/admin/rebuild")
#: Answers that are the same for every caller and hold every region by design.
NOT_REGION_DATA = ("GET /api/geo/shandong",)
#: What each role may write to the log in its own name (admin: anything).
COMMANDS = {
    "duty_officer": ("alert.", "silence."),
    "incident_team": ("playbook.",),
    # a case officer's commands on a person's case (and the reads of a person's detail)
    "case_officer": (
        "person.",
        "case.",
        "visit.",
        "service.",
        "plan.",
        "placement.",
        "lead.",
        "subsidy.applied",
        "subsidy.checked",
        # a correction of facts recalculates what was approved
        "subsidy.entitled",
        "subsidy.stopped",
        "subsidy.recovery_ordered",
        "audit.person_read",
    ),  # fmt: skip
    # approves or refuses (the months begun are entitled with the approval)
    "subsidy_approver": (
        "subsidy.approved",
        "subsidy.entitled",
        "subsidy.rejected",
        "subsidy.recovered",
        "audit.person_read",  # reads a person's detail (read:cases), audited
    ),
    # gathers what is due into batches, exports them, reconciles the bank's return
    "payment_officer": ("payment_batch.",),
    # reads persons' detail (audited) and decides the fraud rules' cases
    # and freezes a period's evaluation
    "auditor": ("audit.person_read", "fraud.confirmed", "fraud.dismissed", "evaluation.frozen"),
}


def app_permissions() -> dict[str, str | None]:
    """Operation -> the permission its route's ``need(...)`` dependency checks, read from
    the app that ``eams run`` serves (built over a stand-in host: no route runs)."""
    from eams.http.app import create_api
    from eams.settings import Settings

    app = create_api(SimpleNamespace(settings=Settings()))  # type: ignore[arg-type]
    found: dict[str, str | None] = {}
    for route in _api_routes(app.routes):
        if not route.include_in_schema:
            continue
        needs = [
            inspect.getclosurevars(dep.call).nonlocals.get("permission")
            for dep in route.dependant.dependencies
            if dep.call is not None
        ]
        for method in route.methods or ():
            found[f"{method} {route.path}"] = next((p for p in needs if p), None)
    documented = {f"{m.upper()} {p}" for p, ops in app.openapi()["paths"].items() for m in ops}
    assert set(found) == documented, "every documented operation has one route"
    return found


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """The app's routes, those of included routers too (none has a prefix)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)
        elif isinstance(route, APIRoute):
            yield route


@dataclass
class Caller:
    """One identity the generated requests are sent as."""

    name: str
    role: str | None  # None: no credentials
    regions: tuple[str, ...] = ()
    kind: str = "user"  # user | apikey | anonymous
    headers: dict[str, str] = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)

    def may(self, operation: str) -> bool:
        """Whether this caller's role allows ``operation`` (as eams.auth.Principal.may)."""
        need = NEEDS[operation]
        if need is None:
            return True
        if self.kind == "anonymous":
            return False
        if self.kind == "apikey":
            return need == "ingest"
        if (self.role, operation) in REFUSED:
            return False
        return self.role == "admin" or need in PERMISSIONS.get(self.role or "", frozenset())


@dataclass
class Tally:
    """What was sent and what came back, for the figures."""

    examples: Counter[str] = field(default_factory=Counter)  # per operation
    calls: Counter[str] = field(default_factory=Counter)  # per caller
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)  # caller, status
    #: (what, operation) -> callers it happened to, and the first request that did it
    findings: dict[tuple[str, str], tuple[set[str], str]] = field(default_factory=dict)

    def finding(self, kind: str, operation: str, caller: str, example: str) -> None:
        callers, _ = self.findings.setdefault((kind, operation), (set(), example))
        callers.add(caller)

    def report(self) -> str:
        return "\n\n".join(
            f"{kind}: {operation} as {', '.join(sorted(callers))}\n  {example}"
            for (kind, operation), (callers, example) in sorted(self.findings.items())
        )

    def summary(self) -> str:
        per_caller = ", ".join(f"{c} {n}" for c, n in sorted(self.calls.items()))
        return (
            f"{len(self.examples)} operations, {sum(self.examples.values())} generated "
            f"requests, {sum(self.calls.values())} calls ({per_caller}); "
            f"5xx: {sum(n for (_, code), n in self.statuses.items() if code >= 500)}; statuses: "
            + json.dumps(
                {f"{c} {s}": n for (c, s), n in sorted(self.statuses.items())}, ensure_ascii=False
            )
        )


REFERENCE = load_reference("shandong")


def regions_outside(doc: Any, regions: tuple[str, ...]) -> set[str]:
    """Region codes in an answer (keys or values) that lie outside ``regions``; the
    province's own code names no data of another city."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif (
            isinstance(value, str)
            and _is_region(value)
            and not in_regions(regions, value, REFERENCE)
        ):
            found.add(value)

    walk(doc)
    return found


def _is_region(value: str) -> bool:
    """A region code of the reference other than the province's."""
    return (
        len(value) == 6
        and value.isdigit()
        and REFERENCE.get(value) is not None
        and (value != REFERENCE.root().code)
    )


def judge(tally: Tally, caller: Caller, case: Any, operation: str) -> None:
    """Send schemathesis's ``case`` as ``caller`` and hold the answer to the rules of
    test_openapi_integration.py; what breaks one is recorded in ``tally`` (every operation
    still runs; the test fails at the end)."""
    response = case.call(session=caller.session, headers=caller.headers, timeout=60)
    caller.session.cookies.clear()
    status = response.status_code
    tally.calls[caller.name] += 1
    tally.statuses[(caller.name, status)] += 1

    def found(kind: str, detail: str = "") -> None:
        text = response.content[:400].decode(errors="replace")
        tally.finding(kind, operation, caller.name,
                      f"{status} {text}\n{case.as_curl_command()}\n{detail}".rstrip())  # fmt: skip

    if status >= 500:
        return found("5xx")
    if operation not in NEEDS:  # a method the path does not have (coverage phase)
        return None if status == 405 else found("not 405 for an undefined method")
    allowed = caller.may(operation)
    if not allowed and 200 <= status < 300:
        return found("2xx for a forbidden call")
    anonymous = caller.kind == "anonymous" and NEEDS[operation] is not None
    if anonymous and status != 401 and not unparsable_body(status, response):
        return found("not 401 without credentials")
    if not allowed or status in (401, 403):
        return None
    try:
        case.validate_response(response, checks=CHECKS, headers=caller.headers)
    except FailureGroup as exc:
        return found("does not conform to the schema", str(exc))
    if caller.regions and 200 <= status < 300 and operation not in NOT_REGION_DATA:
        outside = regions_outside(orjson.loads(response.content or b"null"), caller.regions)
        if outside:
            return found("region outside the caller's", f"shown {sorted(outside)}")
    return None


#: schemathesis's checks of an answer to a caller who may call the operation.
CHECKS = [response_schema_conformance, content_type_conformance, negative_data_rejection]


def unparsable_body(status: int, response: Any) -> bool:
    """FastAPI reads a JSON body before the route's dependencies run: a body that is not
    JSON is answered 400 or 422 ``json_invalid`` even without credentials (nothing is
    revealed)."""
    if status not in (400, 422):
        return False
    detail = orjson.loads(response.content).get("detail")
    if status == 400:
        return bool(detail == "There was an error parsing the body")
    return isinstance(detail, list) and all(d.get("type") == "json_invalid" for d in detail)
