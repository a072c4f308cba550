"""Recognition rules and the case policy as configuration: the shipped files lint clean, a
clerk's mistakes are named at their line, and a city's versions are chosen by date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cases.policy import lint_policy
from cases.rules import RulesError, lint_recognition, load_recognition
from events.regions import RegionReference

ROOT = Path(__file__).parents[2]

RULE_SET = """\
rule_sets:
  - id: test
    version: 1
    effective_from: 2024-01-01
    source: test
    parameters: {min_age: 40}
    groups:
      employment_difficulty:
        requires: [working_age]
        rules:
          - id: ed.age
            title: 年满
            when: [age >= $min_age]
"""


def _write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_shipped_rules_and_policy_lint_clean(shandong: RegionReference) -> None:
    cities = {c.code: c.name for c in shandong.cities()}
    assert lint_recognition(ROOT / "deploy" / "recognition", cities=cities) == []
    assert lint_policy(ROOT / "deploy" / "cases" / "policy.yaml") == []
    book = load_recognition(ROOT / "deploy" / "recognition", cities=cities)
    assert set(book.cities) == set(cities)  # every one of the 16 cities has its rules
    for city in book.cities.values():
        assert city.versions[0].source  # cited, or marked "EAMS default"


def test_mistakes_are_named_at_their_line(tmp_path: Path) -> None:
    text = RULE_SET.replace("          - id: ed.age", "          - idd: ed.age").replace(
        "[age >= $min_age]", "[agee >= $min_age]"
    )
    text += 'cities:\n  "370100":\n    name: 济南市\n    versions:\n'
    text += "      - {version: 1, effective_from: 2024-01-01, rule_set: test@2}\n"
    found = lint_recognition(_write(tmp_path, text))
    joined = "\n".join(found)
    assert (
        "rules.yaml:11: rule_sets[0].groups.employment_difficulty.rules[0].idd: "
        "unknown key 'idd'; did you mean 'id'?" in joined
    )
    assert "missing key 'id'" in joined


def test_an_unknown_fact_or_parameter_is_named(tmp_path: Path) -> None:
    text = RULE_SET.replace("[age >= $min_age]", "[agee >= $min_age, age >= $max_age]")
    found = lint_recognition(_write(tmp_path, text + "cities: {}\n"))
    assert any(":13:" in f and "unknown fact 'agee'; did you mean 'age'?" in f for f in found), (
        found
    )
    assert any("reads $max_age, which the rule set's parameters do not define" in f for f in found)


def test_overlapping_city_versions_and_unknown_rule_sets_are_refused(tmp_path: Path) -> None:
    text = RULE_SET + 'cities:\n  "370100":\n    name: 济南市\n    versions:\n'
    text += "      - {version: 1, effective_from: 2024-01-01, rule_set: test@1}\n"
    text += "      - {version: 2, effective_from: 2025-01-01, rule_set: test@3}\n"
    found = lint_recognition(_write(tmp_path, text))
    assert any(":18:" in f and "overlaps version 2" in f and "2024-12-31" in f for f in found), (
        found
    )
    assert any(":19:" in f and "no rule set 'test@3' (known: test@1)" in f for f in found), found
    with pytest.raises(RulesError, match="overlaps"):
        load_recognition(tmp_path)


def test_a_city_applies_the_version_in_force_on_the_day(tmp_path: Path) -> None:
    text = RULE_SET + 'cities:\n  "370100":\n    name: 济南市\n    versions:\n'
    text += "      - {version: 1, effective_from: 2024-01-01, effective_to: 2025-12-31,\n"
    text += "         rule_set: test@1}\n"
    text += "      - {version: 2, effective_from: 2026-01-01, rule_set: test@1,\n"
    text += "         parameters: {min_age: 45}, source: 济南市人社局 2026 年第 1 号}\n"
    book = load_recognition(_write(tmp_path, text))
    old = book.resolve("370100", dt.date(2025, 6, 1))
    new = book.resolve("370100", dt.date(2026, 6, 1))
    assert old is not None and new is not None
    assert (old.ref, old.parameters["min_age"]) == ("370100@1", 40)
    assert (new.ref, new.parameters["min_age"], new.source) == (
        "370100@2",
        45,
        "济南市人社局 2026 年第 1 号",
    )
    assert book.version("370100@1").parameters["min_age"] == 40


def test_a_policy_schedule_with_a_bad_condition_is_named(tmp_path: Path) -> None:
    text = (ROOT / "deploy" / "cases" / "policy.yaml").read_text(encoding="utf-8")
    bad = text.replace("when: [zero_employment_household]", "when: [zero_employment_housheold]")
    path = tmp_path / "policy.yaml"
    path.write_text(bad, encoding="utf-8")
    found = lint_policy(path)
    assert len(found) == 1 and "policy.yaml:12: visits.schedules[1].when[0]" in found[0], found
    assert "did you mean 'zero_employment_household'?" in found[0]
