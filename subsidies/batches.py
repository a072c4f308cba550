"""A payment batch as a command aggregate (kind ``payment_batch``, keyed by the batch id): a
county's entitlements due for a month, the file the bank pays from, and the bank's return.

    create ─────► payment_batch.created     the lines (an application's month each, with the
                                            payee's account pseudonym and masked name)
    export ─────► payment_batch.exported    the file for the bank was produced: its digest,
                                            count and total must be the batch's own
    reconcile ──► payment_batch.reconciled  the bank's return file matched line by line:
                                            paid (the amount the line asks) or failed (why)

Each paid line then becomes the person's ``subsidy.paid``: the casework reactor sends
``person.record_payment`` for it (:mod:`subsidies.reactions`), with a command id derived
from the batch and the line, so a line is recorded once however often the return is read.
A failed line leaves its entitlement due: the next month's batch takes it again.

The lines come from the money projection when the batch is created (the route reads what
is due and not in a batch not yet reconciled); the person's case stays the guard of what
was paid: a line paid beyond what is still due is recorded (the bank paid it) and ordered
back at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from events.clock import SHANGHAI
from events.commands import Change, Command, parse_payload
from events.envelope import Envelope
from events.errors import CommandRejectedError
from events.payload_base import Money
from events.payloads_money import MAX_BATCH_LINES, BatchLine, BatchResult, YearMonth
from events.regions import RegionReference

__all__ = [
    "BATCH_EVENTS",
    "CreateBatch",
    "ExportBatch",
    "PaymentBatch",
    "PaymentBatchAggregate",
    "ReconcileBatch",
    "batch_id",
]

BATCH_EVENTS = frozenset(
    {"payment_batch.created", "payment_batch.exported", "payment_batch.reconciled"}
)
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


def batch_id(county: str, month: str, part: int = 1) -> str:
    """The id of a county's batch for a month (``pb-370102-2026-03-1``): one per part, so a
    batch created twice is refused as existing."""
    return f"pb-{county}-{month}-{part}"


@dataclass(frozen=True, slots=True)
class PaymentBatch:
    """The state of one batch."""

    batch_id: str
    region: str | None = None
    month: str | None = None
    lines: dict[int, dict[str, Any]] = field(default_factory=dict)
    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    exports: int = 0

    @property
    def created(self) -> bool:
        return bool(self.lines)

    @property
    def total(self) -> Decimal:
        return sum((Decimal(str(line["amount"])) for line in self.lines.values()), Decimal(0))

    @property
    def complete(self) -> bool:
        """Every line has the bank's answer."""
        return self.created and len(self.results) == len(self.lines)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CreateBatch(_Body):
    """The lines of a county's batch for ``month`` (part ``part`` when it is split)."""

    region: Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
    month: YearMonth
    part: Annotated[int, Field(ge=1, le=1000)] = 1
    lines: Annotated[tuple[BatchLine, ...], Field(min_length=1, max_length=MAX_BATCH_LINES)]


class ExportBatch(_Body):
    """The file for the bank was produced from the batch's lines."""

    file_sha256: Sha256
    count: Annotated[int, Field(ge=1, le=MAX_BATCH_LINES)]
    total: Money


class ReconcileBatch(_Body):
    """The bank's return file, a result per line it answers."""

    file_sha256: Sha256
    results: Annotated[tuple[BatchResult, ...], Field(min_length=1, max_length=MAX_BATCH_LINES)]


class PaymentBatchAggregate:
    """The command aggregate of a payment batch."""

    kind = "payment_batch"
    event_types = BATCH_EVENTS

    def __init__(self, reference: RegionReference) -> None:
        self.reference = reference

    def initial(self, aggregate_id: str) -> PaymentBatch:
        """A batch not yet created."""
        return PaymentBatch(batch_id=aggregate_id)

    def region_of(self, state: PaymentBatch) -> str | None:
        """The county whose batch it is."""
        return state.region

    def apply(self, state: PaymentBatch, event: Envelope) -> PaymentBatch:
        """The batch after one of its events."""
        p = event.payload_dict()
        kind = event.event_type
        if kind == "payment_batch.created":
            if state.created:
                return state
            lines = {int(line["line"]): dict(line) for line in p["lines"]}
            return replace(state, region=event.region, month=p["month"], lines=lines)
        if kind == "payment_batch.exported":
            return replace(state, exports=state.exports + 1)
        if kind == "payment_batch.reconciled":
            results = dict(state.results)
            for result in p["results"]:
                results.setdefault(int(result["line"]), dict(result))
            return replace(state, results=results)
        return state

    def decide(self, state: PaymentBatch, command: Command, now: dt.datetime) -> list[Change]:
        """The events a batch's command leads to."""
        if command.verb == "create":
            return self._create(state, parse_payload(CreateBatch, command))
        if not state.created:
            raise CommandRejectedError(
                f"{command.command_type}: there is no payment batch {state.batch_id}; "
                "create it first (POST /api/payment-batches)",
                code="not_found",
            )
        if command.verb == "export":
            return self._export(state, parse_payload(ExportBatch, command))
        if command.verb == "reconcile":
            return self._reconcile(state, parse_payload(ReconcileBatch, command), now)
        raise CommandRejectedError(
            f"{command.command_type}: a payment batch takes create, export and reconcile",
            code="invalid",
        )

    def _create(self, state: PaymentBatch, body: CreateBatch) -> list[Change]:
        if state.created:
            raise CommandRejectedError(
                f"payment_batch.create: {state.batch_id} exists ({len(state.lines)} lines, "
                f"{len(state.results)} reconciled)",
                code="conflict",
            )
        region = self.reference.get(body.region)
        if region is None or region.level != "county":
            raise CommandRejectedError(
                f"payment_batch.create payload.region: {body.region} is not a county of the "
                "region reference; a batch is a county's",
                code="invalid",
            )
        seen: dict[tuple[str, str], int] = {}
        for n, line in enumerate(body.lines, start=1):
            where = f"payment_batch.create payload.lines[{n - 1}]"
            if line.line != n:
                raise CommandRejectedError(
                    f"{where}.line: {line.line}, expected {n} (lines are numbered 1, 2, … "
                    "in order)",
                    code="invalid",
                )
            key = (line.application_id, line.month)
            if key in seen:
                raise CommandRejectedError(
                    f"{where}: {line.application_id} {line.month} is line {seen[key]} already; "
                    "a month of an application is paid once",
                    code="invalid",
                )
            seen[key] = n
        lines = [line.model_dump(mode="json", exclude_none=True) for line in body.lines]
        total = sum((line.amount for line in body.lines), Decimal(0))
        payload = {
            "batch_id": state.batch_id,
            "month": body.month,
            "part": body.part,
            "lines": lines,
            "count": len(lines),
            "total": str(total),
        }
        return [Change("payment_batch.created", payload, region=body.region)]

    def _export(self, state: PaymentBatch, body: ExportBatch) -> list[Change]:
        if (body.count, body.total) != (len(state.lines), state.total):
            raise CommandRejectedError(
                f"payment_batch.export: the file has {body.count} lines totalling {body.total}; "
                f"the batch has {len(state.lines)} totalling {state.total} (the read model "
                "is behind: try again in a moment)",
                code="conflict",
            )
        payload = {"batch_id": state.batch_id, "file_sha256": body.file_sha256,
                   "count": body.count, "total": str(body.total)}  # fmt: skip
        return [Change("payment_batch.exported", payload, region=state.region)]

    def _reconcile(
        self, state: PaymentBatch, body: ReconcileBatch, now: dt.datetime
    ) -> list[Change]:
        if not state.exports:
            raise CommandRejectedError(
                f"payment_batch.reconcile: {state.batch_id} was never exported; the bank "
                "cannot have paid it",
                code="conflict",
            )
        today = now.astimezone(SHANGHAI).date()
        fresh: list[dict[str, Any]] = []
        seen: set[int] = set()
        for result in body.results:
            where = f"payment_batch.reconcile line {result.line}"
            line = state.lines.get(result.line)
            if line is None:
                raise CommandRejectedError(
                    f"{where}: the batch has lines 1-{len(state.lines)}", code="invalid"
                )
            if result.line in seen:
                raise CommandRejectedError(f"{where}: answered twice in one file", code="invalid")
            seen.add(result.line)
            asked = Decimal(str(line["amount"]))
            if result.outcome == "paid" and result.amount is not None and result.amount != asked:
                raise CommandRejectedError(
                    f"{where}: the bank paid {result.amount}, the line asks {asked}; a line "
                    "is paid whole or not at all (ask the bank)",
                    code="invalid",
                )
            if result.paid_on is not None and result.paid_on > today:
                raise CommandRejectedError(
                    f"{where}: paid_on {result.paid_on} is after today", code="invalid"
                )
            before = state.results.get(result.line)
            if before is not None:
                if before["outcome"] != result.outcome:
                    raise CommandRejectedError(
                        f"{where}: was reconciled as {before['outcome']} already, now "
                        f"{result.outcome}; a line's result is not changed",
                        code="conflict",
                    )
                continue  # the same answer again (a return file read twice)
            fresh.append(
                {
                    **result.model_dump(mode="json", exclude_none=True),
                    "amount": str(asked) if result.outcome == "paid" else None,
                    "person_id": line["person_id"],
                    "application_id": line["application_id"],
                    "subsidy": line["subsidy"],
                    "month": line["month"],
                }
            )
        if not fresh:
            return []
        paid = [r for r in fresh if r["outcome"] == "paid"]
        payload = {
            "batch_id": state.batch_id,
            "file_sha256": body.file_sha256,
            "results": [{k: v for k, v in r.items() if v is not None} for r in fresh],
            "paid": len(paid),
            "failed": len(fresh) - len(paid),
            "paid_total": str(sum((Decimal(r["amount"]) for r in paid), Decimal(0))),
            "complete": len(state.results) + len(fresh) == len(state.lines),
        }
        return [Change("payment_batch.reconciled", payload, region=state.region)]
