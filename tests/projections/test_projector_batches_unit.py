"""A batch of the projector spans partitions: its token, and what a restart inserts again."""

from __future__ import annotations

from projections.projector import Replay, batch_token, parse_token, replays


def test_the_token_names_every_range_and_reads_back() -> None:
    ranges = {2: (40, 59), 0: (100, 199), 1: (7, 7)}
    token = batch_token(ranges)
    assert token == "events:0:100:199;1:7:7;2:40:59"
    assert parse_token(token) == ranges


def test_one_partition_keeps_the_token_it_had_before_batches_spanned_partitions() -> None:
    assert batch_token({1: (10, 20)}) == "events:1:10:20"


def test_the_last_batch_is_inserted_again_whole() -> None:
    token = batch_token({0: (100, 199), 1: (50, 80), 2: (7, 9)})
    positions = {0: (100, 199, token), 1: (50, 80, token), 2: (7, 9, token)}
    todo, resume = replays(positions)
    assert todo == [Replay(token, {0: (100, 199), 1: (50, 80), 2: (7, 9)})]
    assert resume == {}


def test_a_batch_followed_by_another_was_complete() -> None:
    # batch A held partitions 0 and 1; the later batch B only partition 1: A's insert was
    # done before B's write-ahead rows, so partition 0 goes on after A and only B is replayed
    a = batch_token({0: (100, 199), 1: (50, 80)})
    b = batch_token({1: (81, 90)})
    todo, resume = replays({0: (100, 199, a), 1: (81, 90, b)})
    assert todo == [Replay(b, {1: (81, 90)})]
    assert resume == {0: 200}


def test_a_complete_batch_replayed_is_harmless_and_every_partition_is_placed() -> None:
    # A is the last row of both its partitions, B of its own: either may be the incomplete
    # one (a complete one inserted again is dropped by its token); no partition is left out
    a = batch_token({0: (100, 199), 1: (50, 80)})
    b = batch_token({2: (7, 9)})
    todo, resume = replays({0: (100, 199, a), 1: (50, 80, a), 2: (7, 9, b)})
    assert sorted(r.token for r in todo) == sorted([a, b])
    assert resume == {}


def test_rows_from_before_the_batch_column_are_replayed_alone_with_their_old_token() -> None:
    todo, resume = replays({0: (100, 199, ""), 1: (50, 80, "")})
    assert todo == [
        Replay("events:0:100:199", {0: (100, 199)}),
        Replay("events:1:50:80", {1: (50, 80)}),
    ]
    assert resume == {}
