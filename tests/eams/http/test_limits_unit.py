"""Bounds of the API without a worker: body size, sign-in backoff, live-stream slots."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request

from eams.http.limits import ARGON2, BodyLimit, SignInThrottle, StreamSlots


def _app(limit: int, seen: list[int]) -> FastAPI:
    app = FastAPI()
    app.add_middleware(BodyLimit, limit=limit)

    @app.post("/read")
    async def read(request: Request) -> dict[str, int]:
        async for chunk in request.stream():
            seen.append(len(chunk))
        return {"read": sum(seen)}

    return app


async def _post(app: FastAPI, content: bytes | AsyncIterator[bytes]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post("/read", content=content)


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    seen: list[int] = []
    answer = asyncio.run(_post(_app(1000, seen), b"x" * 1001))
    assert answer.status_code == 413 and "1000 bytes" in answer.json()["detail"]
    assert "EAMS_MAX_BODY_BYTES" in answer.json()["detail"]
    assert seen == []  # the route never ran
    assert asyncio.run(_post(_app(1000, seen), b"x" * 1000)).json() == {"read": 1000}


def test_a_streamed_body_is_stopped_at_the_limit() -> None:
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:  # a client that would never stop
            sent.append(100)
            yield b"y" * 100

    seen: list[int] = []
    answer = asyncio.run(_post(_app(1000, seen), endless()))
    assert answer.status_code == 413 and "1000 bytes" in answer.json()["detail"]
    assert sum(seen) <= 1000 and sum(sent) <= 1100


def test_failures_back_off_exponentially_up_to_the_cap() -> None:
    throttle = SignInThrottle(free=3, free_ip=100, base=1.0, cap=60.0)
    now, failures, waits = 1000.0, 0, []
    while len(waits) < 9:
        wait = throttle.admit("duty", "10.0.0.1", now)
        if wait:  # refused before hashing; the caller waits as told, then tries again
            waits.append(wait)
            now += wait
            continue
        throttle.result("duty", "10.0.0.1", False, now)
        failures += 1
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]  # after 3 free failures; capped
    assert failures == 3 + 8  # each wait follows a failure


def test_a_wait_is_refused_before_hashing_and_success_clears_the_name() -> None:
    throttle = SignInThrottle(free=1, free_ip=100)
    assert throttle.admit("duty", "a", 0) == 0
    throttle.result("duty", "a", False, 0)
    assert throttle.admit("duty", "b", 0.5) == pytest.approx(0.5)  # other address, same name
    assert throttle.admit("other", "a", 0.5) == 0  # other name, same address
    throttle.result("other", "a", True, 0.5)
    assert throttle.admit("duty", "a", 1.0) == 0
    throttle.result("duty", "a", True, 1.0)
    assert throttle.admit("duty", "a", 1.0) == 0  # cleared by the success


def test_one_address_guessing_many_names_is_throttled() -> None:
    throttle = SignInThrottle(free=5, free_ip=3)
    for i in range(3):
        assert throttle.admit(f"user{i}", "6.6.6.6", 0) == 0
        throttle.result(f"user{i}", "6.6.6.6", False, 0)
    assert throttle.admit("user99", "6.6.6.6", 0) == 1.0
    assert throttle.admit("user99", "7.7.7.7", 0) == 0


def test_parallel_attempts_are_bounded_before_they_reach_the_hasher() -> None:
    throttle = SignInThrottle(per_key_pending=2, total_pending=3)
    assert [throttle.admit("duty", "a", 0) for _ in range(3)] == [0, 0, 1.0]
    assert throttle.admit("x", "b", 0) == 0
    assert throttle.admit("y", "c", 0) == 1.0  # three are waiting for the hasher in all
    throttle.result("duty", "a", False, 0)
    assert throttle.admit("y", "c", 0) == 0


def test_counters_are_forgotten_and_bounded() -> None:
    throttle = SignInThrottle(idle=900, max_keys=10)
    for i in range(50):
        throttle.admit(f"n{i}", f"ip{i}", float(i))
        throttle.result(f"n{i}", f"ip{i}", False, float(i))
    assert len(throttle) <= 12  # never more than max_keys (+ the pair just touched)
    throttle.admit("late", "ip-late", 10_000.0)
    throttle.result("late", "ip-late", False, 10_000.0)
    throttle.purge(10_000.0)
    assert len(throttle) == 2


def test_refusal_says_when_to_come_back() -> None:
    refused = SignInThrottle.refused(3.2, "duty")
    assert refused.status_code == 429 and refused.headers == {"Retry-After": "4"}
    assert "try again in 4 s" in refused.detail


def test_sign_in_hashes_on_their_own_thread() -> None:
    import threading

    name = ARGON2.submit(lambda: threading.current_thread().name).result()
    assert name.startswith("eams-argon2")


def test_stream_slots_per_user_and_in_total() -> None:
    slots = StreamSlots(per_user=2, total=3)
    a1, a2 = slots.acquire("user:a"), slots.acquire("user:a")
    with pytest.raises(HTTPException) as mine:
        slots.acquire("user:a")
    assert mine.value.status_code == 429 and "EAMS_SSE_PER_USER" in mine.value.detail
    b1 = slots.acquire("user:b")
    with pytest.raises(HTTPException) as everyone:
        slots.acquire("user:c")
    assert "EAMS_SSE_TOTAL" in everyone.value.detail
    a1.release()
    a1.release()  # idempotent
    assert slots.open == {"user:a": 1, "user:b": 1}
    a3 = slots.acquire("user:c")
    for slot in (a2, b1, a3):
        slot.release()
    assert slots.open == {}


def test_a_stream_that_never_started_gives_its_slot_back() -> None:
    slots = StreamSlots(per_user=1, total=1)

    async def stream() -> AsyncIterator[bytes]:
        yield b""

    held = stream()
    slots.hold(slots.acquire("user:a"), held)
    del held
    gc.collect()
    assert slots.open == {}
