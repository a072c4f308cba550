"""The demo's live table: how it labels and paints a level, and which level a city shows
(the most severe open alert of the city or its counties), on the scale of
``events.severity``."""

from __future__ import annotations

from typing import Any

from eams.tools.demo import LEVEL_LABEL, LEVEL_STYLE, city_levels


def test_a_level_is_labelled_with_its_colour_and_painted_in_the_terminal_palette() -> None:
    assert list(LEVEL_LABEL.items()) == [
        ("I", "红 I"),
        ("II", "橙 II"),
        ("III", "黄 III"),
        ("IV", "蓝 IV"),
    ]
    assert list(LEVEL_STYLE.items()) == [
        ("I", "bold white on red"),
        ("II", "bold black on dark_orange"),
        ("III", "black on yellow"),
        ("IV", "white on blue"),
    ]


def _alert(region: str, city: str | None, level: str) -> dict[str, Any]:
    return {"region": region, "city": city, "level": level}


def test_a_city_shows_its_most_severe_alert_a_county_its_own() -> None:
    alerts = [
        _alert("371302", "371300", "III"),
        _alert("371300", "371300", "IV"),
        _alert("371311", "371300", "II"),
        _alert("371302", "371300", "I"),
        _alert("370100", None, "IV"),
        _alert("370102", "370100", "IV"),
    ]
    assert city_levels(alerts) == {
        "371300": "I",
        "371302": "I",
        "371311": "II",
        "370100": "IV",
        "370102": "IV",
    }


def test_the_first_alert_of_a_level_stays_and_a_level_beats_none() -> None:
    assert city_levels([_alert("371302", "371300", "")]) == {"371302": "", "371300": ""}
    got = city_levels([_alert("371302", "371300", ""), _alert("371302", "371300", "IV")])
    assert got == {"371302": "IV", "371300": "IV"}
