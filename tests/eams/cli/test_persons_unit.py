"""``eams persons``: how an explanation is printed (pure), and ``rules lint`` on the shipped
configuration and on a broken rules folder (file:line, exit 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from eams.cli.app import app
from eams.cli.persons import render

ROOT = Path(__file__).parents[3]


def _doc(**changes: Any) -> dict[str, Any]:
    recognised = {
        "event_id": "e1",
        "event_type": "person.recognized",
        "event_label": {"zh": "援助对象认定", "en": "Person recognised"},
        "group": "employment_difficulty",
        "group_label": {"zh": "就业困难人员", "en": "Persons with employment difficulties"},
        "day": "2026-03-02",
        "rule_set": "370100@1",
        "recorded_rule": "ed.older_woman",
        "replayed_rule": "ed.older_woman",
        "rule_title": {"zh": "女性年满40周岁", "en": "Women aged 40 and over"},
        "replayed_holds": True,
        "conditions": [
            {"rule": "requires", "condition": "not employed", "value": False, "ok": True},
            {"rule": "ed.older_woman", "condition": "age >= $older_woman_age", "value": 44,
             "ok": True},
            {"rule": "ed.long_term_unemployed", "condition": "unemployed_days >= 365",
             "value": 1234, "ok": False},
        ],
        "reproduced": True,
        "differences": [],
    }  # fmt: skip
    doc: dict[str, Any] = {
        "person_id": "p_" + "c" * 32,
        "as_of": "2026-03-31",
        "region": "370102",
        "region_name": {"zh": "历下区", "en": None},
        "city": "370100",
        "city_name": {"zh": "济南市", "en": "Jinan"},
        "reproduced": True,
        "decisions": [recognised],
        "facts_then": {"employed": False, "birth_date": "1981-05-06", "disability": None},
        "rules_then": "370100@1",
        "judged_then": [
            {"group": "employment_difficulty", "group_label": recognised["group_label"],
             "holds": True, "rule_id": "ed.older_woman", "rule_title": recognised["rule_title"],
             "conditions": []},
            {"group": "rural_surplus_labour", "group_label": {"zh": "农村留守劳动力",
             "en": "Rural surplus labour"}, "holds": False, "rule_id": None, "rule_title": {},
             "conditions": [{"rule": "requires", "condition": "hukou == rural",
                             "value": None, "ok": False}]},
        ],
        "events_read": 7,
        "truncated": False,
    }  # fmt: skip
    return doc | changes


def test_each_decision_shows_day_group_rules_conditions_and_whether_it_reproduced() -> None:
    lines = render(_doc(), "zh")
    text = "\n".join(lines)
    assert lines[0] == f"人员 {'p_' + 'c' * 32}  历下区, 济南市  截至 2026-03-31"
    assert "1. 2026-03-02  援助对象认定  就业困难人员" in lines
    assert "   规则版本 370100@1  ed.older_woman 女性年满40周岁" in lines
    assert "   ✓ not employed  → false" in lines
    assert "   ✓ [ed.older_woman] age >= $older_woman_age  → 44" in lines
    assert "   ✗ [ed.long_term_unemployed] unemployed_days >= 365  → 1,234" in lines
    assert "   重放结果一致: 是" in lines
    assert "   disability = —" in lines and "   employed = false" in lines
    assert "   ✓ 就业困难人员: 符合  ed.older_woman 女性年满40周岁" in lines
    assert "   ✗ 农村留守劳动力: 不符合" in lines and "      ✗ hukou == rural  → —" in lines
    assert "王" not in text  # the explanation holds no identity, masked or not


def test_english_a_decision_that_differs_and_a_cut_log() -> None:
    doc = _doc(note="only the first 5,000 of 6,100 events were replayed", reproduced=False)
    doc["decisions"][0] |= {"reproduced": False, "differences": ["the replay does not hold"]}
    lines = render(doc, "en")
    assert lines[0].endswith("历下区, Jinan  as of 2026-03-31")  # no English county name
    assert "note: only the first 5,000 of 6,100 events were replayed" in lines
    assert "1. 2026-03-02  Person recognised  Persons with employment difficulties" in lines
    assert "   NOT reproduced: no" in lines and "     - the replay does not hold" in lines
    assert (
        "   ✓ Persons with employment difficulties: holds  ed.older_woman Women aged 40 and over"
        in lines
    )


def test_no_decision_and_no_rules_in_force_are_said() -> None:
    lines = render(_doc(decisions=[], rules_then=None, judged_then=[], facts_then={}), "en")
    assert "no recognition decision by that day" in lines
    assert (
        lines[-1] == "Judged by the rules in force that day: "
        "the city had no recognition rules in force that day"
    )


def test_rules_lint_passes_the_shipped_configuration() -> None:
    done = CliRunner().invoke(app, ["persons", "rules", "lint"])
    assert done.exit_code == 0, done.output
    assert "OK" in done.output


def test_rules_lint_names_file_and_line_and_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "rules"
    broken.mkdir()
    (broken / "set.yaml").write_text(
        (ROOT / "deploy" / "recognition" / "shandong-default.yaml")
        .read_text()
        .replace("when: [unemployed_days", "when: [unemployed_dayz", 1),
        encoding="utf-8",
    )
    (broken / "cities.yaml").write_text(
        (ROOT / "deploy" / "recognition" / "cities.yaml").read_text(), encoding="utf-8"
    )
    done = CliRunner().invoke(app, ["persons", "rules", "lint", str(broken)])
    assert done.exit_code == 1, done.output
    shipped = (ROOT / "deploy" / "recognition" / "shandong-default.yaml").read_text()
    line = shipped[: shipped.index("when: [unemployed_days")].count("\n") + 1
    assert f"{broken / 'set.yaml'}:{line}: " in done.output
    assert "unknown fact 'unemployed_dayz'; did you mean 'unemployed_days'?" in done.output


@pytest.mark.parametrize("lang", ["fr"])
def test_explain_refuses_an_unknown_language_before_asking_the_worker(lang: str) -> None:
    done = CliRunner().invoke(
        app, ["persons", "explain", "p_" + "c" * 32, "--purpose", "x", "--lang", lang]
    )
    assert done.exit_code == 2 and "zh or en" in done.output
