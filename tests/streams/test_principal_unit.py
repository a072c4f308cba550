"""Raw records are signed for their principal, and the signature binds value and principal."""

from __future__ import annotations

import pytest

from streams.principal import H_PRINCIPAL, H_SIGNATURE, Signer, Submitter

KEY = b"k" * 32
CASE = Submitter("user", "case-linyi", "case_officer", ("371300",))
VALUE = b'{"event_id": "e1"}'


def test_a_signed_record_verifies_as_its_principal() -> None:
    signer = Signer(KEY)
    headers = signer.headers(VALUE, CASE)
    assert [k for k, _ in headers] == [H_PRINCIPAL, H_SIGNATURE]
    assert Signer(KEY).verify(VALUE, headers) == CASE  # another process, the same key
    assert Signer(KEY).verify(VALUE, [("eams-source", b"x"), *headers]) == CASE


def test_unsigned_altered_or_foreign_records_do_not_verify() -> None:
    signer = Signer(KEY)
    headers = dict(signer.headers(VALUE, CASE))
    assert signer.verify(VALUE, []) is None
    assert signer.verify(VALUE, None) is None
    assert signer.verify(VALUE, [(H_PRINCIPAL, headers[H_PRINCIPAL])]) is None
    assert signer.verify(VALUE + b" ", list(headers.items())) is None  # value changed
    wider = Submitter("user", "case-linyi", "case_officer").to_header()  # regions dropped
    assert signer.verify(VALUE, [(H_PRINCIPAL, wider), (H_SIGNATURE, headers[H_SIGNATURE])]) is None
    assert Signer(b"x" * 32).verify(VALUE, list(headers.items())) is None  # another key


def test_a_principal_moved_onto_other_bytes_does_not_verify() -> None:
    signer = Signer(KEY)
    mine = dict(signer.headers(b'{"a": 1}', CASE))
    assert signer.verify(b'{"a": 2}', list(mine.items())) is None


def test_header_round_trip_and_garbage() -> None:
    key = Submitter("apikey", "civil-affairs", "source", ("371300",), ("person.registered",))
    assert Submitter.from_header(key.to_header()) == key
    assert Submitter.from_header(Submitter("operator", "operator").to_header()).trusted
    for bad in (b"nope", b"[]", b'{"kind": "god", "name": "x"}', b'{"kind": "user"}',
                b'{"kind": "user", "name": "x", "regions": "371300"}'):  # fmt: skip
        with pytest.raises(ValueError):
            Submitter.from_header(bad)
    signer = Signer(KEY)
    junk = b'{"kind": "god", "name": "x"}'  # signed, but not a principal: refused
    assert (
        signer.verify(VALUE, [(H_PRINCIPAL, junk), (H_SIGNATURE, signer.signature(VALUE, junk))])
        is None
    )


def test_sources_of_principals() -> None:
    assert CASE.source == "user:case-linyi"
    assert Submitter("apikey", "civil-affairs").source == "civil-affairs"
    assert Submitter("importer", "import:a.ndjson").source == "import:a.ndjson"


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Signer(b"short")
