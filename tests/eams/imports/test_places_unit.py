"""Region names to places: US states and counties as state offices spell them, Chinese names
at any level, former names, ambiguity, the level and within filters, the cache; and every
county cell of the real WARN files (../shared/data/warn/raw) resolved inside its state.

The WARN spellings quoted below are copied from those files (biglocalnews/warn-transformer
``tests/data/raw`` at 39bab89, Apache-2.0). The whole-column tests count every cell by
outcome and name the spellings that do not resolve, so a matching change that moves one
cell shows here.
"""

from __future__ import annotations

import csv
import functools
import re
from collections import Counter
from pathlib import Path

import pytest

from eams.imports.errors import PlaceError
from eams.imports.places import Level, Place, Places
from eams.settings import PROJECT_ROOT
from events.regions import REFERENCE_DIR, Region, load_reference

RAW = PROJECT_ROOT / "tests" / "data" / "warn_raw"
MERGED = load_reference("shandong,us")


@pytest.fixture(scope="module")
def places() -> Places:
    return Places(MERGED)


def region(code: str) -> Region:
    found = MERGED.get(code)
    assert found is not None, code
    return found


def resolve(
    places: Places, text: str, within: str | None = None, level: Level | None = None
) -> Place:
    return places.resolve(text, within=region(within) if within else None, level=level)


def failure(
    places: Places, text: str, within: str | None = None, level: Level | None = None
) -> PlaceError:
    with pytest.raises(PlaceError) as caught:
        resolve(places, text, within, level)
    return caught.value


# --- the United States ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["IL", "il", "Illinois", "ILLINOIS", "17", "ＩＬ", " IL "])
def test_a_state_by_abbreviation_name_or_fips(places: Places, text: str) -> None:
    assert resolve(places, text).region.code == "17"


@pytest.mark.parametrize(
    ("state", "text", "code"),
    [
        ("17", "Winnebago County", "17201"),
        ("17", "Du Page County", "17043"),  # the reference writes "Dupage"
        ("17", "DuPage", "17043"),
        ("17", "Saint Clair County", "17163"),  # the reference writes "St Clair"
        ("17", "St. Clair", "17163"),
        ("17", "De Kalb", "17037"),
        ("17", "DeWitt County", "17039"),  # the reference writes "De Witt"
        ("17", "LaSalle", "17099"),
        ("17", "Cook Co.", "17031"),
        ("17", "  cook   county ", "17031"),
        ("48", "Dewitt", "48123"),
        ("36", "New York", "36061"),
        ("22", "St Tammany Parish", "22103"),
        ("02", "Denali", "02068"),
        ("02", "Hoonah-Angoon Census Area", "02105"),
        ("51", "Richmond city", "51760"),
        ("51", "Richmond County", "51159"),
        ("51", "Charles City County", "51036"),  # a county whose name ends in "City"
        ("24", "Baltimore City", "24510"),
        ("24", "Baltimore County", "24005"),
        ("29", "St. Louis city", "29510"),
    ],
)
def test_county_spellings_inside_their_state(
    places: Places, state: str, text: str, code: str
) -> None:
    assert resolve(places, text, within=state, level="county").region.code == code


def test_every_us_county_by_its_written_name() -> None:
    reference = load_reference("us")
    places = Places(reference)
    wrong = []
    for county in reference.counties():
        text = county.name if county.name.endswith(" City") else f"{county.name} County"
        state = reference.get(county.parent or "")
        got = places.resolve(text, within=state, level="county")
        if got.region != county:
            wrong.append((text, county.code, got.region.code))
    assert wrong == []
    assert len(reference.counties()) == 3142


def test_a_virginia_city_and_county_of_one_name_are_ambiguous(places: Places) -> None:
    error = failure(places, "Richmond", within="51")
    assert error.kind == "ambiguous place"
    assert str(error) == (
        "'Richmond' matches Richmond County (51159) and Richmond City (51760): "
        "write the full name, e.g. Richmond City"
    )


def test_a_county_name_of_many_states_asks_for_the_state(places: Places) -> None:
    error = failure(places, "Lake", level="county")
    assert error.kind == "ambiguous place"
    assert str(error).startswith("'Lake' matches Lake County, California (06033), ")
    assert str(error).endswith("Lake County, Michigan (26085) and 6 more: give the state (within)")


def test_codes_and_zeros_excel_dropped(places: Places) -> None:
    assert resolve(places, "17031").region.name == "Cook"
    assert resolve(places, "1001").region.code == "01001"  # Autauga, read as a number
    assert resolve(places, "6").region.code == "06"
    error = failure(places, "17031", within="48")
    assert str(error) == (
        "'17031' is not a place in Texas (48); it names Cook County, Illinois (17031)"
    )


def test_a_misspelt_county_gets_suggestions_from_its_state(places: Places) -> None:
    error = failure(places, "Cook Countyy", within="17", level="county")
    assert error.kind == "unknown place"
    assert str(error) == (
        "'Cook Countyy' is not a county of Illinois (17); did you mean Cook County (17031)?"
    )


def test_a_county_of_another_state_is_named(places: Places) -> None:
    error = failure(places, "Vanderburgh", within="17", level="county")
    assert str(error) == (
        "'Vanderburgh' is not a county of Illinois (17); it names "
        "Vanderburgh County, Indiana (18163)"
    )


def test_a_state_name_wins_over_counties_of_that_name_elsewhere(places: Places) -> None:
    ohio = resolve(places, "Ohio")
    assert ohio.region.code == "39"
    assert ohio.note is not None and "Ohio County, Kentucky (21183)" in ohio.note
    new_york = resolve(places, "New York")
    assert new_york.region.code == "36"
    assert new_york.note == "'New York' also names New York County, New York (36061)"
    assert resolve(places, "New York", level="county").region.code == "36061"
    assert resolve(places, "New York", within="36").region.code == "36061"


def test_within_is_strict(places: Places) -> None:
    error = failure(places, "Ohio", within="39")
    assert str(error) == "'Ohio' is not a place in Ohio (39): it names Ohio (39) itself"


# --- Shandong ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "within", "level"),
    [
        ("临沂市兰山区", None, None),
        ("山东省临沂市兰山区", None, None),
        ("山东省 临沂市 兰山区", None, "county"),
        ("临沂兰山", None, None),
        ("兰山区", None, None),
        ("兰山", None, None),
        ("兰山", "371300", None),
        ("兰山区", "371300", "county"),
        ("山东兰山区", "370000", None),
        ("371302", None, None),
        ("３７１３０２", None, None),  # fullwidth digits
        ("371302.0", None, None),  # a number cell
        ("371302000000", None, None),  # a 12-digit statistical code
    ],
)
def test_one_county_written_many_ways(
    places: Places, text: str, within: str | None, level: Level | None
) -> None:
    place = resolve(places, text, within, level)
    assert (place.region.code, place.note) == ("371302", None)


@pytest.mark.parametrize("text", ["临沂市", "临沂", "Linyi", "LINYI", "371300", "山东省临沂市"])
def test_one_city_written_many_ways(places: Places, text: str) -> None:
    assert resolve(places, text).region.code == "371300"


def test_every_shandong_county_by_path_and_inside_its_city() -> None:
    reference = load_reference("shandong")
    places = Places(reference)
    for county in reference.counties():
        city = reference.get(county.parent or "")
        assert city is not None
        assert places.resolve(city.name + county.name).region == county
        assert places.resolve(county.name, within=city).region == county
        assert places.resolve(county.code, level="county").region == county


def test_the_names_that_collide_in_the_reference() -> None:
    """What actually collides in shandong_divisions_2023.csv: one full name, two stems."""
    reference = load_reference("shandong")
    names = Counter(r.name for r in reference)
    assert {n for n, c in names.items() if c > 1} == {"市中区"}
    stems = Counter(re.sub("(自治县|省|市|区|县)$", "", r.name) for r in reference)
    assert {s for s, c in stems.items() if c > 1 and len(s) > 1} == {"市中", "东营"}


def test_a_name_of_two_counties_is_an_error_naming_both(places: Places) -> None:
    error = failure(places, "市中区")
    assert error.kind == "ambiguous place"
    assert str(error) == (
        "'市中区' matches 济南市 市中区 (370103) and 枣庄市 市中区 (370402): "
        "give the city (within) or write the full name, e.g. 枣庄市市中区"
    )
    assert resolve(places, "市中区", within="370400").region.code == "370402"
    assert resolve(places, "济南市市中区").region.code == "370103"
    stem = failure(places, "市中")  # the stem also was Jining's 市中区, now 任城区
    assert "former 市中区 (370802), now 济宁市 任城区 (370811)" in str(stem)


def test_development_zones_by_their_short_names(places: Places) -> None:
    zone = resolve(places, "济南高新区")
    assert (zone.region.code, zone.region.is_statistical_zone) == ("370176", True)
    assert resolve(places, "高新区", within="370100").region.code == "370176"
    assert resolve(places, "经开区", within="370500").region.code == "370571"
    assert resolve(places, "威海火炬高新区").region.code == "371071"
    error = failure(places, "高新区")
    assert error.kind == "ambiguous place"
    assert "(370176)" in str(error) and "(371772)" in str(error)
    assert str(error).endswith(
        "give the city (within) or write the full name, e.g. 菏泽市菏泽高新技术开发区"
    )


def test_a_city_and_its_county_of_one_stem(places: Places) -> None:
    dongying = resolve(places, "东营")
    assert dongying.region.code == "370500"
    assert dongying.note == "'东营' also names 东营市 东营区 (370502)"
    assert resolve(places, "东营", level="county").region.code == "370502"
    assert resolve(places, "东营区").region.code == "370502"


def test_the_level_filter(places: Places) -> None:
    error = failure(places, "临沂市", level="county")
    assert str(error) == "'临沂市' is not a known county; it names 临沂市 (371300)"
    assert failure(places, "兰山区", level="city").kind == "unknown place"
    assert resolve(places, "临沂", level="city").region.code == "371300"
    assert resolve(places, "山东", level="province").region.code == "370000"


def test_the_within_filter(places: Places) -> None:
    error = failure(places, "兰山区", within="370100")
    assert str(error) == (
        "'兰山区' is not a place in 济南市 (370100); it names 临沂市 兰山区 (371302)"
    )
    path = failure(places, "济南市兰山区")
    assert str(path) == "'济南市兰山区' is not a known place; did you mean 临沂市 兰山区 (371302)?"


def test_a_misspelt_chinese_name_gets_a_suggestion(places: Places) -> None:
    assert str(failure(places, "兰山去")) == (
        "'兰山去' is not a known place; did you mean 临沂市 兰山区 (371302)?"
    )


# --- former names --------------------------------------------------------------------------


def _former_rows() -> list[dict[str, str]]:
    with (REFERENCE_DIR / "shandong_former_names.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_former_names_file_against_the_2023_divisions() -> None:
    with (REFERENCE_DIR / "shandong_divisions_2023.csv").open(encoding="utf-8") as f:
        current = {row["county_code"]: row for row in csv.DictReader(f)}
    cities = {row["city_code"] for row in current.values()}
    for row in _former_rows():
        successor = row["successor_code"]
        assert row["former_code"] not in current or row["former_code"] == successor, row
        if row["level"] == "city":  # 莱芜市: its successor is a city
            assert (successor in cities, row["former_city_code"]) == (True, ""), row
            continue
        # a county stays in its city, but for the districts of 莱芜市 (371200)
        assert row["former_city_code"] in (current[successor]["city_code"], "371200"), row
        approved = re.fullmatch(r"(国函|民函)〔(\d{4})〕\d+号", row["approval"])
        assert approved is not None, row
        assert int(approved[2]) in (int(row["year"]), int(row["year"]) - 1), row


@pytest.mark.parametrize("row", _former_rows(), ids=lambda row: row["former_name"])
def test_every_former_name_and_code_resolves_to_its_successor(
    places: Places, row: dict[str, str]
) -> None:
    successor = region(row["successor_code"])
    assert resolve(places, row["former_code"]).region == successor
    by_name = resolve(places, row["former_name"], within=successor.parent)
    assert by_name.region == successor
    if row["former_name"] != successor.name:  # 钢城区 is also today's name
        assert by_name.note is not None
        assert f"in {row['year']} ({row['approval']})" in by_name.note


def test_laiwu(places: Places) -> None:
    city = resolve(places, "莱芜市")
    assert city.region.code == "370100"
    assert city.note == (
        "莱芜市 (371200) is a former name: in 2019 (国函〔2018〕163号) it merged into 济南市, "
        "where it is now 莱芜区 (370116) and 钢城区 (370117)"
    )
    assert resolve(places, "371200").region.code == "370100"
    # "莱芜" is both today's 莱芜区 and the former city: the city, which holds both, wins
    stem = resolve(places, "莱芜")
    assert stem.region.code == "370100"
    assert stem.note is not None and stem.note.endswith("'莱芜' also names 济南市 莱芜区 (370116)")
    assert resolve(places, "莱芜", level="county").region.code == "370116"
    path = resolve(places, "莱芜市莱城区")
    assert path.region.code == "370116"
    assert path.note is not None and "莱城区 (371202) is a former name" in path.note
    assert resolve(places, "钢城区").note is None  # today's name, no former reading
    assert resolve(places, "济宁市市中区").region.code == "370811"


def test_county_level_cities_that_became_districts(places: Places) -> None:
    for text, code in [("即墨市", "370215"), ("胶南市", "370211"), ("文登市", "371003"),
                       ("兖州市", "370812"), ("陵县", "371403"), ("沾化县", "371603"),
                       ("蓬莱市", "370614"), ("长岛县", "370614"), ("垦利县", "370505"),
                       ("定陶县", "371703"), ("济阳县", "370115"), ("章丘市", "370114"),
                       ("苍山县", "371324")]:  # fmt: skip
        place = resolve(places, text)
        assert place.region.code == code, text
        assert place.note is not None and place.note.startswith(f"{text} ("), text


# --- the merged reference ------------------------------------------------------------------


def test_each_hierarchy_alone_and_merged() -> None:
    shandong, us = Places(load_reference("shandong")), Places(load_reference("us"))
    assert shandong.resolve("Linyi").region.code == "371300"
    assert us.resolve("Illinois").region.code == "17"
    with pytest.raises(PlaceError):
        us.resolve("临沂")
    with pytest.raises(PlaceError):
        shandong.resolve("Illinois")


def test_blank_text_is_empty(places: Places) -> None:
    for text in ("", "   ", "\u3000"):
        assert failure(places, text).kind == "empty"
    for parts in ([], ["", " "]):
        with pytest.raises(PlaceError) as caught:
            places.resolve_parts(parts)
        assert caught.value.kind == "empty"


# --- parts ---------------------------------------------------------------------------------


def parts(places: Places, cells: list[str], within: str | None = None) -> Place:
    return places.resolve_parts(cells, within=region(within) if within else None)


def test_a_city_county_cell_takes_the_county(places: Places) -> None:
    assert parts(places, ["Cambridge", "Guernsey"], within="39").region.code == "39059"
    assert parts(places, ["临沂市", "兰山区"]).region.code == "371302"
    assert parts(places, ["兰山区", "临沂市"]).region.code == "371302"
    assert parts(places, ["Texas", "Lake"]).region.code == "48"  # no Lake County in Texas


def test_a_part_ambiguous_alone_is_tried_inside_the_others(places: Places) -> None:
    assert parts(places, ["市中区", "枣庄市"]).region.code == "370402"
    assert parts(places, ["IL", "Lake"]).region.code == "17097"


def test_a_city_named_like_another_county_yields_to_the_later_part(places: Places) -> None:
    place = parts(places, ["Warren", "Trumbull"], within="39")
    assert place.region.code == "39155"
    assert place.note == (
        "'Warren' also names Warren County (39165); the later part, 'Trumbull', was taken"
    )


def test_parts_that_contradict_each_other(places: Places) -> None:
    with pytest.raises(PlaceError) as caught:
        parts(places, ["济南市", "兰山区"])
    assert caught.value.kind == "ambiguous place"
    assert str(caught.value) == (
        "'济南市' and '兰山区' name different places: 济南市 (370100) does not hold "
        "临沂市 兰山区 (371302); fix one"
    )


def test_no_part_resolving_inside_within_is_an_error(places: Places) -> None:
    with pytest.raises(PlaceError) as caught:
        parts(places, ["Unknown", "Unknown"], within="39")
    assert caught.value.kind == "unknown place"
    assert str(caught.value).startswith(
        "no part of 'Unknown' / 'Unknown' names a place in Ohio (39): "
        "'Unknown' is not a place in Ohio (39)"
    )
    with pytest.raises(PlaceError):
        parts(places, ["Ohio"], within="39")  # within itself is not below within


# --- the cache -----------------------------------------------------------------------------


def test_a_second_resolution_is_not_computed_again() -> None:
    places = Places(MERGED)
    illinois = region("17")
    first = places.resolve("Du Page County", within=illinois, level="county")
    assert places.cache_info() == (0, 1, 1)
    again = places.resolve("Du Page County", within=illinois, level="county")
    assert again is first
    assert places.cache_info() == (1, 1, 1)
    places.resolve("Du Page County", within=illinois)  # another level is another key
    assert places.cache_info() == (1, 2, 2)


def test_errors_are_cached_and_raised_afresh() -> None:
    places = Places(MERGED)
    raised = []
    for _ in range(2):
        with pytest.raises(PlaceError) as caught:
            places.resolve("Nowhere County", within=region("17"))
        raised.append(caught.value)
    assert places.cache_info() == (1, 1, 1)
    assert raised[0] is not raised[1]
    assert (raised[0].kind, str(raised[0])) == (raised[1].kind, str(raised[1]))


# --- the real WARN files -------------------------------------------------------------------

# (state file, county column, state FIPS, split on "/", outcomes, spellings that do not resolve)
WARN = [
    ("il", "County", "17", False, {"ok": 5017, "empty": 43, "unknown place": 28},
     {"Out of State", "Not Applicable", "Vanderburgh", "Newton"}),  # IN counties, IL has none
    ("tx", "COUNTY_NAME", "48", False, {"ok": 6572, "empty": 10}, set()),
    ("ny", "Impacted Site County", "36", False, {"ok": 252}, set()),
    ("oh", "City/County", "39", True, {"ok": 762, "unknown place": 40},
     {"Various Cities/Various Counties", "Unknown/Unknown", "Unknown/Out-of-State", "Statewide",
      "Lakemore", "Richmond Heights and North Jackson/Various Counties",
      "Worthington/Columbus", "Garfield Heights/Cleveland"}),  # no county named in any
]  # fmt: skip


@functools.cache
def _column(state: str, column: str) -> list[str]:
    path: Path = RAW / f"{state}.csv"
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        at = next(rows).index(column)
        return [row[at] if at < len(row) else "" for row in rows]


@pytest.mark.parametrize(("state", "column", "fips", "split", "counts", "unresolved"), WARN)
def test_warn_county_columns(
    state: str,
    column: str,
    fips: str,
    split: bool,
    counts: dict[str, int],
    unresolved: set[str],
) -> None:
    if not (RAW / f"{state}.csv").exists():
        pytest.skip("../shared/data/warn/raw is not present in this checkout")
    places, within = Places(MERGED), region(fips)
    outcomes: Counter[str] = Counter()
    failed: set[str] = set()
    for cell in _column(state, column):
        try:
            if split:
                places.resolve_parts(cell.split("/"), within=within)
            else:
                places.resolve(cell, within=within, level="county")
        except PlaceError as exc:
            outcomes[exc.kind] += 1
            if exc.kind != "empty":
                failed.add(cell)
        else:
            outcomes["ok"] += 1
    assert dict(outcomes) == counts
    assert failed == unresolved
    # OH: 40 of 802 cells name no county at all (above); every other cell resolves
    assert outcomes["ok"] / sum(outcomes.values()) >= (0.95 if state == "oh" else 0.98)


@pytest.mark.parametrize(
    ("state", "county", "code"),
    [
        ("TX", "Harris", "48201"),
        ("tx", "harris county", "48201"),
        ("48", "Harris County", "48201"),
        ("Texas", "HARRIS", "48201"),
        ("GA", "Harris", "13145"),
        ("MD", "Baltimore County", "24005"),
        ("MD", "Baltimore City", "24510"),
        ("MO", "St. Louis City", "29510"),
        ("LA", "Orleans Parish", "22071"),
        ("AL", "Autauga", "01001"),
        ("1", "Autauga", "01001"),
    ],
)
def test_a_county_within_its_state(places: Places, state: str, county: str, code: str) -> None:
    """The cases RegionReference.find_county was tested with, now that Places does it."""
    assert places.resolve(county, within=places.resolve(state).region).region.code == code


def test_no_such_county_or_state(places: Places) -> None:
    texas = places.resolve("TX").region
    with pytest.raises(PlaceError, match="'Nowhere' is not a place in Texas"):
        places.resolve("Nowhere", within=texas)
    with pytest.raises(PlaceError, match="'ZZ' is not a known place"):
        places.resolve("ZZ")
