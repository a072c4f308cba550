"""What the money does by itself (an extension of the casework view,
:class:`cases.reactions.CaseworkView`):

- each line a bank's return file says was paid becomes the person's
  ``person.record_payment`` (the reconciled event carries the line's person, application
  and month); its command id is derived from the batch and the line, so a line is
  recorded once however often the event is read again;
- each recovery of a confirmed fraud case becomes ``person.order_recovery`` on the
  person's case (``subsidy.recovery_ordered`` with the case id), its id derived from the
  case and the application;
- on the calendar, a person with an approved periodic subsidy whose next month has begun is
  sent ``person.entitle_due`` (once per person and month: the id is derived from both); the
  view folds each application's first month, length, entitled months and stop for it;
- a public-welfare post: each assignment takes a slot of the post
  (``welfare_post.seat``), a post that was full turns the person back
  (``person.vacate_welfare_post``, cause ``full``), a holder who left frees the slot
  (``welfare_post.unseat``), and on the calendar a holder past the tenure's last month
  leaves (cause ``tenure``), and a holder whose pay was stopped leaves (cause
  ``ineligible``). Every id is derived from the application, so each is sent once
  in effect however often it is read.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from cases.reactions import Reaction
from events.clock import SHANGHAI
from events.envelope import Envelope
from subsidies.application_state import ATTENDANCE_PAID
from subsidies.eligibility import month_of

__all__ = ["MoneyReactions"]

_NAMESPACE = uuid.UUID("8d0f7c52-3b6e-4a1d-9e25-c4b7a0f61e93")


def _month(text: str) -> int:
    year, month = text.split("-")
    return int(year) * 12 + int(month) - 1


@dataclass(slots=True)
class _Periodic:
    person_id: str
    first: int
    last: int
    entitled: int = -1
    """The latest month entitled."""


@dataclass(slots=True)
class _Holding:
    person_id: str
    post_id: str
    last: int
    """The tenure's last month."""


class MoneyReactions:
    """The payments a reconciled batch settles, and the months that fall due."""

    prefixes: tuple[str, ...] = ("payment_batch.", "subsidy.", "fraud.", "welfare_post.")

    def __init__(self) -> None:
        self.periodic: dict[str, _Periodic] = {}
        self.posts: dict[str, _Holding] = {}
        """Assignments not yet vacated, by application."""

    def fold(self, event: Envelope) -> None:
        """Keep what the calendar needs of an application's months."""
        p = event.payload_dict()
        kind = event.event_type
        app_id = str(p.get("application_id") or "")
        if kind == "subsidy.approved" and p.get("subsidy") == ATTENDANCE_PAID:
            return  # a post's months are entitled by its attendance, not by the calendar
        if kind == "welfare_post.assigned" and event.aggregate_id and p.get("last_month"):
            self.posts[app_id] = _Holding(event.aggregate_id, str(p["post_id"]),
                                          _month(str(p["last_month"])))  # fmt: skip
        elif kind == "welfare_post.vacated":
            self.posts.pop(app_id, None)
        elif kind == "subsidy.approved" and event.aggregate_id:
            months = int(p.get("months") or 1)
            if months > 1 and p.get("first_month"):
                first = _month(str(p["first_month"]))
                self.periodic[app_id] = _Periodic(event.aggregate_id, first, first + months - 1)
        elif kind == "subsidy.entitled" and app_id in self.periodic and p.get("month"):
            held = self.periodic[app_id]
            held.entitled = max(held.entitled, _month(str(p["month"])))
        elif kind in ("subsidy.stopped", "subsidy.rejected"):
            self.periodic.pop(app_id, None)

    def react(self, event: Envelope) -> list[Reaction]:
        """``person.record_payment`` for each paid line of a reconciled batch;
        ``person.order_recovery`` for each recovery of a confirmed fraud case."""
        if event.event_type == "fraud.confirmed":
            return self._recoveries(event)
        if event.event_type.startswith("welfare_post."):
            self.fold(event)
            return self._seats(event)
        if event.event_type == "subsidy.stopped":
            return self._stopped(event)
        if event.event_type != "payment_batch.reconciled":
            self.fold(event)
            return []
        p = event.payload_dict()
        batch = str(p["batch_id"])
        out: list[Reaction] = []
        for result in p["results"]:
            if result["outcome"] != "paid":
                continue
            payload = {
                "application_id": result["application_id"],
                "month": result["month"],
                "amount": result["amount"],
                "batch_id": batch,
            }
            if result.get("paid_on"):
                payload["paid_on"] = result["paid_on"]
            line = int(result["line"])
            command_id = uuid.uuid5(_NAMESPACE, f"paid|{batch}|{line}")
            out.append(Reaction("person.record_payment", result["person_id"], payload, command_id))
        return out

    def _recoveries(self, event: Envelope) -> list[Reaction]:
        p = event.payload_dict()
        case = str(p["case_id"])
        reason = f"骗补确认 fraud case {case}: {p.get('reason') or ''}"[:500]
        return [
            Reaction(
                "person.order_recovery",
                r["person_id"],
                {"application_id": r["application_id"], "amount": r["amount"],
                 "reason": reason, "fraud_case_id": case},
                uuid.uuid5(_NAMESPACE, f"recover|{case}|{r['application_id']}"),
            )
            for r in p.get("recoveries") or ()
        ]  # fmt: skip

    def _stopped(self, event: Envelope) -> list[Reaction]:
        """A post's pay stopped (a correction found the person not eligible, a fraud case's
        recovery): the holder leaves, so the slot is freed and no second post is blocked by
        a seat held on pay that no longer runs."""
        p = event.payload_dict()
        held = self.posts.get(str(p.get("application_id") or ""))
        self.fold(event)
        if held is None or p.get("subsidy") != ATTENDANCE_PAID:
            return []
        on = event.occurred_at.astimezone(SHANGHAI).date().isoformat()
        why = f"停发 the post's pay stopped: {p.get('reason') or ''}"[:500]
        return [Reaction("person.vacate_welfare_post", held.person_id,
                         {"post_id": held.post_id, "cause": "ineligible", "on": on,
                          "reason": why},
                         uuid.uuid5(_NAMESPACE, f"stopped|{p['application_id']}"))]  # fmt: skip

    def _seats(self, event: Envelope) -> list[Reaction]:
        """A slot taken for an assignment, given back when its holder left; an assignment
        the full post turned back is vacated."""
        p = event.payload_dict()
        kind = event.event_type
        app = str(p.get("application_id") or "")
        if not app or not p.get("post_id"):
            return []  # a post's event from outside EAMS's assignments
        post, person = str(p["post_id"]), str(p.get("person_id") or event.aggregate_id)
        if kind == "welfare_post.assigned":
            return [Reaction("welfare_post.seat", post,
                             {"person_id": person, "application_id": app},
                             uuid.uuid5(_NAMESPACE, f"seat|{app}"))]  # fmt: skip
        if kind == "welfare_post.vacated":
            return [Reaction("welfare_post.unseat", post, {"person_id": person},
                             uuid.uuid5(_NAMESPACE, f"unseat|{app}"))]  # fmt: skip
        if kind == "welfare_post.overbooked":
            why = f"岗位名额已满 every one of the post's {p.get('slots')} slots was taken first"
            return [Reaction("person.vacate_welfare_post", person,
                             {"post_id": post, "reason": why, "cause": "full"},
                             uuid.uuid5(_NAMESPACE, f"full|{app}"))]  # fmt: skip
        return []

    def due(self, today: dt.date) -> list[Reaction]:
        """``person.entitle_due`` for each person with a month of an approved periodic
        subsidy begun and not yet entitled (applications past their last month are
        forgotten)."""
        now = month_of(today)
        out = [
            Reaction("person.vacate_welfare_post", held.person_id,
                     {"post_id": held.post_id, "cause": "tenure", "on": today.isoformat(),
                      "reason": "任期届满 the tenure's last month has passed"},
                     uuid.uuid5(_NAMESPACE, f"tenure|{app_id}"))
            for app_id, held in sorted(self.posts.items()) if held.last < now
        ]  # fmt: skip
        persons: set[str] = set()
        for app_id, held in list(self.periodic.items()):
            if held.entitled >= held.last:
                del self.periodic[app_id]
            elif max(held.entitled + 1, held.first) <= now:
                persons.add(held.person_id)
        return out + [
            Reaction("person.entitle_due", person, {"on": today.isoformat()},
                     uuid.uuid5(_NAMESPACE, f"due|{person}|{now}"))
            for person in sorted(persons)
        ]  # fmt: skip
