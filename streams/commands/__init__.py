"""Command handling: one writer per aggregate, in a consumer group on ``<ns>.commands``.

Callers send a :class:`~events.commands.Command` with a :class:`CommandBus`, keyed by its
aggregate id, and wait for its :class:`~events.commands.Outcome` on
``<ns>.commands.outcomes``. A :class:`CommandHandler` owns some partitions of the command
topic (the group balances them over every handler running), and so every aggregate whose
key falls there. ``<ns>.events`` has as many partitions and the same keys, so the events of
those aggregates are on the partitions of the same numbers.

When partitions are assigned, before any of their commands is decided:

1. fold the state of every aggregate of a handled kind from the same partition of
   ``<ns>.events``, from its start to its end at that moment (the command ids of the
   events' ``causation_id`` are remembered);

then, per batch of commands of one partition, in this order:

2. decide each command against its aggregate's state (a command id seen before is answered
   as a duplicate; an ``expected_version`` that is not the aggregate's version, or a sender
   whose regions do not contain the aggregate, is refused); the accepted events are applied
   to a copy of the states;
3. append the events (ids derived from the command id) and wait until the broker has them;
4. adopt the new states, then send every outcome;
5. commit the batch's command offsets.

A crash before 5 decides the batch again after the restart: its commands' ids are then in
the folded state, so they are answered as duplicates and append nothing twice. When
partitions are revoked the batch in hand finishes first (the rebalance waits for it), then
their states are dropped: the next owner folds them from the log, which holds every event
appended before the commit.

The residual window: a handler that stalls past its group session (a zombie) may still
append a batch after its partitions moved. A repeat of the same decision is harmless (the
same event ids), a different one is not; transactional producers (one transactional id per
command partition, readers at read_committed) would fence it and are not used yet.
"""

from __future__ import annotations

from streams.commands.bus import DEFAULT_TIMEOUT, CommandBus
from streams.commands.handler import APPEND_TIMEOUT, CommandHandler, HandlerStats

__all__ = ["APPEND_TIMEOUT", "DEFAULT_TIMEOUT", "CommandBus", "CommandHandler", "HandlerStats"]
