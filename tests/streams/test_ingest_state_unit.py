"""The ingest stream's pure parts: the bounded dedupe state, topic names and header lookup."""

from __future__ import annotations

import pytest

from streams.ingest import DedupeState
from streams.topics import H_LINE, H_SOURCE, TopicNames, header


def test_get_returns_the_first_mark() -> None:
    state = DedupeState(capacity=3)
    assert state.get(b"a") is None
    state.put(b"a", b"0:10")
    state.put(b"b", b"1:4")
    assert state.get(b"a") == b"0:10"
    assert state.get(b"b") == b"1:4"
    assert state.get(b"c") is None
    assert len(state) == 2


def test_put_overwrites_the_mark() -> None:
    state = DedupeState(capacity=3)
    state.put(b"a", b"0:10")
    state.put(b"a", b"2:7")
    assert state.get(b"a") == b"2:7"
    assert len(state) == 1


def test_oldest_is_evicted_past_capacity() -> None:
    state = DedupeState(capacity=2)
    state.put(b"a", b"0:1")
    state.put(b"b", b"0:2")
    state.put(b"c", b"0:3")
    assert len(state) == 2
    assert state.get(b"a") is None
    assert state.get(b"b") == b"0:2"
    assert state.get(b"c") == b"0:3"


def test_re_put_refreshes_recency() -> None:
    state = DedupeState(capacity=2)
    state.put(b"a", b"0:1")
    state.put(b"b", b"0:2")
    state.put(b"a", b"0:1")  # a is now the most recent
    state.put(b"c", b"0:3")
    assert state.get(b"a") == b"0:1"
    assert state.get(b"b") is None
    assert state.get(b"c") == b"0:3"


def test_get_does_not_refresh_recency() -> None:
    state = DedupeState(capacity=2)
    state.put(b"a", b"0:1")
    state.put(b"b", b"0:2")
    assert state.get(b"a") == b"0:1"
    state.put(b"c", b"0:3")
    assert state.get(b"a") is None
    assert state.get(b"b") == b"0:2"


def test_eviction_keeps_the_newest_window() -> None:
    state = DedupeState(capacity=100)
    for i in range(250):
        state.put(str(i).encode(), f"0:{i}".encode())
    assert len(state) == 100
    assert state.get(b"149") is None
    assert state.get(b"150") == b"0:150"
    assert state.get(b"249") == b"0:249"


def test_topic_names_for_namespace() -> None:
    names = TopicNames.for_namespace("x")
    assert names.ingest_raw == "x.ingest.raw"
    assert names.events == "x.events"
    assert names.dlq == "x.events.dlq"
    assert names.commands == "x.commands"
    assert names.all() == (
        "x.ingest.raw",
        "x.events",
        "x.events.dlq",
        "x.commands",
        "x.commands.outcomes",
    )


def test_default_namespace_is_eams() -> None:
    assert TopicNames.for_namespace().events == "eams.events"
    assert TopicNames.for_namespace("a") != TopicNames.for_namespace("b")


def test_header_from_kafka_tuples() -> None:
    headers = [(H_SOURCE, b"import:warn.csv"), (H_LINE, b"42"), ("other", b"\xff")]
    assert header(headers, H_SOURCE) == "import:warn.csv"
    assert header(headers, H_LINE) == "42"
    assert header(headers, "other") == "\ufffd"


def test_header_first_occurrence_wins() -> None:
    headers = [(H_LINE, b"1"), (H_LINE, b"2")]
    assert header(headers, H_LINE) == "1"


@pytest.mark.parametrize("headers", [None, [], (), [("eams-sourc", b"x")], {"x": b"y"}])
def test_missing_header_is_none(headers: object) -> None:
    assert header(headers, H_SOURCE) is None


def test_header_from_dict_and_text_values() -> None:
    assert header({H_SOURCE: b"api"}, H_SOURCE) == "api"
    assert header([(H_LINE, "7")], H_LINE) == "7"


def test_fast_murmur2_matches_aiokafka_for_every_length() -> None:
    import random

    from aiokafka.partitioner import murmur2 as reference

    from streams.partitioning import murmur2, partition_for

    rng = random.Random(1)
    for length in range(0, 70):
        for _ in range(20):
            data = bytes(rng.randrange(256) for _ in range(length))
            assert murmur2(data) == reference(data), (length, data)
    # Kafka's toPositive(murmur2) % n, as the Java client computes it.
    assert [partition_for(k, 3) for k in (b"a", b"p_0123", b"91370100MA3C00001X")] == [
        (reference(k) & 0x7FFFFFFF) % 3 for k in (b"a", b"p_0123", b"91370100MA3C00001X")
    ]
