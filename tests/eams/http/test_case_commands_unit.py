"""The pure parts of the case officers' routes: what a clear ID becomes at the route, the
command a registration form sends (masks only), lead ids, and the labels beside an
explanation's codes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest

from cases.explain import explain
from cases.rules import load_recognition
from eams.http.case_commands import (
    DiscoverForm,
    RegisterForm,
    explained,
    identity,
    lead_id_for,
    register_payload,
)
from eams.http.errors import InvalidRequestError
from events.envelope import internal_event
from events.identity import make_national_id
from events.privacy import pseudonym
from events.regions import load_reference

SECRET = b"unit-secret-0123456789abcdef0123"
ROOT = Path(__file__).parents[3]
WOMAN = make_national_id("370102", dt.date(1981, 5, 6), 24)  # 17th digit 4: even
MAN = make_national_id("371302", dt.date(2000, 2, 29), 13)  # 17th digit 3: odd


def test_an_id_gives_the_pseudonym_masks_gender_and_birth_date() -> None:
    woman = identity(WOMAN.lower(), SECRET, name="欧阳娜娜", phone="139 1234 5678")
    assert woman.person_id == pseudonym(WOMAN, SECRET)
    assert woman.national_id_masked == WOMAN[:6] + "********" + WOMAN[-4:]
    assert (woman.gender.value, woman.birth_date) == ("female", dt.date(1981, 5, 6))
    assert (woman.name_masked, woman.phone_masked) == ("欧阳**", "139****5678")
    man = identity(MAN, SECRET)
    assert (man.gender.value, man.birth_date) == ("male", dt.date(2000, 2, 29))
    assert man.name_masked is None and man.phone_masked is None


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (WOMAN[:17] + ("1" if WOMAN[17] != "1" else "2"), f"expected '{WOMAN[17]}'"),
        (WOMAN[:16], "must be 18 characters, got 16"),
        ("370102198113061234", "not a real date"),
    ],
)
def test_a_wrong_id_is_refused_naming_the_field_and_what_was_expected(
    value: str, said: str
) -> None:
    with pytest.raises(InvalidRequestError, match="national_id") as e:
        identity(value, SECRET)
    assert said in str(e.value) and "18-character resident ID" in str(e.value)
    assert e.value.status == 422


def test_a_registration_sends_the_masks_and_what_the_id_says_never_the_clear_values() -> None:
    form = RegisterForm(
        national_id=WOMAN,
        name="王秀英",
        phone="13912345678",
        region="370102",
        target_group="employment_difficulty",  # type: ignore[arg-type]
    )
    payload = register_payload(form, identity(WOMAN, SECRET, name=form.name, phone=form.phone))
    text = orjson.dumps(payload).decode()
    for clear in (WOMAN, "王秀英", "13912345678", "秀英"):
        assert clear not in text
    assert payload["gender"] == "female" and payload["birth_date"] == "1981-05-06"
    assert payload["name_masked"] == "王**" and payload["phone_masked"] == "139****5678"
    assert "national_id" not in payload and "name" not in payload
    # what the officer gives wins over what the ID says
    given = form.model_copy(update={"birth_date": dt.date(1981, 5, 7)})
    assert register_payload(given, identity(WOMAN, SECRET))["birth_date"] == "1981-05-07"


def test_a_lead_id_is_stable_for_one_record() -> None:
    form = DiscoverForm(region="371302", source="civil_affairs", record_on=dt.date(2026, 3, 1))  # type: ignore[arg-type]
    first = lead_id_for("p_" + "a" * 32, form)
    assert first == lead_id_for("p_" + "a" * 32, form) and first.startswith("L-20260301-")
    assert first != lead_id_for("p_" + "b" * 32, form)


def test_an_explanation_carries_names_labels_and_rule_titles() -> None:
    reference = load_reference("shandong")
    rules = load_recognition(
        ROOT / "deploy" / "recognition", cities={c.code: c.name for c in reference.cities()}
    )
    person = "p_" + "c" * 32
    at = dt.datetime(2026, 3, 2, 12, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    facts = {"gender": "female", "birth_date": "1981-05-06", "employed": False,
             "unemployed_since": "2026-03-02", "able_to_work": True}  # fmt: skip
    events = [
        internal_event("person.registered", region="370102", aggregate_id=person, actor="zhao",
                       source="test", occurred_at=at,
                       payload={"person_id": person, "target_group": "employment_difficulty",
                                "employment_status": "unemployed",
                                "registered_on": "2026-03-02"}),
        internal_event("person.facts_recorded", region="370102", aggregate_id=person,
                       actor="zhao", source="test", occurred_at=at,
                       payload={"person_id": person, "facts": facts, "observed_on": "2026-03-02",
                                "source": "registration"}),
    ]  # fmt: skip
    doc = explained(
        explain(person, events, rules, reference, dt.date(2026, 3, 2)).as_dict(), rules, reference
    )
    assert doc["region_name"] == {"zh": "历下区", "en": None}
    assert doc["city_name"] == {"zh": "济南市", "en": "Jinan"}
    held = {j["group"]: j for j in doc["judged_then"]}["employment_difficulty"]
    assert held["holds"] and held["rule_id"] == "ed.older_woman"
    assert held["group_label"]["zh"] == "就业困难人员" and held["rule_title"]["zh"]
