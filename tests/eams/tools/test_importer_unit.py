"""CSV import: the column mapping, row conversion and the line-accurate CSV reader."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from eams.errors import ConfigError
from eams.tools.importer import Mapping, RowError, _csv_rows, convert_row, load_mapping
from events.envelope import parse_event
from events.regions import RegionReference, load_reference

WARN = Path(__file__).parents[3] / "deploy" / "mappings" / "warn_us.yaml"
HARRIS = {
    "state": "TX",
    "company": "Acme Refining, Inc.",
    "notice_date": "2022-03-01",
    "effective_date": "2022-05-01",
    "city": "Houston",
    "county": "Harris",
    "jobs": "120",
}


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    """The shipped WARN mapping."""
    return load_mapping(WARN)


@pytest.fixture(scope="module")
def ref() -> RegionReference:
    """Shandong and US merged, as a worker importing WARN data runs."""
    return load_reference("shandong,us")


def test_warn_mapping(mapping: Mapping) -> None:
    assert (mapping.event_type, mapping.schema_version) == ("layoff.reported", 2)
    assert (mapping.source, mapping.actor) == ("warn-import", "importer")
    assert str(mapping.timezone) == "America/Chicago"
    assert mapping.region == {"us_state": "state", "us_county": "county"}
    assert mapping.occurred_at.column == "notice_date"
    assert mapping.payload["laid_off"].type == "int"
    assert mapping.payload["notice_date"].optional is True
    assert mapping.payload["enterprise_name"].optional is False
    assert mapping.event_id_from[0] == "state" and "jobs" in mapping.event_id_from


def variant(tmp_path: Path, old: str, new: str) -> Path:
    text = WARN.read_text()
    assert old in text
    path = tmp_path / "mapping.yaml"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("event_type: layoff.reported\n", "", "'event_type'"),
        ("occurred_at: {column: notice_date}\n", "", "'occurred_at'"),
        (
            "laid_off: {column: jobs, type: int}",
            "laid_off: {column: jobs, type: bool}",
            "payload.laid_off.type",
        ),
        ("laid_off: {column: jobs, type: int}", "laid_off: jobs", "payload.laid_off"),
        ("America/Chicago", "America/Atlantis", "timezone"),
        ("region: {us_state: state, us_county: county}", "region: [state]", "region"),
    ],
)
def test_mapping_errors_name_file_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    path = variant(tmp_path, old, new)
    with pytest.raises(ConfigError) as info:
        load_mapping(path)
    assert str(path) in str(info.value)
    assert key in str(info.value)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("schema_version: 2", "schema_version: two"),
        (
            "event_id_from: [state, company, notice_date, effective_date, city, county, jobs]",
            "event_id_from: 5",
        ),
        ("America/Chicago", "/etc/localtime"),
    ],
)
def test_wrongly_typed_values_are_config_errors(tmp_path: Path, old: str, new: str) -> None:
    with pytest.raises(ConfigError):
        load_mapping(variant(tmp_path, old, new))


def test_harris_county_row(mapping: Mapping, ref: RegionReference) -> None:
    event = convert_row(HARRIS, mapping, ref)
    assert event["region"] == "48201"
    assert event["event_type"] == "layoff.reported" and event["schema_version"] == 2
    assert event["occurred_at"] == "2022-03-01T00:00:00-06:00"
    assert event["payload"] == {
        "enterprise_name": "Acme Refining, Inc.",
        "laid_off": 120,
        "notice_date": "2022-03-01",
        "effective_date": "2022-05-01",
    }
    envelope = parse_event(event, reference=ref)
    assert envelope.region == "48201"
    assert envelope.payload.laid_off == 120  # type: ignore[attr-defined]


def test_unknown_county_falls_back_to_the_state(mapping: Mapping, ref: RegionReference) -> None:
    assert convert_row(HARRIS | {"county": "Gotham"}, mapping, ref)["region"] == "48"
    assert convert_row(HARRIS | {"county": ""}, mapping, ref)["region"] == "48"
    assert (
        convert_row(HARRIS | {"state": "IA", "county": "Polk County"}, mapping, ref)["region"]
        == "19153"
    )


@pytest.mark.parametrize(
    ("change", "column"),
    [
        ({"jobs": ""}, "jobs"),
        ({"jobs": " "}, "jobs"),
        ({"jobs": "many"}, "jobs"),
        ({"notice_date": "March 1st"}, "notice_date"),
        ({"state": "ZZ"}, "state"),
    ],
)
def test_bad_rows_name_the_column(
    mapping: Mapping, ref: RegionReference, change: dict, column: str
) -> None:
    with pytest.raises(RowError) as info:
        convert_row(HARRIS | change, mapping, ref)
    assert info.value.column == column
    assert repr(column) in str(info.value)


def test_optional_empty_column_is_left_out(mapping: Mapping, ref: RegionReference) -> None:
    event = convert_row(HARRIS | {"effective_date": ""}, mapping, ref)
    assert "effective_date" not in event["payload"]
    parse_event(event, reference=ref)


def test_event_ids_are_stable_uuid5(mapping: Mapping, ref: RegionReference) -> None:
    first = convert_row(HARRIS, mapping, ref)["event_id"]
    assert uuid.UUID(first).version == 5
    assert convert_row(dict(HARRIS), mapping, ref)["event_id"] == first
    assert convert_row(HARRIS | {"jobs": "121"}, mapping, ref)["event_id"] != first
    assert convert_row(HARRIS | {"company": "Other"}, mapping, ref)["event_id"] != first


def test_csv_rows_keep_quoted_commas_and_newlines(tmp_path: Path) -> None:
    path = tmp_path / "warn.csv"
    path.write_bytes(
        b'state,company,jobs\nTX,"Acme, Inc.",12\nTX,"Two\nLines LLC",7\n\nIA,Plain,3\n'
    )
    rows = list(_csv_rows(path))
    assert [n for n, _, _ in rows] == [2, 3, 6]
    assert rows[0][1] == b'TX,"Acme, Inc.",12'
    assert rows[0][2] == {"state": "TX", "company": "Acme, Inc.", "jobs": "12"}
    assert rows[1][1] == b'TX,"Two\nLines LLC",7'
    assert rows[1][2]["company"] == "Two\nLines LLC"
    assert rows[2][2] == {"state": "IA", "company": "Plain", "jobs": "3"}


def test_csv_rows_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfstate,jobs\r\nTX,1\r\nWI,2")
    rows = list(_csv_rows(path))
    assert [(n, raw, row) for n, raw, row in rows] == [
        (2, b"TX,1", {"state": "TX", "jobs": "1"}),
        (3, b"WI,2", {"state": "WI", "jobs": "2"}),
    ]


def test_unterminated_quote_at_end_is_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(b'state,company,jobs\nTX,ok,1\nTX,"never closed,2\n')
    assert [n for n, _, _ in _csv_rows(path)] == [2, 3]
