"""The app factory of the HTTP API: middlewares, error handlers and one router per resource."""

from __future__ import annotations

from fastapi import FastAPI

from eams.host import Host
from eams.http import (
    admin,
    alerts,
    case_commands,
    cases,
    console,
    dlq,
    evaluation,
    fraud,
    ingest,
    overview,
    payments,
    playbooks,
    quarantine,
    rules,
    silences,
    subsidies,
    vocabulary,
    welfare_posts,
)
from eams.http.auth import session_router
from eams.http.correlation import Correlation
from eams.http.disclosure import Disclosure
from eams.http.errors import register
from eams.http.limits import BodyLimit
from eams.http.openapi import document


def create_api(host: Host) -> FastAPI:
    """Build the FastAPI app over a running :class:`eams.host.Host` (building it reads only
    ``host.settings``: the routes use the other parts when they are called)."""
    api = FastAPI(
        title="EAMS API",
        description="Employment-assistance monitoring: event ingest and regional read models. "
        "就业援助监测系统：事件接入与区域读模型。",
        version="0.1.0",
    )
    # every answer passes the caller's disclosure policy (small cells): no route applies it
    api.add_middleware(Disclosure, host=host)
    api.add_middleware(BodyLimit, limit=host.settings.max_body_bytes)
    # outermost: every answer names its correlation id, a 413 included
    api.add_middleware(Correlation)
    register(api)  # the errors routes raise -> their status codes
    api.include_router(session_router(host))
    document(api)  # /openapi.json also names the routes' own 422 messages
    resources = (ingest, overview, alerts, silences, rules, playbooks, quarantine, console, dlq)
    money = (subsidies, payments, fraud, evaluation, welfare_posts)
    for resource in (*resources, cases, case_commands, *money, vocabulary, admin):
        api.include_router(resource.router(host))
    return api
