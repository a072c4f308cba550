"""What the bus and the handler share of their Kafka clients: a stop that cannot hang on a
broker that is away, the partitions of a topic."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)

__all__ = ["STOP_TIMEOUT", "bounded", "partitions"]


#: Seconds a client's stop may take (it commits, leaves its group, flushes) before it is
#: given up: with the broker away it would wait for the broker.
STOP_TIMEOUT = 5.0


async def bounded(stopping: Awaitable[Any]) -> None:
    try:
        await asyncio.wait_for(stopping, STOP_TIMEOUT)
    except (TimeoutError, KafkaError, OSError) as exc:
        log.warning("a Kafka client did not stop cleanly within %g s: %s", STOP_TIMEOUT, exc)
    except asyncio.CancelledError:
        # aiokafka's fetcher re-raises the cancellation of its own fetch task from stop();
        # only a cancellation of the caller itself goes on
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("a Kafka client's stop ended with its own task cancelled")


async def partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic)
    return set(parts or ())
