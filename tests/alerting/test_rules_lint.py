"""Rule files are linted with one line-numbered error per problem."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from alerting.errors import AlertingError, RuleError
from alerting.indicator_names import INDICATOR_NAMES
from alerting.rules import (
    DEFAULT_RULES,
    Scope,
    Threshold,
    lint_rules,
    lint_rules_text,
    load_rules,
    load_rules_text,
)
from events.regions import RegionReference, load_reference

NAMES = INDICATOR_NAMES


@pytest.fixture(scope="module")
def shandong() -> RegionReference:
    """The Shandong region reference (GB/T 2260)."""
    return load_reference("shandong")


def lint(text: str, reference: RegionReference | None = None) -> list[tuple[int, str]]:
    """Lint ``text`` and return (line, message) of each problem."""
    errors = lint_rules_text(textwrap.dedent(text), "t.yaml", indicators=NAMES, reference=reference)
    assert all(e.file == "t.yaml" for e in errors)
    return [(e.line, e.message) for e in errors]


GOOD = """\
rules:
  - id: layoffs.city
    title: 城市裁员人数 / People laid off
    indicator: people_laid_off_7d
    kind: absolute
    scope: {level: county, within: "370100"}
    levels:
      IV: {enter: 50, exit: 40}
      I: {enter: 500, exit: 400}
    pending: 5m
"""


def test_default_rules_lint_clean(shandong: RegionReference) -> None:
    assert lint_rules(DEFAULT_RULES, indicators=NAMES, reference=shandong) == []
    rules = load_rules(DEFAULT_RULES, indicators=NAMES, reference=shandong)
    assert len(rules) >= 10
    used = {rule.indicator for rule in rules}
    assert used <= NAMES
    assert {"people_laid_off_7d", "headcount_report_gap", "disaster_area"} <= used
    gap = rules.by_id("data.county.headcount_report_gap")
    assert gap is not None
    assert gap.kind == "data_gap"
    assert gap.source == "enterprise.headcount_reported"
    assert gap.cadence == timedelta(days=35)
    disaster = rules.by_id("emergency.city.disaster_area")
    assert disaster is not None
    assert [(n, t.enter, t.exit) for n, t in disaster.levels.items()] == [
        ("IV", 1, 1),
        ("III", 2, 2),
        ("II", 3, 3),
        ("I", 4, 4),
    ]


def test_good_rule_loads_with_defaults(shandong: RegionReference) -> None:
    rules = load_rules_text(GOOD, "good.yaml", indicators=NAMES, reference=shandong)
    rule = rules.by_id("layoffs.city")
    assert rule is not None
    assert rule.scope == Scope(level="county", within="370100", regions=())
    assert list(rule.levels) == ["IV", "I"]
    assert rule.levels["I"] == Threshold(500, 400)
    assert rule.pending == timedelta(minutes=5)
    assert rule.keep_firing == timedelta(0)
    assert (rule.file, rule.line) == ("good.yaml", 2)
    assert rules.by_id("nope") is None
    with pytest.raises(AlertingError, match="layoffs.city"):
        rules.require("nope")
    assert rule.scope.covers("370102", shandong)  # 历下区, in 济南市
    assert not rule.scope.covers("370202", shandong)  # 市南区, in 青岛市
    assert not rule.scope.covers("370100", shandong)  # a city, not a county


def test_every_problem_is_reported_at_its_line(shandong: RegionReference) -> None:
    text = """\
        rules:
          - id: Bad Id
            title: x
            indicator: people_laid_off_7d
            kind: absolute
            scope: {level: town}
            levels:
              IV: {enter: 10, exit: 20}
              V: {enter: 30, exit: 20}
            pending: soon
            colour: red
          - id: ok.rule
            title: ok
            indicator: risk_index
            kind: ratio_to_baseline
            scope:
              level: city
              regions: ["370100", "379999"]
            levels:
              IV: {enter: 60, exit: 50}
              III: {enter: 40, exit: 30}
              I: {enter: high, exit: 80}
          - just a string
          - id: gap.rule
            indicator: headcount_report_gap
            kind: data_gap
            scope: {level: county}
            levels: {IV: {enter: 1, exit: 1}}
            cadence: 35 days
            low_window: 12mo
        """
    expected = [
        (2, "bad id 'Bad Id'"),
        (6, "unknown scope level 'town'; use one of county, city, province"),
        (8, "level IV exit 20 is above its enter 10"),
        (9, "unknown key 'V' in levels; did you mean 'IV'? allowed: IV, III, II, I"),
        (10, "pending: invalid duration 'soon'"),
        (11, "unknown key 'colour' in a rule; allowed: id, title"),
        (12, "kind 'ratio_to_baseline' needs the key 'baseline'"),
        (18, "scope has both 'regions' and 'level'"),
        (18, "regions: unknown region code '379999'"),
        (21, "level III enter 40 is below level IV enter 60"),
        (21, "level III exit 30 is below level IV exit 50"),
        (22, "level I enter must be a number, got 'high'"),
        (23, "each rule must be a mapping"),
        (24, "rule is missing the required key 'title'"),
        (24, "kind 'data_gap' needs the key 'source'"),
        (29, "cadence: invalid duration '35 days'"),
        (30, "'low_window' applies only to kind 'rise_over_low', not 'data_gap'"),
    ]
    problems = lint(text, shandong)
    assert [line for line, _ in problems] == [line for line, _ in expected], problems
    for (line, message), (_, part) in zip(problems, expected, strict=True):
        assert part in message, (line, message)
    # messages say what to do, not only what is wrong
    assert "mo (months of 30 days)" in problems[4][1]
    assert "remove it or change the kind" in problems[16][1]


def test_syntax_error_has_the_parser_line() -> None:
    text = """\
        rules:
          - id: a
            title: [unclosed
            kind: absolute
        """
    [(line, message)] = lint(text)
    assert line == 4
    assert message.startswith("YAML syntax error")


def test_duplicate_id_points_at_the_second() -> None:
    second = GOOD.replace("rules:\n", "")
    [(line, message)] = lint(GOOD + second)
    assert line == 11  # GOOD is 10 lines; the second rule's id is on line 11
    assert "duplicate rule id 'layoffs.city' (first defined at t.yaml:2)" in message


def test_unknown_indicator_suggests_the_close_name() -> None:
    [(line, message)] = lint(GOOD.replace("people_laid_off_7d", "people_layed_off_7d"))
    assert line == 4
    assert "unknown indicator 'people_layed_off_7d'" in message
    # both close names are offered, the closest first
    assert "did you mean 'people_laid_off_7d' or 'people_laid_off_7d_per_million'?" in message


def test_top_level_shape_problems() -> None:
    assert lint("- a\n- b\n") == [(1, "the file must be a mapping with a 'rules:' list of rules")]
    [(line, message), (line2, missing)] = lint("\nrulez: []\n")
    assert line == 2 and "unknown key 'rulez'" in message and "did you mean 'rules'?" in message
    assert line2 == 2 and "missing the top-level key 'rules:'" in missing
    assert lint("rules: 3\n")[0][0] == 1
    assert lint("") == [(1, "the file must be a mapping with a 'rules:' list of rules")]


def test_unquoted_region_codes_are_accepted(shandong: RegionReference) -> None:
    text = GOOD.replace('{level: county, within: "370100"}', "{regions: [370102, 370103]}")
    rules = load_rules_text(text, "t.yaml", indicators=NAMES, reference=shandong)
    assert rules.rules[0].scope == Scope(level=None, within=None, regions=("370102", "370103"))


def test_within_must_be_above_the_level(shandong: RegionReference) -> None:
    text = GOOD.replace('within: "370100"', 'within: "370102"')
    [(line, message)] = lint(text, shandong)
    assert line == 6 and "within '370102' is a county" in message


def test_load_raises_the_first_problem_and_names_the_lint_command(tmp_path: Path) -> None:
    bad = GOOD.replace("kind: absolute", "kind: relative").replace("5m", "5 minutes")
    (tmp_path / "b.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path, indicators=NAMES)
    error = caught.value
    assert (Path(error.file).name, error.line) == ("b.yaml", 5)
    assert "(and 1 more)" in error.message and "eams rules lint" in error.message
    assert "unknown kind 'relative'" in error.message
    assert str(error).startswith(f"{error.file}:5: invalid alerting rules")


def test_directory_reads_yaml_files_in_order_and_checks_ids_across(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(GOOD.replace("layoffs.city", "b.rule"), encoding="utf-8")
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not rules", encoding="utf-8")
    rules = load_rules(tmp_path, indicators=NAMES)
    assert [r.id for r in rules] == ["layoffs.city", "b.rule"]
    (tmp_path / "c.yaml").write_text(GOOD, encoding="utf-8")
    [error] = lint_rules(tmp_path, indicators=NAMES)
    assert Path(error.file).name == "c.yaml" and error.line == 2
    assert "a.yaml:2" in error.message
    [empty] = lint_rules(tmp_path / "missing.yaml", indicators=NAMES)
    assert "cannot read the rule file" in empty.message


def test_rule_error_str_and_hierarchy() -> None:
    error = RuleError("r.yaml", 7, "bad thing; fix it")
    assert str(error) == "r.yaml:7: bad thing; fix it"
    assert isinstance(error, AlertingError)
    from events.errors import EamsError

    assert isinstance(error, EamsError)
