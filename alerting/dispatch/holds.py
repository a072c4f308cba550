"""Stages 2 and 3, silence and mute windows: notices held back by a
:class:`~alerting.dispatch.mutes.Mutes` go no further.

- **silence**: a silence holds: nobody is told (the alert itself stands);
- **mute windows**: a recurring window of the policy holds back the levels it names until
  it ends. A held-back first notice (``firing``) moves the alert's reminder clock one
  interval back, so the first reminder after the window carries the news; a held-back
  reminder stays due and goes out with the first tick after the window. The news that an
  alert resolved is never held by a window (nothing later would carry it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from alerting.dispatch.mutes import Mutes
from alerting.dispatch.pipeline import Changes, Notice

__all__ = ["MuteWindowed", "Silenced"]


class Silenced:
    """The silence stage; ``silences`` gives the silences as last read from the log."""

    name = "silence"

    def __init__(self, silences: Callable[[], Mutes]) -> None:
        self.silences = silences

    async def __call__(self, notices: list[Notice], ch: Changes | None) -> list[Notice]:
        """The notices no silence holds at their time."""
        mutes = self.silences()
        return [n for n in notices if mutes.mutes(n.alert, n.at) is None]


class MuteWindowed:
    """The mute-window stage; ``repeat_interval`` is the policy's reminder interval."""

    name = "mute windows"

    def __init__(self, windows: Callable[[], Mutes], repeat_interval: Callable[[], dt.timedelta]):
        self.windows = windows
        self.repeat_interval = repeat_interval

    async def __call__(self, notices: list[Notice], ch: Changes | None) -> list[Notice]:
        """The notices no window holds back at their time (see the module docstring)."""
        mutes = self.windows()
        out: list[Notice] = []
        for n in notices:
            if n.kind == "resolved" or mutes.mutes(n.alert, n.at) is None:
                out.append(n)
            elif n.kind == "firing" and ch is not None:
                ch.set_round(n.alert.alert_id, (0, n.at - self.repeat_interval()))
        return out
