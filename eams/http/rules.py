"""The alert rules over HTTP: replay history through the running evaluator's rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter

from alerting.backtest import run_backtest
from eams.host import Host
from eams.http.auth import scope_guard
from eams.http.errors import InvalidRequestError, UnavailableError
from eams.http.scope import Scope
from projections.client import run


def router(host: Host) -> APIRouter:
    """``GET /api/rules/backtest``."""
    api = APIRouter(tags=["rules 规则"])
    scoped = scope_guard(host)

    @api.get("/api/rules/backtest", summary="Replay history through the rules")
    async def rules_backtest(
        start: dt.date,
        end: dt.date,
        rule: str | None = None,
        scope: Scope = scoped("read:alerts"),
    ) -> list[dict[str, Any]]:
        """Transitions the rules would have produced, day by day, from ``start`` to ``end``."""
        if host.evaluator is None:
            raise UnavailableError("the evaluator is not running")
        try:
            rows: list[dict[str, Any]] = await run(
                run_backtest,
                host.store,
                host.primary,
                host.evaluator.rules,
                host.evaluator.components,
                start,
                end,
                rule,
            )
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from exc
        return scope.rows(rows, city=None)

    return api
