"""Which playbooks an alert triggers, at which level, for which area."""

from __future__ import annotations

import pytest

from events.regions import RegionReference, load_reference
from playbooks import Library, PlaybooksError, UnknownPlaybookError, load_library, load_text

LINYI, LANSHAN = "371300", "371302"  # 临沂市 and 兰山区, a district of it
JINAN, LIXIA = "370100", "370102"  # 济南市 and 历下区
PROVINCE = "370000"


@pytest.fixture(scope="module")
def shandong() -> RegionReference:
    """The Shandong region reference (GB/T 2260)."""
    return load_reference("shandong")


@pytest.fixture(scope="module")
def library() -> Library:
    """The shipped playbook library."""
    return load_library()


def matched(
    library: Library,
    reference: RegionReference,
    level: str,
    indicator: str | None,
    region: str,
    kinds: set[str] | None = None,
) -> list[tuple[str, str, str]]:
    found = library.matching(level, indicator, region, kinds or set(), reference)
    return [(m.playbook.id, m.level, m.area) for m in found]


def test_reference_codes_are_what_the_tests_assume(shandong: RegionReference) -> None:
    lanshan = shandong.get(LANSHAN)
    assert lanshan is not None and lanshan.level == "county" and lanshan.parent == LINYI
    assert shandong.root().code == PROVINCE


def test_a_county_disaster_alert_proposes_for_its_city(
    library: Library, shandong: RegionReference
) -> None:
    assert matched(library, shandong, "II", "disaster_area", LANSHAN, {"natural_disaster"}) == [
        ("natural_disaster", "II", LINYI)
    ]
    assert matched(library, shandong, "IV", "disaster_area", LINYI, {"epidemic"}) == [
        ("epidemic", "IV", LINYI)
    ]


def test_disaster_kinds_select_the_playbook(library: Library, shandong: RegionReference) -> None:
    both = {"natural_disaster", "epidemic"}
    assert [m[0] for m in matched(library, shandong, "I", "disaster_area", LIXIA, both)] == [
        "epidemic",
        "natural_disaster",
    ]
    # the disaster-area alert alone, with no flag of a kind, proposes nothing
    assert matched(library, shandong, "I", "disaster_area", LIXIA) == []


def test_the_level_must_reach_the_trigger(library: Library, shandong: RegionReference) -> None:
    kinds = {"policy_adjustment"}
    assert matched(library, shandong, "IV", "people_laid_off_7d", JINAN, kinds) == []
    assert matched(library, shandong, "III", "people_laid_off_7d", JINAN, kinds) == [
        ("policy_adjustment", "III", JINAN)
    ]
    assert matched(library, shandong, "I", "people_laid_off_7d", LIXIA, kinds) == [
        ("policy_adjustment", "I", JINAN)
    ]


def test_the_indicator_must_be_listed(library: Library, shandong: RegionReference) -> None:
    assert matched(library, shandong, "IV", "concentrated_layoffs_7d", LINYI) == [
        ("mass_layoff", "IV", LINYI)
    ]
    assert matched(library, shandong, "I", "people_laid_off_7d", LINYI) == []
    assert matched(library, shandong, "I", None, LINYI, {"natural_disaster"}) == []


def test_a_region_above_the_scope_or_unknown_matches_nothing(
    library: Library, shandong: RegionReference
) -> None:
    assert matched(library, shandong, "I", "concentrated_layoffs_7d", PROVINCE) == []
    assert matched(library, shandong, "I", "concentrated_layoffs_7d", "379999") == []


SCOPED = """\
playbook:
  id: scoped
  title: 测试 / Scoped
  trigger:
    alert_level_at_least: IV
    scope: {level: LEVEL, within: "WITHIN"}
  activation: proposed
  roles: {lead: 组长 / Lead}
  variants: {I: {}, II: {}, III: {}, IV: {}}
  steps:
    - {id: act, title: 行动 / Act, owner: lead, deadline: 1h}
"""


def scoped(level: str, within: str | None, reference: RegionReference) -> Library:
    text = SCOPED.replace("LEVEL", level)
    text = (
        text.replace('"WITHIN"', f'"{within}"')
        if within
        else text.replace(', within: "WITHIN"', "")
    )
    return load_text(text, "scoped.yaml", reference=reference)


def test_scope_within_a_city(shandong: RegionReference) -> None:
    library = scoped("county", LINYI, shandong)
    assert matched(library, shandong, "IV", "x", LANSHAN) == [("scoped", "IV", LANSHAN)]
    assert matched(library, shandong, "IV", "x", LIXIA) == []  # Jinan is not in Linyi
    assert matched(library, shandong, "IV", "x", LINYI) == []  # a city is above county
    city = scoped("city", LINYI, shandong)  # one city: itself
    assert matched(city, shandong, "III", "x", LANSHAN) == [("scoped", "III", LINYI)]
    assert matched(city, shandong, "III", "x", JINAN) == []


def test_scope_province_covers_everything(shandong: RegionReference) -> None:
    library = scoped("province", None, shandong)
    for region in (LANSHAN, JINAN, PROVINCE):
        assert matched(library, shandong, "I", None, region) == [("scoped", "I", PROVINCE)]


def test_an_unknown_level_is_an_error(library: Library, shandong: RegionReference) -> None:
    with pytest.raises(PlaybooksError, match="unknown alert level 'normal'"):
        library.matching("normal", None, LINYI, set(), shandong)


def test_require_names_the_known_ids(library: Library) -> None:
    assert library.get("flood") is None
    with pytest.raises(UnknownPlaybookError) as info:
        library.require("flood")
    assert str(info.value) == (
        "no playbook with id 'flood' in the library; known ids: "
        "epidemic, mass_layoff, natural_disaster, policy_adjustment"
    )
