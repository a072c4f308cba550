"""National IDs and mobile numbers found anywhere in an event, not only in the named fields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from events.envelope import Envelope, parse_event
from events.identity import make_national_id, make_uscc
from events.pii_scan import mask_text, scrub
from events.privacy import pseudonym, pseudonymise, pseudonymised_json
from events.regions import RegionReference, load_reference

RawEvent = Callable[..., dict[str, Any]]
SECRET = b"scan-secret-0123456789abcdef0123456789"
ID = make_national_id("370102", dt.date(1990, 1, 2), 123)
OTHER_ID = make_national_id("371302", dt.date(1975, 11, 30), 7)
MOBILE = "13812345678"
SHANDONG = load_reference("shandong")

# IDs over the whole range GB 11643 allows: any 6-digit region, birth 1900..today.
ids = st.builds(
    make_national_id,
    st.from_regex(r"[1-9][0-9]{5}", fullmatch=True),
    st.dates(dt.date(1900, 1, 1), dt.date(2024, 12, 31)),
    st.integers(0, 999),
)
mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
# What may stand next to a number in free text: CJK, punctuation, spaces (an ASCII letter
# or digit next to it makes it part of a longer token, which is not an ID).
around = st.text(alphabet=st.sampled_from("身份证号电话联系人：:，, ()（）-/#\n"), max_size=12)


# -- the text scan ---------------------------------------------------------------------------
@given(before=around, after=around, national_id=ids)
def test_an_id_in_free_text_is_masked(before: str, after: str, national_id: str) -> None:
    masked, n = mask_text(f"{before}{national_id}{after}")
    assert n == 1
    assert national_id not in masked
    assert masked == f"{before}{national_id[:6]}********{national_id[-4:]}{after}"


@given(before=around, after=around, mobile=mobiles)
def test_a_mobile_in_free_text_is_masked(before: str, after: str, mobile: str) -> None:
    masked, n = mask_text(f"{before}{mobile}{after}")
    assert n == 1
    assert mobile not in masked and f"{mobile[:3]}****{mobile[-4:]}" in masked


@settings(max_examples=200)
@given(secret=st.binary(min_size=32, max_size=64), national_id=ids)
def test_pseudonyms_uuids_and_credit_codes_never_match(secret: bytes, national_id: str) -> None:
    import uuid

    for text in (
        pseudonym(national_id, secret),
        str(uuid.uuid4()),
        uuid.uuid4().hex,
        make_uscc("91370100MA3C00001"),
        f"wp-{national_id}x",  # glued to a letter: part of a longer token
    ):
        assert mask_text(text) == (text, 0)


def test_formatted_mobiles_and_the_country_code() -> None:
    for text in ("+86 138 1234 5678", "+8613812345678", "138-1234-5678", "电话13812345678。"):
        masked, n = mask_text(text)
        assert n == 1 and "1234" not in masked, text


def test_strict_needs_a_real_id_loose_masks_every_id_shape() -> None:
    typo = ID[:-1] + ("0" if ID[-1] != "0" else "1")  # checksum wrong
    assert mask_text(f"id {typo}") == (f"id {typo}", 0)  # could be any long number
    masked, n = mask_text(f"id {typo}", strict=False)  # a reason: still somebody's ID
    assert n == 1 and typo not in masked


def test_numbers_that_are_not_ids_stay() -> None:
    for text in ("order 123456789012345678", "10000 people", "2024-03-01", "12345678901"):
        assert mask_text(text) == (text, 0)


@given(national_id=ids, mobile=mobiles)
def test_nested_lists_and_dicts(national_id: str, mobile: str) -> None:
    value = {"steps": [{"note": f"called {mobile}"}, ["x", (f"id {national_id}",)]], "n": 3}
    out, n = scrub(value)
    assert n == 2
    body = orjson.dumps(out)
    assert national_id.encode() not in body and mobile.encode() not in body
    assert out["n"] == 3 and out["steps"][1][0] == "x"


# -- events ----------------------------------------------------------------------------------
def _event(raw_event: RawEvent, event_type: str, **payload: Any) -> Envelope:
    raw = raw_event(event_type)
    raw["payload"].update(payload)
    return parse_event(raw, reference=SHANDONG)


def _stored(envelope: Envelope) -> tuple[bytes, int]:
    """The bytes ingest appends, checked against the model path, and the count."""
    key, value, masked = pseudonymised_json(envelope, SECRET)
    model = pseudonymise(envelope, SECRET)
    assert value == model.to_json()
    assert key == model.partition_key()
    assert pseudonymise(model, SECRET) == model  # idempotent
    return value, masked


def test_ids_in_notes_reasons_and_lists(raw_event: RawEvent) -> None:
    visit = _event(
        raw_event,
        "visit.recorded",
        note=f"回访 {OTHER_ID}（其子），联系电话 {MOBILE}",
        needs=["housing", f"child {OTHER_ID} needs school"],
    )
    value, masked = _stored(visit)
    assert masked == 3
    assert OTHER_ID.encode() not in value and MOBILE.encode() not in value
    doc = orjson.loads(value)
    assert (
        doc["payload"]["note"]
        == f"回访 {OTHER_ID[:6]}********{OTHER_ID[-4:]}（其子），联系电话 138****5678"
    )
    assert doc["payload"]["needs"][0] == "housing"


def test_enterprise_name_with_a_mobile_keys_a_token(raw_event: RawEvent) -> None:
    layoff = _event(
        raw_event,
        "layoff.reported",
        enterprise_uscc=None,
        enterprise_name=f"个体户 {MOBILE}",
        reason=f"owner {ID} left",
    )
    value, masked = _stored(layoff)
    assert MOBILE.encode() not in value and ID.encode() not in value
    doc = orjson.loads(value)
    assert doc["payload"]["enterprise_name"] == "个体户 138****5678"
    assert doc["aggregate_id"].startswith("个体户 p") and len(doc["aggregate_id"]) == 4 + 11
    assert masked == 3  # the name, the reason and the key derived from the name


def test_an_id_used_as_identifier_becomes_a_stable_token(raw_event: RawEvent) -> None:
    first = _event(raw_event, "household.zero_employment_identified", household_id=ID)
    again = _event(raw_event, "household.zero_employment_identified", household_id=ID)
    other = _event(raw_event, "household.zero_employment_identified", household_id=OTHER_ID)
    tokens = [orjson.loads(_stored(e)[0])["payload"]["household_id"] for e in (first, again, other)]
    assert tokens[0] == tokens[1] != tokens[2]  # two households stay two
    assert tokens[0] == pseudonym(ID, SECRET)  # as the ID would be keyed anywhere else
    assert orjson.loads(_stored(first)[0])["aggregate_id"] == tokens[0]
    inside = _event(raw_event, "household.zero_employment_identified", household_id=f"h-{ID}")
    token = orjson.loads(_stored(inside)[0])["payload"]["household_id"]
    assert token.startswith("h-p") and len(token) == 2 + 18 and ID not in token


def test_actor_and_nested_report(raw_event: RawEvent) -> None:
    closed = _event(
        raw_event,
        "playbook.closed",
        report={"steps": [{"id": "s1", "note": f"called {MOBILE}"}], "enrolled": 3},
    )
    closed = closed.model_copy(update={"actor": f"officer {MOBILE}"})
    value, masked = _stored(closed)
    assert masked == 2 and MOBILE.encode() not in value
    doc = orjson.loads(value)
    assert doc["actor"] == "officer 138****5678"
    assert doc["payload"]["report"]["enrolled"] == 3


def test_credit_codes_and_pseudonyms_are_kept(raw_event: RawEvent) -> None:
    uscc = make_uscc("91370100MA3C00001")
    layoff = _event(raw_event, "layoff.reported", enterprise_uscc=uscc)
    value, masked = _stored(layoff)
    assert masked == 0 and orjson.loads(value)["aggregate_id"] == uscc


def test_events_without_personal_data_are_unchanged(shandong: RegionReference) -> None:
    from eams.tools.simulator import Scenario, ScenarioConfig
    from events.clock import SHANGHAI

    start = dt.datetime(2026, 5, 1, tzinfo=SHANGHAI)
    config = ScenarioConfig(seed=11, count=300, start=start, span=dt.timedelta(days=2))
    for raw in Scenario(shandong, config):
        envelope = parse_event(raw, reference=shandong)
        _value, masked = _stored(envelope)
        assert masked == 0, raw


def test_notes_of_commands_are_masked_too() -> None:
    """Events EAMS appends for users' commands (an acknowledgement's note) skip ingest."""
    from events.envelope import internal_event

    ack = internal_event(
        "alert.acknowledged",
        region="371300",
        aggregate_id="al1",
        actor="duty-ly",
        source="eams.api",
        payload={"alert_id": "al1", "note": f"called the owner {MOBILE}, ID {ID}"},
    )
    body = ack.to_json()
    assert MOBILE.encode() not in body and ID.encode() not in body
    note = ack.payload.model_dump()["note"]
    assert note == f"called the owner 138****5678, ID {ID[:6]}********{ID[-4:]}"
