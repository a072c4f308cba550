"""``eams subsidies``: ``lint`` on the shipped catalogue and on a clerk's broken copy
(file:line, exit 1), and ``policies`` showing a city's figures of the year in either language."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from eams.cli.app import app

ROOT = Path(__file__).parents[3]
SHIPPED = ROOT / "deploy" / "policies"


def test_lint_passes_the_shipped_catalogue() -> None:
    done = CliRunner().invoke(app, ["subsidies", "lint"])
    assert done.exit_code == 0, done.output
    assert "OK" in done.output


def test_lint_names_file_and_line_and_exits_1(tmp_path: Path) -> None:
    shipped = (SHIPPED / "shandong-default.yaml").read_text(encoding="utf-8")
    (tmp_path / "set.yaml").write_text(
        shipped.replace("requires: [in_low_income_graduate, household_in_need]",
                        "requires: [in_low_income_graduate, houshold_in_need]"),
        encoding="utf-8",
    )  # fmt: skip
    (tmp_path / "cities.yaml").write_text((SHIPPED / "cities.yaml").read_text(), encoding="utf-8")
    done = CliRunner().invoke(app, ["subsidies", "lint", str(tmp_path)])
    assert done.exit_code == 1, done.output
    line = shipped[: shipped.index("requires: [in_low_income_graduate, household")].count("\n") + 1
    assert f"{tmp_path / 'set.yaml'}:{line}: " in done.output
    assert "did you mean 'household_in_need'?" in done.output


def test_policies_show_the_citys_figures_of_the_year() -> None:
    y2026 = CliRunner().invoke(app, ["subsidies", "policies", "--city", "370700",
                                     "--on", "2026-03-01"])  # fmt: skip
    assert y2026.exit_code == 0, y2026.output
    assert "潍坊市 370700 · 370700@2" in y2026.output
    assert "公益性岗位补贴 [welfare_post_pay]" in y2026.output
    assert "minimum_wage ¥2,200.00 × 0.5" in y2026.output
    assert "一次性（每人限一次）" in y2026.output
    y2025 = CliRunner().invoke(app, ["subsidies", "policies", "--city", "370700",
                                     "--on", "2025-03-01", "--lang", "en"])  # fmt: skip
    assert "minimum_wage ¥2,100.00 × 0.5" in y2025.output
    assert "One-time job-search subsidy [job_search_one_time]" in y2025.output
    assert "monthly, at most 36 months; until retirement if within 5 years of it" in y2025.output


def test_policies_say_what_is_wrong_with_the_city_or_the_day() -> None:
    unknown = CliRunner().invoke(app, ["subsidies", "policies", "--city", "379900"])
    assert unknown.exit_code == 1 and "no catalogue for city '379900'" in unknown.output
    assert "370700" in unknown.output
    bad_day = CliRunner().invoke(app, ["subsidies", "policies", "--city", "370700",
                                       "--on", "2025-13-01"])  # fmt: skip
    assert bad_day.exit_code == 2 and "expected a day as YYYY-MM-DD" in bad_day.output


def test_fraud_lint_and_rules() -> None:
    done = CliRunner().invoke(app, ["fraud", "lint"])
    assert done.exit_code == 0 and "OK" in done.output, done.output
    shown = CliRunner().invoke(app, ["fraud", "rules", "--lang", "en"])
    assert shown.exit_code == 0, shown.output
    assert "Paid twice for one period" in shown.output and "min_persons=2" in shown.output


def test_fraud_lint_names_the_line_of_a_mistyped_threshold(tmp_path: Path) -> None:
    rules = (ROOT / "deploy" / "fraud" / "rules.yaml").read_text(encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(rules.replace("min_persons: 2", "min_person: 2"))
    done = CliRunner().invoke(app, ["fraud", "lint", str(tmp_path / "rules.yaml")])
    assert done.exit_code == 1, done.output
    line = rules[: rules.index("min_persons: 2")].count("\n") + 1
    assert f"rules.yaml:{line}: rules[3].min_person: unknown key 'min_person'" in done.output
    assert "did you mean 'min_persons'?" in done.output
