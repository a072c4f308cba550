"""`explain --as-of`: every recognition decision replayed from the log with the facts known
then and the version it names; a rule change between two decisions keeps both explained."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from case_harness import PERSON, ROOT, CaseHarness

from cases.explain import explain
from cases.person import PersonAggregate
from cases.policy import CasePolicy
from cases.rules import RuleBook, load_recognition
from events.regions import RegionReference

REGISTER = {
    "region": "370102",
    "target_group": "employment_difficulty",
    "gender": "female",
    "birth_date": "1983-05-06",
    "facts": {"able_to_work": True},
}


def _rules_with_a_2026_version(tmp_path: Path) -> RuleBook:
    """The shipped rule set, with Jinan raising the older woman's age to 45 from 2026-07-01."""
    rule_set = (ROOT / "deploy/recognition/shandong-default.yaml").read_text("utf-8")
    (tmp_path / "shandong-default.yaml").write_text(rule_set, "utf-8")
    (tmp_path / "cities.yaml").write_text(
        """\
cities:
  "370100":
    name: 济南市
    versions:
      - {version: 1, effective_from: 2024-01-01, effective_to: 2026-06-30,
         rule_set: shandong-default@1}
      - {version: 2, effective_from: 2026-07-01, rule_set: shandong-default@1,
         parameters: {older_woman_age: 45}, source: "test: a city document of 2026"}
""",
        "utf-8",
    )
    return load_recognition(tmp_path)


def test_each_decision_is_reproduced_with_the_version_it_names(
    tmp_path: Path, policy: CasePolicy, shandong: RegionReference
) -> None:
    rules = _rules_with_a_2026_version(tmp_path)
    case = CaseHarness(
        PersonAggregate(rules, policy, shandong),
        PersonAggregate(rules, policy, shandong).initial(PERSON),
    )
    case.send("register", REGISTER, on=dt.date(2026, 3, 2))  # 42: a woman of 40+ under v1
    assert case.state.recognised["employment_difficulty"].rule_set == "370100@1"
    case.send("evaluate", {}, on=dt.date(2026, 7, 2))  # v2 asks 45: revoked
    assert "employment_difficulty" not in case.state.recognised

    before = explain(PERSON, case.events, rules, shandong, dt.date(2026, 6, 1))
    assert before.reproduced and [d.event_type for d in before.decisions] == ["person.recognized"]
    assert before.rules_then == "370100@1" and before.recognised_then == {
        "employment_difficulty": "370100@1 ed.older_woman"
    }
    read = {c.condition: c.value for c in before.decisions[0].replayed.conditions}  # type: ignore[union-attr]
    assert read["age >= $older_woman_age"] == 42

    after = explain(PERSON, case.events, rules, shandong, dt.date(2026, 7, 2))
    assert after.reproduced
    assert [(d.event_type, d.rule_set) for d in after.decisions] == [
        ("person.recognized", "370100@1"),
        ("person.recognition_revoked", "370100@2"),
    ]
    assert after.recognised_then == {} and after.rules_then == "370100@2"


def test_a_decision_that_does_not_replay_says_what_differs(
    case: CaseHarness, rulebook: RuleBook, shandong: RegionReference
) -> None:
    case.send("register", REGISTER, on=dt.date(2026, 3, 2))
    # tamper with the recorded values: the replay must notice
    tampered = []
    for e in case.events:
        if e.event_type == "person.recognized":
            p = e.payload_dict()
            p["conditions"] = [
                {**c, "value": 39} if c["condition"] == "age >= $older_woman_age" else c
                for c in p["conditions"]
            ]
            e = e.model_copy(update={"payload": type(e.payload).model_validate(p)})
        tampered.append(e)
    found = explain(PERSON, tampered, rulebook, shandong, dt.date(2026, 3, 2))
    assert not found.reproduced
    assert found.decisions[0].differences == (
        "age >= $older_woman_age: the log read 39, the replay 42",
    )


def test_nothing_is_known_before_the_person_was_registered(
    case: CaseHarness, rulebook: RuleBook, shandong: RegionReference
) -> None:
    case.send("register", REGISTER, on=dt.date(2026, 3, 2))
    empty = explain(PERSON, case.events, rulebook, shandong, dt.date(2026, 3, 1))
    assert empty.decisions == () and empty.facts_then == {} and empty.region is None
