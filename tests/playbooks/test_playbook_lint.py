"""Playbook definitions are linted with one ``file:line: message`` error per problem."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from alerting.indicator_names import INDICATOR_NAMES
from events.regions import RegionReference, load_reference
from playbooks import (
    DEFAULT_LIBRARY,
    PlaybookError,
    lint_paths,
    lint_text,
    load_library,
    load_text,
)
from playbooks.lint import main

GOOD = """\
playbook:
  id: flood
  title: 洪水援助 / Flood assistance
  trigger:
    alert_level_at_least: III
    indicators: [disaster_area]
    disaster_kinds: [natural_disaster]
    scope: {level: county, within: "371300"}
  activation: proposed
  roles:
    commander: 指挥 / Commander
    officer: 专员 / Officer
    approver: 审核 / Approver
  variants:
    I: {welfare_posts: 30, subsidy_amount: 1500, enrolment_grace: 90d, deadlines: {assess: 1h}}
    II: {welfare_posts: 20, subsidy_amount: 1000, enrolment_grace: 60d}
    III: {welfare_posts: 10, subsidy_amount: 800, enrolment_grace: 30d}
    IV: {welfare_posts: 5, subsidy_amount: 500.5, enrolment_grace: 0d}
  steps:
    - id: assess
      title: 研判 / Assess
      owner: commander
      deadline: 6h
      checklist: [核对名单 / Check the list]
    - id: enrol
      title: 登记 / Enrol
      owner: officer
      deadline: 1d
      depends_on: [assess]
      action: {kind: enrol_temporary_assistance}
    - id: posts
      title: 岗位 / Posts
      owner: officer
      deadline: 2d
      depends_on: [assess]
      action: {kind: open_welfare_posts}
    - id: approve
      title: 审批 / Approve
      owner: approver
      deadline: 2d
      depends_on: [enrol]
      approval: true
    - id: pay
      title: 发放 / Pay
      owner: approver
      deadline: 3d
      depends_on: [approve]
      action: {kind: subsidy_batch}
    - id: tell
      title: 通报 / Tell
      owner: commander
      deadline: 1h
      action: {kind: notify, roles: [officer], message: 启动 / Started}
"""


@pytest.fixture(scope="module")
def shandong() -> RegionReference:
    """The Shandong region reference (GB/T 2260)."""
    return load_reference("shandong")


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """Return the 1-based line of the ``nth`` line of ``text`` containing ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) >= nth, f"{needle!r} not in the text"
    return hits[nth - 1]


def change(old: str, new: str, text: str = GOOD) -> str:
    """Replace ``old`` (which must occur once) by ``new`` in ``text``."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def lint(text: str) -> list[tuple[int, str]]:
    """Lint ``text`` as ``t.yaml`` and return (line, message) of each problem."""
    errors = lint_text(text, "t.yaml", known_indicators=INDICATOR_NAMES)
    assert all(e.file == "t.yaml" for e in errors)
    assert all(str(e) == f"t.yaml:{e.line}: {e.message}" for e in errors)
    return [(e.line, e.message) for e in errors]


def only(text: str) -> tuple[int, str]:
    """Lint ``text`` and return its one problem."""
    problems = lint(text)
    assert len(problems) == 1, problems
    return problems[0]


# -- the shipped library -----------------------------------------------------------------


def test_library_lints_clean_with_known_indicators(shandong: RegionReference) -> None:
    assert lint_paths(DEFAULT_LIBRARY, reference=shandong, known_indicators=INDICATOR_NAMES) == []
    library = load_library(reference=shandong, known_indicators=INDICATOR_NAMES)
    assert set(library.ids) == {"natural_disaster", "mass_layoff", "epidemic", "policy_adjustment"}
    for playbook in library:
        assert list(playbook.variants) == ["IV", "III", "II", "I"]
        assert " / " in playbook.title
        assert playbook.activation == "proposed"
        assert not playbook.drill
        for step in playbook.steps:
            if step.action is not None and step.action.kind == "subsidy_batch":
                gates = [playbook.step(d) for d in playbook.prerequisites(step.id)]
                assert any(g is not None and g.approval for g in gates)


def test_library_values_are_typed() -> None:
    flood = load_library().require("natural_disaster")
    assert flood.variants["I"].subsidy_amount == Decimal("1800")
    assert flood.variants["I"].enrolment_grace == timedelta(days=90)
    assert flood.deadline("assess", "I") == timedelta(hours=2)
    assert flood.deadline("assess", "III") == timedelta(hours=12)
    assert flood.deadline("enrol", "I") == timedelta(days=3)
    assert flood.action_parameters("pay_subsidy", "II") == {"subsidy_amount": Decimal("1200")}
    assert flood.action_parameters("open_posts", "IV") == {"welfare_posts": 50}
    assert flood.action_parameters("assess", "IV") == {}
    assert flood.prerequisites("pay_subsidy") == {"approve_subsidy", "enrol", "assess"}


def test_lint_main_prints_ok_and_problems(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main([], out=out) == 0
    assert out.getvalue() == f"{DEFAULT_LIBRARY}: OK\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        change("owner: officer\n      deadline: 1d", "owner: officr\n      deadline: 1d")
    )
    out = io.StringIO()
    assert main([str(bad)], out=out) == 1
    line = line_of(bad.read_text(), "officr")
    assert out.getvalue().splitlines() == [
        f"{bad}:{line}: step owner 'officr' is not a role of this playbook; "
        "did you mean 'officer'?",
        "1 problem(s)",
    ]


# -- a good definition -------------------------------------------------------------------


def test_good_definition_loads(shandong: RegionReference) -> None:
    assert lint(GOOD) == []
    flood = load_text(GOOD, "good.yaml", reference=shandong).require("flood")
    assert flood.file == "good.yaml"
    assert flood.trigger.scope.level == "county"
    assert flood.trigger.scope.within == "371300"
    assert [s.id for s in flood.steps] == ["assess", "enrol", "posts", "approve", "pay", "tell"]
    tell = flood.step("tell")
    assert tell is not None and tell.action is not None
    assert tell.action.roles == ("officer",)
    assert tell.line == line_of(GOOD, "id: tell")
    assert flood.variants["IV"].subsidy_amount == Decimal("500.5")
    assert flood.variants["IV"].enrolment_grace == timedelta(0)
    assert flood.variants["I"].deadlines == {"assess": timedelta(hours=1)}


def test_unquoted_region_code_is_accepted() -> None:
    assert lint(change('within: "371300"', "within: 371300")) == []


# -- one problem each --------------------------------------------------------------------


def test_unknown_key_suggests_and_required_key_is_missing() -> None:
    text = change("owner: commander\n      deadline: 6h", "ownr: commander\n      deadline: 6h")
    assert lint(text) == [
        (line_of(text, "- id: assess"), "a step is missing the required key 'owner'"),
        (
            line_of(text, "ownr:"),
            "unknown key 'ownr' in a step; did you mean 'owner'? allowed: id, title, owner, "
            "deadline, depends_on, checklist, action, approval, description",
        ),
    ]


def test_missing_required_playbook_key() -> None:
    text = change("  activation: proposed\n", "")
    # reported where the playbook mapping starts
    assert only(text) == (2, "the playbook is missing the required key 'activation'")


def test_unknown_owner_role_suggests() -> None:
    text = change("owner: commander\n      deadline: 6h", "owner: comander\n      deadline: 6h")
    line, message = only(text)
    assert line == line_of(text, "comander")
    assert message == (
        "step owner 'comander' is not a role of this playbook; did you mean 'commander'?"
    )


def test_unknown_notify_role() -> None:
    text = change("roles: [officer]", "roles: [auditor]")
    line, message = only(text)
    assert line == line_of(text, "[auditor]")
    assert message.startswith("notify role 'auditor' is not a role of this playbook; known: ")


def test_unknown_dependency() -> None:
    text = change("depends_on: [enrol]", "depends_on: [enroll]")
    line, message = only(text)
    assert line == line_of(text, "[enroll]")
    assert message.startswith("depends_on 'enroll': no step has this id; did you mean 'enrol'")


def test_dependency_cycle_is_named() -> None:
    text = change(
        "deadline: 6h\n      checklist",
        "deadline: 6h\n      depends_on: [pay]\n      checklist",
    )
    line, message = only(text)
    # assess -> pay -> approve -> enrol -> assess: closed by enrol's depends_on [assess]
    assert line == line_of(text, "depends_on: [assess]")
    assert message.startswith("dependency cycle assess -> pay -> approve -> enrol -> assess;")


def test_self_dependency_is_a_cycle() -> None:
    text = change("depends_on: [approve]", "depends_on: [approve, pay]")
    line, message = only(text)
    assert line == line_of(text, "[approve, pay]")
    assert message.startswith("dependency cycle pay -> pay;")


def test_duplicate_step_id() -> None:
    text = change("- id: posts", "- id: enrol")
    assert only(text) == (
        line_of(text, "- id: enrol", 2),
        f"duplicate step id 'enrol' (first at line {line_of(text, '- id: enrol')}); "
        "give each step its own id",
    )


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("6 hours", "deadline: invalid duration '6 hours': expected a number of seconds"),
        ("0h", "deadline must be longer than zero, e.g. '24h'"),
        ("-1h", "deadline: invalid duration '-1h'"),
    ],
)
def test_bad_deadline(bad: str, expected: str) -> None:
    text = change("deadline: 6h", f"deadline: {bad}")
    line, message = only(text)
    assert line == line_of(text, f"deadline: {bad}")
    assert message.startswith(expected)


def test_unknown_disaster_kind() -> None:
    text = change("[natural_disaster]", "[flood]")
    assert only(text) == (
        line_of(text, "[flood]"),
        "unknown disaster kind 'flood'; use one of epidemic, natural_disaster, policy_adjustment",
    )


def test_bad_trigger_level() -> None:
    text = change("alert_level_at_least: III", "alert_level_at_least: V")
    line, message = only(text)
    assert line == line_of(text, "alert_level_at_least")
    assert message.startswith("alert_level_at_least 'V' is not a level; use I (most severe")


def test_bad_scope_level() -> None:
    text = change("{level: county,", "{level: town,")
    line, message = only(text)
    assert line == line_of(text, "scope:")
    assert message == "unknown scope level 'town'; use one of county, city, province"


def test_unknown_indicator_when_known_are_given() -> None:
    text = change("[disaster_area]", "[disaster_aera]")
    assert only(text) == (
        line_of(text, "disaster_aera"),
        "unknown indicator 'disaster_aera'; did you mean 'disaster_area'?",
    )
    # without a list of known indicators, any name is accepted
    assert lint_text(text, "t.yaml") == []


def test_missing_variant_level() -> None:
    text = change("    II: {welfare_posts: 20, subsidy_amount: 1000, enrolment_grace: 60d}\n", "")
    assert only(text) == (
        line_of(text, "variants:"),
        "variants lacks II; every playbook needs all four severity variants I, II, III and IV",
    )


def test_unknown_variant_level_suggests() -> None:
    text = change("    IV: {", "    Iv: {")
    assert lint(text) == [
        (
            line_of(text, "variants:"),
            "variants lacks IV; every playbook needs all four severity variants I, II, III and IV",
        ),
        (
            line_of(text, "Iv:"),
            "unknown key 'Iv' in variants; did you mean 'IV'? allowed: IV, III, II, I",
        ),
    ]


def test_variant_lacks_a_parameter_an_action_uses() -> None:
    text = change("II: {welfare_posts: 20, subsidy_amount: 1000,", "II: {welfare_posts: 20,")
    assert only(text) == (
        line_of(text, "    II:"),
        f"variant II lacks 'subsidy_amount', which the subsidy_batch action of step 'pay' "
        f"(line {line_of(text, 'kind: subsidy_batch')}) uses; add it to every variant",
    )


def test_bad_variant_values() -> None:
    text = change(
        "III: {welfare_posts: 10, subsidy_amount: 800,",
        "III: {welfare_posts: 0, subsidy_amount: 1.001,",
    )
    line = line_of(text, "    III:")
    assert lint(text) == [
        (line, "variant III welfare_posts must be a whole number >= 1, got 0"),
        (
            line,
            "variant III subsidy_amount must be a number of yuan above zero with at most two "
            "decimals (e.g. 1500), got 1.001",
        ),
    ]


def test_variant_deadline_override_of_unknown_step() -> None:
    text = change("deadlines: {assess: 1h}", "deadlines: {asess: 1h}")
    line, message = only(text)
    assert line == line_of(text, "asess")
    assert message == "variant I deadlines: no step has the id 'asess'; did you mean 'assess'?"


def test_unknown_within_region(shandong: RegionReference) -> None:
    text = change('within: "371300"', 'within: "379999"')
    errors = lint_text(text, "t.yaml", reference=shandong)
    assert [(e.line, e.message) for e in errors] == [
        (
            line_of(text, "379999"),
            "within: unknown region code '379999'; use a code of the region reference "
            "(GB/T 2260 for Shandong, e.g. '371300' for Linyi)",
        )
    ]


def test_within_below_the_scope_level(shandong: RegionReference) -> None:
    text = change('{level: county, within: "371300"}', '{level: city, within: "371302"}')
    assert only(text) == (
        line_of(text, "371302"),
        "within '371302' is a county; no city lies within it, so pick a region at or above "
        "the scope level (city)",
    )


def test_automatic_activation_needs_a_drill() -> None:
    text = change("activation: proposed", "activation: automatic")
    line, message = only(text)
    assert line == line_of(text, "activation:")
    assert message.startswith("activation 'automatic' is allowed only for drills;")
    drill = change("activation: proposed", "activation: automatic\n  drill: true")
    assert lint(drill) == []
    assert load_text(drill, "d.yaml").require("flood").drill


def test_subsidy_batch_must_be_behind_an_approval() -> None:
    text = change("      approval: true\n", "")
    assert only(text) == (
        line_of(text, "kind: subsidy_batch"),
        "step 'pay' pays a subsidy batch but depends on no approval step; add a step with "
        "'approval: true' to its depends_on (directly or through other steps)",
    )


def test_approval_step_runs_no_action() -> None:
    text = change("approval: true\n", "approval: true\n      action: {kind: notify}\n")
    line, message = only(text)
    assert line == line_of(text, "action: {kind: notify}")
    assert message.startswith("an approval step is a manual gate and runs no action;")


def test_unknown_action_kind_and_misplaced_roles() -> None:
    text = change("{kind: open_welfare_posts}", "{kind: open_welfare_post, roles: [officer]}")
    line = line_of(text, "open_welfare_post,")
    assert lint(text) == [
        (
            line,
            "unknown action kind 'open_welfare_post'; did you mean 'open_welfare_posts'? use "
            "one of enrol_temporary_assistance, open_welfare_posts, subsidy_batch, "
            "schedule_job_fair, notify",
        ),
    ]
    text = change("{kind: open_welfare_posts}", "{kind: open_welfare_posts, message: hi}")
    assert only(text) == (
        line_of(text, "message: hi"),
        "'message' applies only to 'notify' actions, not 'open_welfare_posts'; remove it",
    )


def test_yaml_syntax_error_has_its_line() -> None:
    text = change("    - id: pay\n", "    - id: pay\n     title: [broken\n")
    line, message = only(text)
    assert message.startswith("YAML syntax error:")
    assert line >= line_of(text, "title: [broken")


def test_not_a_playbook_file() -> None:
    assert lint("rules: []\n") == [
        (1, "unknown key 'rules' in the top level; allowed: playbook"),
        (1, "missing the top-level key 'playbook:' (one playbook)"),
    ]
    assert lint("- a\n") == [(1, "the file must be a mapping with one key, 'playbook:'")]


def test_every_problem_is_reported_in_line_order() -> None:
    text = change("[natural_disaster]", "[flood]")
    text = change("owner: approver\n      deadline: 3d", "owner: payer\n      deadline: 3d", text)
    text = change("deadline: 1h\n      action", "deadline: soon\n      action", text)
    problems = lint(text)
    assert [line for line, _ in problems] == [
        line_of(text, "[flood]"),
        line_of(text, "owner: payer"),
        line_of(text, "deadline: soon"),
    ]


# -- across files ------------------------------------------------------------------------


def test_duplicate_playbook_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")
    errors = lint_paths(tmp_path)
    line = line_of(GOOD, "id: flood")
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'b.yaml'}:{line}: duplicate playbook id 'flood' (first defined at "
        f"{tmp_path / 'a.yaml'}:{line}); give each playbook its own id"
    ]


def test_load_library_raises_one_error_listing_all(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(change("[natural_disaster]", "[flood]"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(change("id: flood", "id: fire"), encoding="utf-8")
    (tmp_path / "c.yaml").write_text(change("id: flood", "id: Fire!"), encoding="utf-8")
    with pytest.raises(PlaybookError) as info:
        load_library(tmp_path)
    error = info.value
    assert len(error.problems) == 2
    assert error.file == str(tmp_path / "a.yaml")
    assert str(error).startswith(f"{tmp_path / 'a.yaml'}:{line_of(GOOD, 'natural_disaster')}: ")
    assert f"{tmp_path / 'c.yaml'}:2: bad playbook id 'Fire!'" in str(error)
    assert "eams playbooks lint" in str(error)


def test_empty_directory_is_a_problem(tmp_path: Path) -> None:
    assert [e.message for e in lint_paths(tmp_path)] == ["no *.yaml playbook files here"]


def test_the_lint_command_prints_file_and_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.yaml"
    source = Path(__file__).parents[2] / "playbooks" / "library" / "natural_disaster.yaml"
    bad.write_text(source.read_text().replace("owner: case_officer", "owner: case_oficer", 1))
    done = subprocess.run([sys.executable, "-m", "eams.cli", "playbooks", "lint", str(bad)],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 1
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "case_oficer" in t)
    assert f"{bad}:{line}:" in done.stdout and "case_oficer" in done.stdout
    good = subprocess.run([sys.executable, "-m", "eams.cli", "playbooks", "lint"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert good.returncode == 0, good.stdout + good.stderr
