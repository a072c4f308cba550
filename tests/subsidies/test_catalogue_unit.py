"""The policy catalogue as configuration: the shipped files lint clean for every city and
year, a clerk's mistakes are named at their line with what to write, and a city's version is
chosen by date with its own figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from events.regions import load_reference
from events.vocabulary import SubsidyKind
from subsidies.catalogue import CatalogueError, lint_catalogue, load_catalogue

ROOT = Path(__file__).parents[2]
SHIPPED = ROOT / "deploy" / "policies"

POLICY_SET = """\
policy_sets:
  - id: test
    version: 1
    effective_from: 2025-01-01
    source: test
    parameters: {grant: 1000, cap: 800}
    policies:
      - id: grant
        kind: job_search_one_time
        title: 补贴
        amount: {parameter: grant}
        period: {once: true}
        requires: [in_low_income_graduate]
"""

CITY = """\
cities:
  "370100":
    name: 济南市
    versions:
      - {version: 1, effective_from: 2025-01-01, policy_set: test@1}
"""


def _write(tmp_path: Path, *texts: str) -> Path:
    for i, text in enumerate(texts):
        (tmp_path / f"f{i}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_the_shipped_catalogue_lints_clean_for_every_city_and_year() -> None:
    shandong = load_reference("shandong")
    cities = {c.code: c.name for c in shandong.cities()}
    assert lint_catalogue(SHIPPED, cities=cities) == []
    catalogue = load_catalogue(SHIPPED, cities=cities)
    assert set(catalogue.cities) == set(cities)
    kinds = {p.kind for s in catalogue.sets.values() for p in s.policies}
    assert kinds == set(SubsidyKind)  # every kind the notice names has a policy
    for code in cities:
        y2025 = catalogue.resolve(code, dt.date(2025, 6, 1))
        y2026 = catalogue.resolve(code, dt.date(2026, 6, 1))
        assert y2025 is not None and y2026 is not None
        assert (y2025.ref, y2026.ref) == (f"{code}@1", f"{code}@2")
        assert y2025.parameters["minimum_wage"] != y2026.parameters["minimum_wage"]
        assert "EAMS default" in y2026.source
    assert catalogue.resolve("370100", dt.date(2024, 12, 31)) is None
    assert catalogue.version("370700@1").parameters["minimum_wage"] == 2100


def test_a_clean_file_loads(tmp_path: Path) -> None:
    catalogue = load_catalogue(_write(tmp_path, POLICY_SET, CITY))
    resolved = catalogue.resolve("370100", dt.date(2025, 3, 1))
    assert resolved is not None and resolved.ref == "370100@1"
    assert resolved.value("$cap") == Decimal(800)


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("requires: [in_low_income_graduate]", "requires: [in_low_income_graduat]"), 13,
         "unknown fact 'in_low_income_graduat'; did you mean 'in_low_income_graduate'?"),
        (("requires: [in_low_income_graduate]", "requires: [age >= $max_age]"), 13,
         "reads $max_age, which the set's parameters do not define"),
        (("amount: {parameter: grant}", "amount: {parameter: grants}"), 11,
         "the amount reads 'grants', which the set's parameters do not define"),
        (("amount: {parameter: grant}", "amount: {parameter: grant, fixed: 5}"), 11,
         "exactly one of fixed (a sum), parameter (a parameter's value) or claimed"),
        (("amount: {parameter: grant}", "amount: {parameter: grant, cap: $caps}"), 11,
         "the amount reads 'caps'"),
        (("period: {once: true}", "period: {once: true, months: 3}"), 12,
         "a period is either once: true or months: N"),
        (("period: {once: true}", "period: {onse: true}"), 12,
         "did you mean 'once'"),
        (("kind: job_search_one_time", "kind: job_search"), 9,
         "job_search_one_time"),
        (("        requires: [in_low_income_graduate]\n",
          "        requires: [in_low_income_graduate]\n        incompatible_with: [grnat]\n"), 14,
         "no policy 'grnat' in test@1 (known: grant)"),
    ],
)  # fmt: skip
def test_a_clerks_mistake_is_named_at_its_line(
    tmp_path: Path, change: tuple[str, str], line: int, message: str
) -> None:
    text = POLICY_SET.replace(*change)
    assert text != POLICY_SET
    found = lint_catalogue(_write(tmp_path, text, CITY))
    assert any(f":{line}:" in f and message in f for f in found), found
    with pytest.raises(CatalogueError):
        load_catalogue(tmp_path)


def test_a_citys_versions_are_checked(tmp_path: Path) -> None:
    city = CITY + (
        "      - {version: 2, effective_from: 2025-06-01, policy_set: test@1,"
        " parameters: {grant: many, cop: 1}}\n"
        "      - {version: 3, effective_from: 2026-01-01, policy_set: test@2}\n"
    )
    found = lint_catalogue(_write(tmp_path, POLICY_SET, city), cities={"370200": "青岛市"})
    said = "\n".join(found)
    assert "f1.yaml:2: cities.370100: 370100 is not a city of the region reference" in said
    assert "version 1 overlaps version 2 (from 2025-06-01); end it on 2025-05-31" in said
    grant = "f1.yaml:6: cities.370100.versions[1].parameters.grant"
    assert f"{grant}: grant is a number in test@1" in said
    assert "test@1 has no parameter 'cop' to override" in said
    assert "no policy set 'test@2' (known: test@1)" in said


def test_an_empty_or_broken_directory_says_what_is_wrong(tmp_path: Path) -> None:
    assert lint_catalogue(tmp_path) == [f"{tmp_path}: no *.yaml policy catalogue there"]
    (tmp_path / "bad.yaml").write_text("policy_sets: [\n", encoding="utf-8")
    [problem] = lint_catalogue(tmp_path)
    assert problem.startswith(f"{tmp_path / 'bad.yaml'}:") and "not valid YAML" in problem
