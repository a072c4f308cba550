"""How the command line names the levels of the severity scale: the alert list and the
playbook runs write them as they always have, now derived from ``events.severity``."""

from __future__ import annotations

from eams.cli.alerts import LEVEL_ZH as ALERT_LEVELS
from eams.cli.playbooks import LEVEL_ZH as RUN_LEVELS


def test_the_alert_list_names_a_level_by_colour_then_number() -> None:
    assert list(ALERT_LEVELS.items()) == [
        ("I", "红色 I级"),
        ("II", "橙色 II级"),
        ("III", "黄色 III级"),
        ("IV", "蓝色 IV级"),
    ]


def test_the_runs_name_a_level_by_number_then_colour() -> None:
    assert list(RUN_LEVELS.items()) == [
        ("I", "I级(红)"),
        ("II", "II级(橙)"),
        ("III", "III级(黄)"),
        ("IV", "IV级(蓝)"),
    ]
