"""What a public-welfare post adds to the check of its pay (乡村公益性岗位): the post named,
in the person's county, and the tenure left.

The policy's period is the tenure (``months: 36, until_retirement_within_years: 5`` in the
Shandong default: at most three years, or until retirement for a person within five years
of it); the months the person already held posts (any post, any county's) count against it,
so a person who left after a year and takes another post has two years left.
"""

from __future__ import annotations

from dataclasses import replace

from cases.case_state import PersonCase
from subsidies.application_state import Application, applications
from subsidies.eligibility import Check

__all__ = ["post_terms", "served_months"]


def served_months(state: PersonCase, before: int, *, besides: str | None = None) -> int:
    """The months the person held public-welfare posts before month ``before`` (the
    application ``besides`` left out)."""
    served = 0
    for other in applications(state).values():
        if other.application_id == besides or not (other.on_attendance and other.assigned):
            continue
        last = other.last_month
        if other.first_month is None or last is None:
            continue
        served += max(0, min(last, before - 1) - other.first_month + 1)
    return served


def post_terms(state: PersonCase, app: Application, done: Check) -> Check:
    """``done`` with the post's conditions: the post named and in the person's county, and
    the months cut to the tenure left (failed when none is left)."""
    failed = list(done.failed)
    # the county is the person's when they took the post (a move since, or a correction
    # judged later, does not undo the holding)
    county = app.assigned_region if app.assigned else state.region
    if app.post_id is None:
        failed.append("post_id is not known (the public-welfare post the person takes)")
    elif app.post_region is None:
        failed.append(f"post {app.post_id} is not known (open it first: POST /api/welfare-posts)")
    elif county is not None and app.post_region != county:
        failed.append(
            f"post {app.post_id} is in {app.post_region} and the person lives in "
            f"{county}: a post is taken in the person's own county"
        )
    months = done.months
    if done.months > 0:
        served = served_months(state, done.first_month, besides=app.application_id)
        months = done.months - served
        if months < 1:
            failed.append(
                f"tenure: {served} months held on public-welfare posts already, of at most "
                f"{done.months}"
            )
            months = 0
    return replace(done, failed=tuple(failed), eligible=not failed, months=months)
