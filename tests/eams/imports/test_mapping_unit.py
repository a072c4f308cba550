"""The mapping language: its JSON Schema, and lint problems as file:line with did-you-mean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eams.imports.errors import MappingError
from eams.imports.mapping import json_schema, lint_mapping, load_mapping

MAPPINGS = Path(__file__).parents[3] / "deploy" / "mappings"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_schema_is_the_languages() -> None:
    shipped = json.loads((MAPPINGS / "mapping.schema.json").read_text())
    assert shipped == json_schema(), (
        "regenerate: eams mapping schema > deploy/mappings/mapping.schema.json"
    )


def test_every_shipped_mapping_lints_clean() -> None:
    for path in sorted(MAPPINGS.glob("*.yaml")):
        assert lint_mapping(path) == [], path


def test_misspelt_keys_get_a_line_and_a_did_you_mean(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """version: 1
event_typ: layoff.reported
occurred_at: {column: x}
region: {column: County, fallbak: within}
skip:
  - blank
  - {column: Company, matchs: "^Total"}
fields:
  laid_off: {column: jobs, type: integr}
  enterprise_name: {column: a, template: "{b}"}
""",
    )
    assert lint_mapping(path) == [
        f"{path}:1: (top): missing key 'event_type'",
        f"{path}:2: event_typ: unknown key 'event_typ'; did you mean 'event_type'?",
        f"{path}:4: region.fallbak: unknown key 'fallbak'; did you mean 'fallback'?",
        f"{path}:7: skip[1].matches: unknown key 'matchs'; did you mean 'matches'?".replace(
            "skip[1].matches", "skip[1].matchs"
        ),
        f"{path}:9: fields.laid_off.type: unknown value 'integr'; did you mean 'integer'? "
        "(one of text, integer, number, date, datetime, boolean, national_id, code)",
        f"{path}:10: fields.enterprise_name: give exactly one of column, columns, const, "
        "template (got column, template)",
    ]


def test_meaning_is_checked_against_the_catalogue_and_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """event_type: layoff.reportd
occurred_at: {column: x}
region: {column: County}
timezone: Asia/Shanghia
fields:
  reason: {column: r, normalise: [trim, strip_sufix]}
""",
    )
    problems = lint_mapping(path)
    assert (
        f"{path}:1: event_type: unknown event type 'layoff.reportd'; "
        "did you mean 'layoff.reported'?" in problems
    )
    assert f"{path}:4: timezone: unknown time zone 'Asia/Shanghia' (e.g. Asia/Shanghai)" in problems
    assert any(p.startswith(f"{path}:6: fields.reason.normalise: ") and "strip_suffix" in p
               for p in problems)  # fmt: skip
    fixed = write(
        tmp_path,
        """event_type: layoff.reported
occurred_at: {column: x}
region: {column: County}
fields:
  laid_of: {column: jobs, type: integer}
""",
    )
    assert lint_mapping(fixed, ["x", "County", "job"]) == [
        f"{fixed}:5: fields.laid_of: layoff.reported has no field 'laid_of'; "
        "did you mean 'laid_off'?",
        f"{fixed}:5: fields.laid_of: the file has no column 'jobs'; did you mean 'job'?",
    ]


BASE = "event_type: x\noccurred_at: {column: a}\nregion: {column: b}\n"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("event_type: [", "not valid YAML"),
        ("- a list", "a mapping is a YAML object"),
        (
            BASE + "fields: {f: {column: a, on_error: default}}",
            "on_error: default needs a default value",
        ),
        (
            "event_type: x\noccurred_at: {column: a}\nregion: {column: b, fallback: within}\n",
            "fallback: within needs within",
        ),
        (
            BASE + "skip: [{column: a, matches: '('}]",
            "not a regular expression",
        ),
    ],
)
def test_broken_mappings_say_what_is_wrong(tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert str(path) in str(info.value) and needle in str(info.value)
