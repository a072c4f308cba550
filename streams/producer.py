"""Producing raw inputs to ``eams.ingest.raw`` (HTTP ingest, file import, simulator, replay)."""

from __future__ import annotations

import asyncio
from types import TracebackType

from aiokafka import AIOKafkaProducer

from streams import topics
from streams.pipeline import raw_key


class RawProducer:
    """An aiokafka producer of raw inputs, keyed by event id, tagged with their source."""

    def __init__(self, bootstrap: str, topic: str, source: str) -> None:
        self.topic = topic
        self.source = source
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            enable_idempotence=True,
            linger_ms=10,
            max_batch_size=1024 * 1024,
            max_request_size=8 * 1024 * 1024,
        )
        self._inflight: list[asyncio.Future[object]] = []

    async def __aenter__(self) -> RawProducer:
        await self._producer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self.flush()
        finally:
            await self._producer.stop()

    async def submit(
        self, raw: bytes, *, line: int | None = None, source: str | None = None
    ) -> None:
        """Queue one raw input; call :meth:`flush` to wait until the broker has it."""
        headers = [(topics.H_SOURCE, (source or self.source).encode())]
        if line is not None:
            headers.append((topics.H_LINE, str(line).encode()))
        future = await self._producer.send(self.topic, value=raw, key=raw_key(raw), headers=headers)
        self._inflight.append(future)
        if len(self._inflight) >= 5000:
            await self.flush()

    async def flush(self) -> None:
        """Wait until every queued input is acknowledged by the broker (raises if one failed)."""
        inflight, self._inflight = self._inflight, []
        if inflight:
            await asyncio.gather(*inflight)
