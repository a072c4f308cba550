"""Duty rosters, escalation policy and channel configuration, from YAML.

```yaml
channels:                      # how to reach people; secrets may be ${ENV_VAR}
  smtp: {host: 127.0.0.1, port: 25, sender: eams@hrss.example.gov.cn}
  wecom: {linyi-duty: {url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"}}
  dingtalk: {province-duty: {url: "https://oapi.dingtalk.com/robot/send?access_token=…",
                             secret: "${DINGTALK_SECRET}"}}
  webhook: {ops: {url: "https://ops.example/hooks/eams", secret: "${EAMS_WEBHOOK_SECRET}"}}
  sms: {url: "https://sms-gateway.example/send", api_key: "${SMS_KEY}"}
officers:
  - id: linyi-duty-a            # never a phone number or an e-mail: those live in contacts
    name: 临沂市值班员甲
    tier: city                  # city | province
    regions: ["371300"]         # alerts in these regions (or below them)
    hours: "08:00-20:00"        # on duty (Asia/Shanghai); overnight spans like 20:00-08:00 work
    contacts: {email: duty-a@linyi.example.gov.cn, wecom: linyi-duty, sms: "13800000000"}
policy:
  notify_province_at: [I, II]   # these levels reach province duty at once
  escalate_after: 15m           # unacknowledged this long -> the next tier is notified
  repeat_interval: 30m          # reminders until acknowledged
  report_deadline: {I: 2h, II: 2h, III: 12h}   # emergency plans' report deadlines
  link_base: http://127.0.0.1:8600/alerts/
  group_by: city                # one message per officer and city (county | city | province)
  group_wait: 0s                # the first alert of a group goes at once (an emergency)
  group_interval: 1m            # later alerts of a group wait this long after its last message
  handover_window: 30m          # an officer whose shift began this recently gets a handover
                                # brief of the open alerts of their regions
```
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alerting.durations import parse_duration
from events.clock import SHANGHAI
from events.errors import ConfigError
from events.severity import LEVEL_NAMES

_ENV = re.compile(r"\$\{([A-Z0-9_]+)\}")


@dataclass(frozen=True)
class Officer:
    """One person on a duty roster."""

    id: str
    name: str
    tier: str
    regions: tuple[str, ...]
    hours: tuple[dt.time, dt.time] | None
    contacts: dict[str, str]

    def shift_start(self, at: dt.datetime) -> dt.datetime | None:
        """When the shift that covers ``at`` began (None: always on duty, or off duty)."""
        if self.hours is None or not self.on_duty(at):
            return None
        local = at.astimezone(SHANGHAI)
        start = local.replace(
            hour=self.hours[0].hour, minute=self.hours[0].minute, second=0, microsecond=0
        )
        return start if start <= local else start - dt.timedelta(days=1)

    def on_duty(self, at: dt.datetime) -> bool:
        """True when ``at`` (any zone) falls in the officer's hours in Asia/Shanghai."""
        if self.hours is None:
            return True
        start, end = self.hours
        now = at.astimezone(SHANGHAI).time()
        return start <= now < end if start <= end else (now >= start or now < end)


GROUP_BY = ("county", "city", "province")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class MuteWindow:
    """A recurring quiet period (Asia/Shanghai): alerts of ``levels`` are not sent during it;
    reminders resume after it. Levels I and II are never muted unless listed."""

    days: frozenset[int]  # 0 = Monday
    hours: tuple[dt.time, dt.time]
    levels: frozenset[str]

    def mutes(self, level: str, at: dt.datetime) -> bool:
        """True when an alert of ``level`` at ``at`` falls in this window."""
        if level not in self.levels:
            return False
        local = at.astimezone(SHANGHAI)
        start, end = self.hours
        now = local.time()
        if start == end:  # the whole day
            return local.weekday() in self.days
        if start < end:
            return local.weekday() in self.days and start <= now < end
        # Overnight: the part after midnight belongs to the window that began the day before.
        if now >= start:
            return local.weekday() in self.days
        return (local.weekday() - 1) % 7 in self.days and now < end


@dataclass(frozen=True)
class Policy:
    """Who is told what, and when to escalate and remind."""

    notify_province_at: frozenset[str] = frozenset({"I", "II"})
    escalate_after: dt.timedelta = dt.timedelta(minutes=15)
    repeat_interval: dt.timedelta = dt.timedelta(minutes=30)
    report_deadline: dict[str, dt.timedelta] = field(
        default_factory=lambda: {
            "I": dt.timedelta(hours=2),
            "II": dt.timedelta(hours=2),
            "III": dt.timedelta(hours=12),
        }
    )
    link_base: str = "http://127.0.0.1:8600/alerts/"
    mute_windows: tuple[MuteWindow, ...] = ()
    group_by: str = "city"
    group_wait: dt.timedelta = dt.timedelta(0)
    group_interval: dt.timedelta = dt.timedelta(minutes=1)
    handover_window: dt.timedelta = dt.timedelta(minutes=30)

    def muted(self, level: str, at: dt.datetime) -> bool:
        """True when a recurring mute window holds back alerts of ``level`` at ``at``."""
        return any(w.mutes(level, at) for w in self.mute_windows)


@dataclass(frozen=True)
class Roster:
    """Officers, channels and the escalation policy."""

    officers: tuple[Officer, ...]
    channels: dict[str, Any]
    policy: Policy

    def responsible(self, region_chain: list[str], tier: str, at: dt.datetime) -> list[Officer]:
        """Officers of ``tier`` on duty at ``at`` for any region of the chain (the region
        itself and its ancestors)."""
        return [
            o
            for o in self.officers
            if o.tier == tier and o.on_duty(at) and any(r in o.regions for r in region_chain)
        ]


def _env(value: Any) -> Any:
    if isinstance(value, str):
        return _ENV.sub(lambda m: os.environ.get(m.group(1), ""), value)
    if isinstance(value, dict):
        return {k: _env(v) for k, v in value.items()}
    return value


def _hours(text: str | None, where: str) -> tuple[dt.time, dt.time] | None:
    if not text:
        return None
    m = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", text.strip())
    if not m:
        raise ConfigError(f"{where}: hours must look like 08:00-20:00, got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    end = dt.time(0, 0) if h2 == 24 else dt.time(h2, m2)
    if h1 == 0 and m1 == 0 and h2 == 24:
        return None
    return dt.time(h1, m1), end


def _mute_window(raw: Any, where: str) -> MuteWindow:
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: expected {{days: [sat, sun], hours: 00:00-08:00, levels: [IV]}}"
        )
    days = raw.get("days") or list(DAYS)
    bad = [d for d in days if str(d).lower()[:3] not in DAYS]
    if bad:
        raise ConfigError(f"{where}: days: unknown {bad}; use mon … sun")
    hours = _hours(str(raw.get("hours", "00:00-24:00")), where) or (dt.time(0), dt.time(0))
    levels = frozenset(str(x) for x in raw.get("levels") or ["IV", "III"])
    if not levels <= set(LEVEL_NAMES):
        raise ConfigError(f"{where}: levels must be among {', '.join(reversed(LEVEL_NAMES))}")
    return MuteWindow(frozenset(DAYS.index(str(d).lower()[:3]) for d in days), hours, levels)


def load_roster(path: Path) -> Roster:
    """Read a roster file; errors name the file and the entry."""
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the roster: {exc}") from exc
    officers: list[Officer] = []
    for i, raw in enumerate(doc.get("officers") or []):
        where = f"{path}: officers[{i}]"
        try:
            officers.append(
                Officer(
                    id=str(raw["id"]),
                    name=str(raw.get("name", raw["id"])),
                    tier=str(raw.get("tier", "city")),
                    regions=tuple(str(r) for r in raw["regions"]),
                    hours=_hours(raw.get("hours"), where),
                    contacts={str(k): str(v) for k, v in (raw.get("contacts") or {}).items()},
                )
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"{where}: needs id, regions and contacts ({exc})") from exc
        if officers[-1].tier not in ("city", "province"):
            raise ConfigError(f"{where}: tier must be city or province")
    raw_policy = doc.get("policy") or {}
    try:
        deadlines = {
            str(k): parse_duration(v)
            for k, v in (
                raw_policy.get("report_deadline") or {"I": "2h", "II": "2h", "III": "12h"}
            ).items()
        }
        policy = Policy(
            notify_province_at=frozenset(raw_policy.get("notify_province_at") or ["I", "II"]),
            escalate_after=parse_duration(raw_policy.get("escalate_after", "15m")),
            repeat_interval=parse_duration(raw_policy.get("repeat_interval", "30m")),
            report_deadline=deadlines,
            link_base=str(raw_policy.get("link_base", Policy.link_base)),
            mute_windows=tuple(
                _mute_window(w, f"{path}: policy.mute_windows[{i}]")
                for i, w in enumerate(raw_policy.get("mute_windows") or [])
            ),
            group_by=str(raw_policy.get("group_by", "city")),
            group_wait=parse_duration(raw_policy.get("group_wait", "0s")),
            group_interval=parse_duration(raw_policy.get("group_interval", "1m")),
            handover_window=parse_duration(raw_policy.get("handover_window", "30m")),
        )
    except ValueError as exc:
        raise ConfigError(f"{path}: policy: {exc}") from exc
    if policy.group_by not in GROUP_BY:
        raise ConfigError(f"{path}: policy.group_by must be one of {', '.join(GROUP_BY)}")
    return Roster(tuple(officers), _env(doc.get("channels") or {}), policy)
