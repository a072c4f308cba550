"""Rendering of alert messages: pure functions, no I/O."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from alerting.notify import (
    AlertMessage,
    AlertMessageError,
    format_number,
    render,
    render_markdown,
    render_sms,
)
from events.severity import LEVELS

FIRED = datetime(2026, 11, 27, 6, 3, 41, tzinfo=UTC)  # 14:03 in Shanghai


def make_message(**changes: object) -> AlertMessage:
    base = AlertMessage(
        alert_id="al-0192",
        kind="firing",
        level="II",
        rule_title="集中裁员（单月）",
        region_code="371300",
        region_name="临沂市",
        indicator="people_laid_off",
        indicator_label="裁员人数",
        value=2310.0,
        threshold=1000.0,
        fired_at=FIRED,
        link="https://eams.hrss.example/alerts/al-0192",
        report_due=FIRED + timedelta(hours=2),
        values={"失业保险申领": 845.0, "岗位空缺比": 0.62},
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_subject_has_level_colour_region_value_and_threshold() -> None:
    subject, _ = render(make_message())
    assert subject == "【橙色预警 II级】临沂市 裁员人数 2,310（阈值 1,000）"


@pytest.mark.parametrize(("level", "colour"), [(str(lv.name), lv.colour_zh) for lv in LEVELS])
def test_every_level_names_its_colour(level: str, colour: str) -> None:
    subject, body = render(make_message(level=level))
    assert f"{colour}预警 {level}级" in subject
    assert f"级别：{level}级 {colour}预警" in body


def test_body_lists_facts_in_shanghai_time() -> None:
    _, body = render(make_message())
    assert "地区：临沂市（371300）" in body
    assert "指标：裁员人数 2,310（阈值 1,000）" in body
    assert "其他指标：失业保险申领 845；岗位空缺比 0.62" in body
    assert "触发时间：2026-11-27 14:03（北京时间）" in body
    assert "须于 2026-11-27 16:03 前报告" in body
    assert "https://eams.hrss.example/alerts/al-0192" in body
    assert "集中裁员（单月）" in body
    # one short English line
    english = [line for line in body.splitlines() if line.startswith("EAMS alert")]
    assert english == [
        "EAMS alert firing: level II (orange) in region 371300, "
        "people_laid_off 2,310 (threshold 1,000)."
    ]


def test_time_is_converted_from_any_offset() -> None:
    fired = datetime(2026, 11, 27, 1, 3, tzinfo=timezone(timedelta(hours=-5)))
    _, body = render(make_message(fired_at=fired, report_due=None))
    assert "触发时间：2026-11-27 14:03" in body
    assert "须于" not in body


def test_resolved_says_lifted_and_drops_the_deadline() -> None:
    subject, body = render(make_message(kind="resolved", value=420.0))
    assert subject.startswith("【解除 橙色预警 II级】临沂市")
    assert "已解除" in body
    assert "须于" not in body
    assert "EAMS alert resolved" in body


def test_reminder_and_escalation_are_marked() -> None:
    assert "·提醒】" in render(make_message(kind="reminder"))[0]
    subject, body = render(make_message(kind="escalation"))
    assert "·升级】" in subject
    assert "升级" in body.splitlines()[0]


def test_missing_value_and_threshold_are_left_out() -> None:
    subject, _ = render(
        make_message(indicator="data_gap", indicator_label="数据缺报", value=None, threshold=None)
    )
    assert subject == "【橙色预警 II级】临沂市 数据缺报"


def test_markdown_for_robots() -> None:
    md = render_markdown(make_message(region_name="临沂市 兰山区"))
    assert md.startswith("### 【橙色预警 II级】临沂市 兰山区 裁员人数 2,310（阈值 1,000）\n")
    assert "**级别：II级 橙色预警**" in md
    assert "[查看预警](https://eams.hrss.example/alerts/al-0192)" in md
    assert "**须于 2026-11-27 16:03 前报告**" in md
    assert "2026-11-27 14:03" in md


def test_markdown_link_cannot_break_out() -> None:
    md = render_markdown(make_message(link="https://eams.example/a?q=(x) y"))
    assert "[查看预警](https://eams.example/a?q=%28x%29%20y)" in md


def test_sms_is_short_and_complete() -> None:
    text = render_sms(make_message())
    assert text.startswith("【橙色预警 II级】临沂市 裁员人数 2,310（阈值 1,000）")
    assert "须于 2026-11-27 16:03 前报告" in text
    assert text.endswith("https://eams.hrss.example/alerts/al-0192")
    long = render_sms(make_message(region_name="临" * 400))
    assert len(long) == 300
    assert long.endswith("…")


@pytest.mark.parametrize(
    ("value", "text"),
    [(2310.0, "2,310"), (0.0534, "0.0534"), (1234.5, "1,234.5"), (None, "—"), (-3.0, "-3")],
)
def test_format_number(value: float | None, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize(
    "changes",
    [
        {"level": "V"},
        {"kind": "acknowledged"},
        {"fired_at": datetime(2026, 11, 27, 14, 3)},
        {"report_due": datetime(2026, 11, 27, 16, 3)},
        {"link": "javascript:alert(1)"},
    ],
)
def test_invalid_messages_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(AlertMessageError):
        make_message(**changes)


def test_message_type_has_no_personal_fields() -> None:
    names = {f.name for f in dataclasses.fields(AlertMessage)}
    personal = {"name", "id_number", "phone", "mobile", "person", "pseudonym", "address"}
    assert not names & personal
