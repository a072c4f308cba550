"""The alert message every channel sends, and its renderings.

An :class:`AlertMessage` carries aggregates only — a region, an indicator and its values —
never a person: no names, ID numbers or phone numbers (DESIGN "Privacy"). Keep it that way
when adding fields; channels pass it to third parties (mail relays, WeCom, DingTalk, SMS
gateways).

Renderings are pure functions: :func:`render` (subject and plain-text body, for e-mail and
the webhook), :func:`render_markdown` (the robots) and :func:`render_sms` (the SMS gateway).
Text is Simplified Chinese with one short English line; times are shown in Asia/Shanghai.
Level colours and names come from the one scale, ``events.severity``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args
from urllib.parse import quote

from alerting.notify.errors import NotifyError
from events.clock import SHANGHAI
from events.severity import LEVEL_NAMES, Level, level

__all__ = [
    "AlertMessage",
    "AlertMessageError",
    "MessageKind",
    "format_number",
    "format_time",
    "render",
    "render_markdown",
    "render_sms",
]

MessageKind = Literal["firing", "reminder", "escalation", "resolved", "handover", "playbook"]
_KINDS: tuple[str, ...] = get_args(MessageKind)

# Subject tag after the level, per kind ("" for a plain firing notice).
_KIND_TAGS: dict[str, str] = {
    "firing": "",
    "reminder": "·提醒",
    "escalation": "·升级",
    "handover": "·交接",
    "playbook": "·预案",
}


class AlertMessageError(NotifyError):
    """An :class:`AlertMessage` was built with an invalid field (names the field)."""


@dataclass(frozen=True)
class AlertMessage:
    """What a duty officer is told about one alert; aggregates only, no personal data.

    ``kind`` is ``firing`` (first notice), ``reminder`` (repeat while unacknowledged),
    ``escalation`` (sent to the next person on the roster) or ``resolved``. ``level`` is
    ``"I"``..``"IV"``; ``value``/``threshold`` are ``None`` when the alert has no single
    figure (a data-gap alert). ``fired_at`` and ``report_due`` must be timezone-aware.
    ``values`` holds other indicator values that fired, keyed by their display label.
    ``others`` are the further alerts of the same group sent in this one message (grouping:
    one message per region group); each is rendered as one line after the lead alert.
    ``handover`` is the brief an officer gets when their shift starts.
    """

    alert_id: str
    kind: MessageKind
    level: str
    rule_title: str
    region_code: str
    region_name: str
    indicator: str
    indicator_label: str
    value: float | None
    threshold: float | None
    fired_at: datetime
    link: str
    report_due: datetime | None = None
    values: dict[str, float] = field(default_factory=dict)
    others: tuple[AlertMessage, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise AlertMessageError(f"kind: {self.kind!r} is not one of {', '.join(_KINDS)}")
        if self.level not in LEVEL_NAMES:
            names = ", ".join(reversed(LEVEL_NAMES))
            raise AlertMessageError(f"level: {self.level!r} is not one of {names}")
        if self.fired_at.utcoffset() is None:
            raise AlertMessageError("fired_at: must be timezone-aware (e.g. UTC)")
        if self.report_due is not None and self.report_due.utcoffset() is None:
            raise AlertMessageError("report_due: must be timezone-aware (e.g. UTC)")
        if not self.link.startswith(("http://", "https://")):
            raise AlertMessageError("link: must be an http(s) URL to the alert in the console")


def format_number(value: float | None) -> str:
    """Format a figure for people: ``2310.0`` → ``2,310``, ``0.0534`` → ``0.0534``,
    ``1234.5`` → ``1,234.5``; ``None`` or NaN → ``—``."""
    if value is None or math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == int(value):
        return f"{int(value):,}"
    if abs(value) < 1:
        return f"{value:.4g}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def format_time(moment: datetime) -> str:
    """Local time in Asia/Shanghai, to the minute: ``2026-11-27 14:03``."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _scale(message: AlertMessage) -> Level:
    """The message's level on the scale (checked when the message was built)."""
    return level(message.level)


def _level_text(message: AlertMessage) -> str:
    """``橙色预警 II级``."""
    return f"{_scale(message).colour_zh}预警 {message.level}级"


def _figure(message: AlertMessage) -> str:
    """``裁员人数 2,310（阈值 1,000）``, leaving out what is unknown."""
    text = message.indicator_label
    if message.value is not None:
        text += f" {format_number(message.value)}"
    if message.threshold is not None:
        text += f"（阈值 {format_number(message.threshold)}）"
    return text


def _subject(message: AlertMessage) -> str:
    if message.kind == "resolved":
        tag = f"【解除 {_level_text(message)}】"
    else:
        tag = f"【{_level_text(message)}{_KIND_TAGS[message.kind]}】"
    more = f"（另有 {len(message.others)} 条）" if message.others else ""
    return f"{tag}{message.region_name} {_figure(message)}{more}"


def _lead(message: AlertMessage) -> str:
    """The first sentence of the body, which says what happened."""
    colour = _scale(message).colour_zh
    where = message.region_name
    level = f"{colour}预警（{message.level}级）"
    match message.kind:
        case "firing":
            return f"{where}触发{level}：{message.rule_title}。"
        case "reminder":
            return f"提醒：{where}{level}仍未确认，请尽快处置：{message.rule_title}。"
        case "escalation":
            return f"升级：{where}{level}超时无人确认，现升级通知您：{message.rule_title}。"
        case "handover":
            return f"交接班：您已接班，{where}{level}仍在处置中：{message.rule_title}。"
        case "playbook":
            return f"应急预案（{message.level}级响应）：{where} {message.rule_title}。"
        case _:
            return f"解除：{where}{level}已解除（{message.rule_title}），无需再处置。"


def _other_values(message: AlertMessage) -> str | None:
    if not message.values:
        return None
    parts = [f"{label} {format_number(v)}" for label, v in message.values.items()]
    return "其他指标：" + "；".join(parts)


def _group_line(other: AlertMessage) -> str:
    """One further alert of a group: ``【橙色预警 II级·提醒】临沂市 兰山区 裁员人数 …``."""
    return f"{_subject(other)} {other.link}"


def _group_header(message: AlertMessage) -> str:
    return f"同组另有 {len(message.others)} 条预警，一并通知："


def _deadline(message: AlertMessage) -> str | None:
    if message.report_due is None or message.kind == "resolved":
        return None
    return f"须于 {format_time(message.report_due)} 前报告"


def _english(message: AlertMessage) -> str:
    colour = _scale(message).colour
    figure = message.indicator
    if message.value is not None:
        figure += f" {format_number(message.value)}"
    if message.threshold is not None:
        figure += f" (threshold {format_number(message.threshold)})"
    more = f" (+{len(message.others)} more in this group)" if message.others else ""
    return (
        f"EAMS alert {message.kind}: level {message.level} ({colour}) "
        f"in region {message.region_code}, {figure}.{more}"
    )


def render(message: AlertMessage) -> tuple[str, str]:
    """Subject and plain-text body, e.g. subject
    ``【橙色预警 II级】临沂市 裁员人数 2,310（阈值 1,000）``.

    The body states region, level with its colour, the indicator against its threshold,
    other values that fired, the time (Asia/Shanghai), the report deadline if any
    (``须于 … 前报告``), the link, and a short English line.
    """
    colour = _scale(message).colour_zh
    lines = [
        _lead(message),
        "",
        f"地区：{message.region_name}（{message.region_code}）",
        f"级别：{message.level}级 {colour}预警",
        f"指标：{_figure(message)}",
    ]
    other = _other_values(message)
    if other:
        lines.append(other)
    lines.append(f"触发时间：{format_time(message.fired_at)}（北京时间）")
    deadline = _deadline(message)
    if deadline:
        lines.append(deadline)
    lines += [f"查看预警：{message.link}", f"预警编号：{message.alert_id}"]
    if message.others:
        lines += ["", _group_header(message)]
        lines += [f"- {_group_line(o)}" for o in message.others]
    lines += ["", _english(message)]
    return _subject(message), "\n".join(lines) + "\n"


def _markdown_url(url: str) -> str:
    # Parentheses and spaces would end a markdown link early.
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._")


def render_markdown(message: AlertMessage) -> str:
    """The robots' rendering: a ``###`` heading, the level in bold and the link as
    ``[查看预警](url)``. Paragraphs are separated by blank lines, which both WeCom and
    DingTalk show as line breaks."""
    colour = _scale(message).colour_zh
    parts = [
        f"### {_subject(message)}",
        _lead(message),
        f"**级别：{message.level}级 {colour}预警**",
        f"地区：{message.region_name}（{message.region_code}）",
        f"指标：{_figure(message)}",
    ]
    other = _other_values(message)
    if other:
        parts.append(other)
    parts.append(f"触发时间：{format_time(message.fired_at)}（北京时间）")
    deadline = _deadline(message)
    if deadline:
        parts.append(f"**{deadline}**")
    parts.append(f"[查看预警]({_markdown_url(message.link)})")
    if message.others:
        parts.append(_group_header(message))
        parts.append(
            "\n".join(f"- [{_subject(o)}]({_markdown_url(o.link)})" for o in message.others)
        )
    parts.append(_english(message))
    return "\n\n".join(parts)


def render_sms(message: AlertMessage, limit: int = 300) -> str:
    """One SMS text of at most ``limit`` characters: subject, time, deadline, link.

    Cut with ``…`` when longer, which only happens with unusually long names.
    """
    parts = [_subject(message), format_time(message.fired_at)]
    deadline = _deadline(message)
    if deadline:
        parts.append(deadline)
    parts.append(message.link)
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"
