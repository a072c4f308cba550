"""The province's clock: the one ``Asia/Shanghai`` zone of EAMS and its calendar day.

Every tz-aware time the system makes (envelopes, alerts, rosters, notifications) and every
"today" it reckons (the date limit of events, daily indicators) use ``SHANGHAI`` from
here, whatever the host's zone is. Pure: no I/O beyond the zone database.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

__all__ = ["SHANGHAI", "now", "today"]

#: The zone of the province's calendar (China Standard Time, UTC+8, no daylight saving).
SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """Return the current time, tz-aware in Asia/Shanghai."""
    return datetime.now(SHANGHAI)


def today(at: datetime | None = None) -> date:
    """The date in Asia/Shanghai (the province's calendar day, whatever the host's zone) of
    ``at`` (any zone), or of now when ``at`` is None."""
    return (at or now()).astimezone(SHANGHAI).date()
