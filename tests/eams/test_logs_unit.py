"""The logs of a process (:mod:`eams.logs`): records of the standard library and of
structlog come out through one renderer as one JSON object a line, with the process's
role and pid and the ids bound to the context (:mod:`streams.context`); the console format
says the same for people; national IDs and mobile numbers never come out; and the
configuration costs nothing measurable where nothing is logged."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import logging.config
import os
import timeit
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog
import uvicorn.config
from aiokafka import TopicPartition

from eams.logs import configure, level_of
from events.commands import Command, Outcome
from events.identity import make_national_id
from streams.commands.bus import CommandBus
from streams.context import CORRELATION, about_event, batch_span, bind_batch, deciding
from streams.kafka import KafkaAccess
from streams.topics import TopicNames

NID = make_national_id("370102", dt.date(1981, 5, 6), 24)
MOBILE = "13912345678"

Configure = Callable[..., io.StringIO]


@pytest.fixture
def logs() -> Iterator[Configure]:
    """``logs(**configure_args)``: this process's logging configured into a buffer; the
    root logger, the noisy libraries' levels, structlog and the context are as they were
    afterwards (pytest's own capture handlers included)."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    noisy = {n: logging.getLogger(n).level for n in ("aiokafka", "kafka")}
    own = {
        n: (list(logging.getLogger(n).handlers), logging.getLogger(n).propagate)
        for n in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }

    def make(**kw: Any) -> io.StringIO:
        out = io.StringIO()
        configure(stream=out, **({"role": "all", "level": "info"} | kw))
        return out

    try:
        yield make
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in noisy.items():
            logging.getLogger(name).setLevel(level)
        for name, (handlers, propagate) in own.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    text = out.getvalue()
    assert text.endswith("\n"), text
    return [json.loads(line) for line in text.splitlines()]


def test_stdlib_and_structlog_records_are_one_json_object_a_line_with_the_bound_ids(
    logs: Configure,
) -> None:
    # uvicorn's default dictConfig (a server started before) gives its loggers a handler of
    # their own that does not propagate: configuring hands them back to ours
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
    out = logs(role="commands")
    correlation, event_id = str(uuid.uuid4()), uuid.uuid4()
    structlog.contextvars.bind_contextvars(correlation_id=correlation)
    logging.getLogger("streams.test").info("stdlib %s\nsecond line", "says")
    structlog.get_logger("streams.test").info("structlog says", version=3)
    with about_event(event_id, "person.registered"):
        logging.getLogger("projections.test").error("about one event")
    try:
        raise RuntimeError("a failure")
    except RuntimeError:
        logging.getLogger("streams.test").exception("it failed")
    logging.getLogger("uvicorn.error").warning("a library's record")

    lines = _lines(out)
    assert [line["event"] for line in lines] == [
        "stdlib says\nsecond line",  # a multi-line message is still one line of output
        "structlog says",
        "about one event",
        "it failed",
        "a library's record",
    ]
    for line in lines:
        assert list(line)[:4] == ["timestamp", "level", "logger", "event"]
        stamp = dt.datetime.fromisoformat(line["timestamp"])
        assert stamp.utcoffset() == dt.timedelta(0)
        assert abs(dt.datetime.now(dt.UTC) - stamp) < dt.timedelta(minutes=1)
        assert line["role"] == "commands" and line["pid"] == os.getpid()
        assert line["correlation_id"] == correlation
    assert [line["level"] for line in lines] == ["info", "info", "error", "error", "warning"]
    assert [line["logger"] for line in lines] == [
        "streams.test", "streams.test", "projections.test", "streams.test", "uvicorn.error"
    ]  # fmt: skip
    assert lines[1]["version"] == 3
    assert lines[2]["event_id"] == str(event_id) and lines[2]["event_type"] == "person.registered"
    # bound for the error path only: the records before and after do not carry it
    assert all("event_id" not in line for i, line in enumerate(lines) if i != 2)
    assert "RuntimeError: a failure" in lines[3]["exception"]


def test_below_the_level_nothing_is_written_and_noisy_libraries_stay_at_warning(
    logs: Configure,
) -> None:
    out = logs(level="info")
    logging.getLogger("streams.test").debug("not at info")
    structlog.get_logger("streams.test").debug("not at info either")
    logging.getLogger("aiokafka.consumer").info("every fetch")
    logging.getLogger("aiokafka.consumer").warning("a rebalance")
    assert [line["event"] for line in _lines(out)] == ["a rebalance"]


def test_configuring_again_replaces_the_handler(logs: Configure) -> None:
    logs()
    out = logs(level="warn")
    assert len(logging.getLogger().handlers) == 1
    logging.getLogger("eams").warning("once")
    assert [line["event"] for line in _lines(out)] == ["once"]


def test_the_console_format_is_for_people(logs: Configure) -> None:
    out = logs(fmt="console", role="ingest")
    structlog.contextvars.bind_contextvars(command_id="c-1")
    logging.getLogger("streams.ingest").warning("the commit was refused")
    structlog.get_logger("streams.ingest").info("assigned", partitions=[0, 2])
    text = out.getvalue()
    lines = text.splitlines()
    assert len(lines) == 2 and not text.startswith("{")
    assert "the commit was refused" in lines[0] and "[streams.ingest]" in lines[0]
    assert "warn" in lines[0] and "command_id=c-1" in lines[0] and "role=ingest" in lines[0]
    assert "partitions=[0, 2]" in lines[1]
    assert "\x1b[" not in text  # no colours into a file


def test_national_ids_and_mobile_numbers_never_come_out(logs: Configure) -> None:
    for fmt in ("json", "console"):
        out = logs(fmt=fmt)
        log = logging.getLogger("streams.test")
        structlog.contextvars.bind_contextvars(leaked=f"id {NID}")
        log.warning("registered %s, mobile %s", NID, MOBILE)
        log.warning("lowercase check digit %s", NID[:-1] + "x")
        log.warning("as a number %s", int(MOBILE), extra={"phone": int(MOBILE)})
        structlog.get_logger("streams.test").warning(
            f"payload {NID}", person={"national_id": NID, "phones": [MOBILE, int(MOBILE)]}
        )
        try:
            raise ValueError(f"bad record {{'national_id': '{NID}', 'mobile': '{MOBILE}'}}")
        except ValueError:
            log.exception("parsing failed")
        text = out.getvalue()
        assert NID not in text and NID[:-1] not in text and MOBILE not in text, text
        assert "[national-id]" in text and "[mobile]" in text
        if fmt == "json":
            lines = _lines(out)  # still valid JSON: a masked number became a string
            assert lines[2]["phone"] == "[mobile]"
            masked = {"national_id": "[national-id]", "phones": ["[mobile]", "[mobile]"]}
            assert lines[3]["person"] == masked
        structlog.contextvars.clear_contextvars()


def test_ids_offsets_and_other_numbers_are_left_alone(logs: Configure) -> None:
    out = logs()
    event_id = uuid.UUID("01234567-0123-4567-8901-139123456789")
    kept = [
        str(event_id),
        "1765068300123",  # a time in ms: 13 digits
        "13912345678901234567890",  # longer than either
        "a13912345678",  # glued to letters (a hex id)
        "eams.events 0:13912345-13912399",
    ]
    logging.getLogger("streams.test").warning(" | ".join(kept), extra={"offset": 13912345})
    line = _lines(out)[0]
    assert line["event"] == " | ".join(kept) and line["offset"] == 13912345


def test_an_unknown_level_is_refused() -> None:
    assert level_of("warn") == logging.WARNING and level_of("CRIT") == logging.CRITICAL
    with pytest.raises(ValueError, match="EAMS_LOG_LEVEL='loud'"):
        level_of("loud")


@dataclass
class _Record:
    offset: int


def test_a_batch_is_named_by_its_partitions_and_offsets(logs: Configure) -> None:
    fetched = {
        TopicPartition("t.events", 0): [_Record(5), _Record(6), _Record(9)],
        TopicPartition("t.events", 1): [],
        TopicPartition("t.events", 2): [_Record(40)],
    }
    assert batch_span("t.events", fetched) == "t.events 0:5-9 2:40-40"
    assert batch_span("t.events", {3: [_Record(7)]}) == "t.events 3:7-7"
    out = logs()
    bind_batch("t.events", fetched)
    logging.getLogger("projections.projector").error("ClickHouse unreachable")
    assert _lines(out)[0]["batch"] == "t.events 0:5-9 2:40-40"


def _command(correlation: uuid.UUID | None = None) -> Command:
    return Command(
        command_id=uuid.uuid4(),
        command_type="alert.acknowledge",
        aggregate_id="a-1",
        actor="duty",
        source="api",
        issued_at=dt.datetime.now(dt.UTC),
        correlation_id=correlation,
        payload={"note": f"call {MOBILE}"},
    )


class _Decider:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.bound: dict[str, Any] = {}

    @deciding
    def _decide(self, aggregate: Any, folded: Any, command: Command) -> tuple[Outcome, Any, Any]:
        self.bound = dict(structlog.contextvars.get_contextvars())
        if self.fail:
            raise KeyError("a bug")
        outcome = Outcome(
            command_id=command.command_id, aggregate_id=command.aggregate_id, accepted=True,
            version=4,
        )  # fmt: skip
        return outcome, [], None


def test_a_command_is_decided_with_its_ids_bound_and_its_decision_logged(
    logs: Configure,
) -> None:
    out = logs()
    correlation = uuid.uuid4()
    command = _command(correlation)
    decider = _Decider()
    decider._decide(None, None, command)
    ids = {
        "command_id": str(command.command_id),
        "command_type": "alert.acknowledge",
        "correlation_id": str(correlation),
    }
    assert {k: str(v) for k, v in decider.bound.items()} == ids
    line = _lines(out)[0]
    assert line["event"] == "command decided: accepted at version 4"
    assert {k: line[k] for k in ids} == ids and line["logger"] == "streams.commands.handler"
    assert MOBILE not in out.getvalue()  # the payload is not logged
    assert structlog.contextvars.get_contextvars() == {}  # unbound after the decision

    failing = _Decider(fail=True)
    with pytest.raises(KeyError):
        failing._decide(None, None, _command())
    line = _lines(out)[1]
    assert line["event"] == "deciding the command failed" and "KeyError" in line["exception"]
    assert line["command_type"] == "alert.acknowledge" and "correlation_id" not in line


def test_a_command_carries_the_correlation_id_of_the_request_being_answered() -> None:
    bus = CommandBus(KafkaAccess("127.0.0.1:1"), TopicNames.for_namespace("t"), source="api")
    assert bus.command("alert.acknowledge", "a-1", actor="duty").correlation_id is None
    correlation, given = uuid.uuid4(), uuid.uuid4()
    token = CORRELATION.set(correlation)
    try:
        assert bus.command("alert.acknowledge", "a-1", actor="duty").correlation_id == correlation
        named = bus.command("alert.acknowledge", "a-1", actor="duty", correlation_id=given)
        assert named.correlation_id == given
    finally:
        CORRELATION.reset(token)


def _per_call(stmt: Callable[[], Any], number: int = 20_000) -> float:
    """Seconds one call takes: the best of 5 runs (a shared machine's noise only adds)."""
    return min(timeit.repeat(stmt, number=number, repeat=5)) / number


def test_the_configuration_costs_nothing_where_nothing_is_logged(logs: Configure) -> None:
    log = logging.getLogger("projections.projector")
    logging.getLogger().setLevel(logging.WARNING)  # as an unconfigured worker ran
    before = _per_call(lambda: log.debug("row %s", 1))
    logs(level="warn")
    stdlib = _per_call(lambda: log.debug("row %s", 1))
    # a bound structlog logger (a module-level proxy re-binds on each call: ~2 us)
    native = structlog.get_logger("projections.projector").bind()
    sl = _per_call(lambda: native.debug("row", n=1))
    fetched = {TopicPartition("t.events", p): [_Record(0), _Record(19_999)] for p in range(3)}
    batch = _per_call(lambda: bind_batch("t.events", fetched), number=2_000)
    command = _command(uuid.uuid4())
    outcome = Outcome(command_id=command.command_id, aggregate_id="a-1", accepted=True, version=1)
    decided = (outcome, [], None)

    class Instant:  # what binding the ids adds to a decision: the decision itself is free
        @deciding
        def _decide(self, aggregate: Any, folded: Any, command: Command) -> Any:
            return decided

    instant = Instant()
    decision = _per_call(lambda: instant._decide(None, None, command), number=2_000)
    print(  # pytest -s: the numbers of the README's "Logs"
        f"\nfiltered debug: stdlib {before * 1e9:.0f} ns before, {stdlib * 1e9:.0f} ns "
        f"configured; structlog {sl * 1e9:.0f} ns; bind_batch {batch * 1e6:.2f} us a batch; "
        f"a command's ids bound {decision * 1e6:.2f} us"
    )
    # the same cached level check as before: no handler, no processor runs
    assert stdlib < 2 * before + 200e-9
    assert sl < 1e-6
    # a 20 000-event batch takes tens of ms to project: a bound batch is noise in it
    assert batch < 50e-6
    # a command's round trip is milliseconds (two produces, a commit)
    assert decision < 50e-6
