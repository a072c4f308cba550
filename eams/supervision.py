"""The fraud sweep (风险内控): every ``EAMS_FRAUD_INTERVAL`` seconds, once the projections are
caught up, each enabled rule of ``EAMS_FRAUD_RULES`` is run over the read models
(:func:`projections.fraud_queries.run_rule`) and each finding is sent as
``fraud_case.suspect`` to its case (the id derived from the rule and what was found), with
a command id derived from the case: a finding seen at every sweep is raised once, and a
dismissed case is not raised again. A rule that fails is logged and counted; the others
still run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from events.clock import today
from projections.client import Store, run
from projections.fraud_queries import Finding, case_id, run_rule
from streams.commands.bus import CommandBus
from streams.errors import CommandTimeoutError
from subsidies.fraud_rules import FraudRules

log = logging.getLogger(__name__)

__all__ = ["ACTOR", "FraudSweep"]

ACTOR = "eams.supervision"
_NAMESPACE = uuid.UUID("b7e1c0d4-52a9-4f3e-8c61-0a9d3e7f2b15")


@dataclasses.dataclass
class SweepStats:
    """What ``/api/status`` shows of the sweep (``ticks`` only grows: tests wait on it)."""

    ticks: int = 0
    found: int = 0
    raised: int = 0
    already: int = 0
    refused: int = 0
    failed_rules: int = 0
    last_error: str | None = None


class FraudSweep:
    """Runs the fraud rules and raises what they find."""

    def __init__(
        self,
        store: Store,
        rules: FraudRules,
        commands: CommandBus,
        staff: Callable[[], Mapping[str, str]],
        interval: float,
    ) -> None:
        self.store = store
        self.rules = rules
        self.commands = commands
        self.staff = staff
        self.interval = interval
        self.stats = SweepStats()

    def status(self) -> dict[str, Any]:
        return dataclasses.asdict(self.stats)

    def _command(self, rule: Any, finding: Finding) -> Any:
        case = case_id(rule.id, finding.key)
        payload = {
            "region": finding.region,
            "rule": rule.id,
            "kind": rule.kind,
            "title": f"{rule.title} / {rule.title_en}",
            "persons": finding.persons[:64],
            "application_id": finding.application_id,
            "amount": str(finding.amount),
            "detail": finding.detail[:500],
            "evidence": finding.evidence[:64],
            "recoveries": finding.recoveries[:64],
            "found_on": today().isoformat(),
        }
        return self.commands.command(
            "fraud_case.suspect",
            case,
            actor=ACTOR,
            source=ACTOR,
            payload={k: v for k, v in payload.items() if v is not None},
            command_id=uuid.uuid5(_NAMESPACE, case),
        )

    async def tick(self) -> None:
        """One sweep of every enabled rule."""
        staff = dict(self.staff())
        for rule in self.rules.enabled():
            try:
                findings = await run(run_rule, self.store, rule, staff)
            except Exception as exc:  # noqa: BLE001 - one rule must not stop the others
                self.stats.failed_rules += 1
                self.stats.last_error = f"{rule.id}: {exc}"[:300]
                log.exception("fraud rule %s failed", rule.id)
                continue
            self.stats.found += len(findings)
            commands = [self._command(rule, f) for f in findings if len(f.region) == 6]
            results = await asyncio.gather(
                *(self.commands.send(c) for c in commands), return_exceptions=True
            )
            for command, result in zip(commands, results, strict=True):
                if isinstance(result, CommandTimeoutError | BaseException):
                    self.stats.last_error = f"{command.aggregate_id}: {result}"[:300]
                elif result.duplicate or (result.accepted and not result.event_types):
                    self.stats.already += 1
                elif result.accepted:
                    self.stats.raised += 1
                else:
                    self.stats.refused += 1
                    self.stats.last_error = f"{command.aggregate_id}: {result.reason}"[:300]
        self.stats.ticks += 1

    async def run(self, stop: asyncio.Event, caught_up: Callable[[], bool]) -> None:
        """Sweep until ``stop`` is set (only once the projections have caught up)."""
        while not stop.is_set():
            if caught_up():
                try:
                    await self.tick()
                except Exception:  # noqa: BLE001 - the sweep must survive one bad cycle
                    log.exception("fraud sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
