"""Region reference: Shandong GB/T 2260 divisions and US FIPS codes."""

from __future__ import annotations

import pytest

from events.errors import EventRejectedError, ReferenceDataError
from events.regions import RegionReference, load_reference


def test_shandong_counts(shandong: RegionReference) -> None:
    assert shandong.hierarchy == "shandong"
    assert len(shandong.cities()) == 16
    counties = shandong.counties()
    assert len(counties) == 151
    zones = [c for c in counties if c.is_statistical_zone]
    assert len(zones) == 15
    assert len(counties) - len(zones) == 136
    assert len(shandong) == 1 + 16 + 151


def test_shandong_root_and_cities(shandong: RegionReference) -> None:
    root = shandong.require("370000")
    assert (root.name, root.level, root.parent) == ("山东省", "province", None)
    jinan = shandong.require("370100")
    assert (jinan.name, jinan.name_en, jinan.level) == ("济南市", "Jinan", "city")
    assert jinan.population == 9_202_000
    assert shandong.require("370900").name_en == "Tai'an"
    assert all(c.population and c.name_en for c in shandong.cities())
    total = sum(c.population or 0 for c in shandong.cities())
    assert root.population is not None
    assert abs(total - root.population) / root.population < 1e-4


def test_shandong_tree_navigation(shandong: RegionReference) -> None:
    assert [r.code for r in shandong.ancestors("370102")] == ["370100", "370000"]
    assert shandong.ancestors("370000") == []
    assert shandong.city_of("370102") == "370100"
    assert shandong.city_of("370100") == "370100"
    assert shandong.city_of("370000") is None
    assert shandong.city_of("999999") is None
    kids = {r.code for r in shandong.children("370100")}
    assert {"370102", "370116", "370117", "370176"} <= kids
    assert all(r.parent == "370100" for r in shandong.children("370100"))
    assert len(shandong.children("370000")) == 16
    assert "370102" in shandong
    assert "379999" not in shandong


def test_statistical_zone_flag(shandong: RegionReference) -> None:
    zone = shandong.require("370176")
    assert zone.is_statistical_zone
    assert zone.name == "济南高新技术产业开发区"
    assert not shandong.require("370102").is_statistical_zone


def test_require_unknown_code_says_what_is_expected(shandong: RegionReference) -> None:
    with pytest.raises(EventRejectedError) as info:
        shandong.require("379999")
    assert info.value.field == "region"
    assert str(info.value) == (
        "region: '379999' is not a Shandong division code "
        "(GB/T 2260, 6 digits; see eams regions list)"
    )


def test_require_retired_laiwu_code_explains(shandong: RegionReference) -> None:
    with pytest.raises(EventRejectedError, match="merged into 济南市") as info:
        shandong.require("371200", field="payload.regions[0]")
    assert info.value.field == "payload.regions[0]"


def test_us_counts(us: RegionReference) -> None:
    assert len(us.cities()) == 51
    assert len(us.counties()) == 3142
    assert us.require("US").level == "province"
    texas = us.require("48")
    assert (texas.name, texas.level, texas.parent) == ("Texas", "city", "US")
    assert us.require("01").name == "Alabama"
    assert us.require("01001").name == "Autauga"


def test_us_navigation(us: RegionReference) -> None:
    assert [r.code for r in us.ancestors("48201")] == ["48", "US"]
    assert us.city_of("48201") == "48"


def test_us_require_suggests_zero_padding(us: RegionReference) -> None:
    with pytest.raises(EventRejectedError, match="did you mean '01001'"):
        us.require("1001")


def test_load_reference_is_cached_and_rejects_unknown() -> None:
    assert load_reference("shandong") is load_reference("shandong")
    assert load_reference() is load_reference("shandong")
    with pytest.raises(ReferenceDataError, match="known: shandong, us"):
        load_reference("mars")
