"""Hypothesis strategies of raw inputs, built from the catalogue's own events.

Each input is one line of bytes as a source system, an attacker or a tired clerk might
send: a valid event of the Shandong scenario (every type it produces), or one mutated at
the edges — boundary and out-of-range numbers, wrong types, huge strings, deep nesting,
bad UTF-8, duplicate keys, dates far ahead, lone surrogates, control characters, truncated
or empty documents, unknown types and fields. Lines never contain a newline (one line is one
input), so every input gets exactly one answer.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from typing import Any

from helpers import scenario_events
from hypothesis import strategies as st

from events.clock import SHANGHAI
from events.payload_base import UINT32_MAX

#: Valid events to start from: every type the scenario produces, clear IDs included.
SEEDS: list[dict[str, Any]] = scenario_events(3_000, seed=99)

BOUNDARY_NUMBERS: list[Any] = [
    0, 1, -1, UINT32_MAX, UINT32_MAX + 1, 2**63, 2**64 + 5, -(2**63), 1.5, 1e308, -0.0,
    True, False, "12", "", None, [], {},
]  # fmt: skip
NUMERIC_FIELDS = ("laid_off", "headcount_before", "openings", "insured_months", "amount",
                  "base_headcount", "current_headcount", "birth_year")  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _dumps(doc: Any) -> bytes:
    # the standard library writes integers of any size (orjson stops at 64 bits)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _one_line(raw: bytes) -> bytes:
    """No newline inside an input (one line, one answer) and never blank."""
    raw = raw.replace(b"\n", b"\\n").replace(b"\r", b"\\r")
    return raw if raw.strip() else b"{}"


@st.composite
def raw_inputs(draw: st.DrawFn) -> bytes:
    """One raw input line (see the module docstring)."""
    doc = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    doc["event_id"] = str(uuid.uuid4())  # distinct: repeats are drawn explicitly (batches)
    kind = draw(st.sampled_from(MUTATIONS))
    return _one_line(kind(draw, doc))


def _valid(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    return _dumps(doc)


def _boundary(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    name = draw(st.sampled_from(NUMERIC_FIELDS))
    doc["payload"][name] = draw(st.sampled_from(BOUNDARY_NUMBERS))
    if doc["payload"].get("headcount_before") is None and name == "laid_off":
        doc["payload"].pop("headcount_before", None)
    return _dumps(doc)


def _wrong_type(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    target = doc if draw(st.booleans()) else doc["payload"]
    key = draw(st.sampled_from(sorted(target)))
    target[key] = draw(json_values)
    return _dumps(doc)


def _huge_string(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    size = draw(st.sampled_from([501, 10_000, 100_000, 300_000]))
    where = draw(st.sampled_from(["actor", "source", "aggregate_id", "region", "payload"]))
    text = draw(st.sampled_from(["字", "a", "1"])) * size
    if where == "payload":
        doc["payload"][draw(st.sampled_from(["note", "reason", "enterprise_name", "name"]))] = text
    else:
        doc[where] = text
    return _dumps(doc)


def _deep_nesting(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    depth = draw(st.sampled_from([50, 600, 5_000]))
    doc["payload"]["note"] = "__DEEP__"
    return _dumps(doc).replace(b'"__DEEP__"', b"[" * depth + b"]" * depth)


def _bad_utf8(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    raw = _dumps(doc)
    bad = draw(
        st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"])
    )
    at = draw(st.integers(0, len(raw)))
    return raw[:at] + bad + raw[at:]


def _duplicate_keys(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    raw = _dumps(doc)
    twin = draw(st.sampled_from([b'"region":"370102",', b'"event_type":"alert.raised",',
                                 b'"actor":"someone-else",', b'"source":"eams.api",']))  # fmt: skip
    return b"{" + twin + raw[1:] if draw(st.booleans()) else raw[:-1] + b"," + twin[:-1] + b"}"


def _future(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    ahead = draw(st.sampled_from([dt.timedelta(minutes=30), dt.timedelta(days=2),
                                  dt.timedelta(days=365 * 70)]))  # fmt: skip
    doc["occurred_at"] = (dt.datetime.now(SHANGHAI) + ahead).isoformat()
    return _dumps(doc)


def _text_edges(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    edge = draw(st.sampled_from(["\\ud800", "\\u0000", "\\u001b[31m", "\\udfff\\ud800", "\u202e"]))
    doc["payload"]["note"] = "__EDGE__"
    return _dumps(doc).replace(b"__EDGE__", edge.encode())


def _truncated(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    raw = _dumps(doc)
    return raw[: draw(st.integers(1, max(1, len(raw) - 1)))]


def _missing(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    target = doc if draw(st.booleans()) else doc["payload"]
    target.pop(draw(st.sampled_from(sorted(target))), None)
    return _dumps(doc)


def _unknown(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    if draw(st.booleans()):
        names = ["layoff.reportd", "alert.raised", "playbook.activated", "x" * 300, ""]
        doc["event_type"] = draw(st.sampled_from(names))
    else:
        doc["payload"][draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    return _dumps(doc)


def _not_an_object(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    return _dumps(draw(json_values))


#: Valid inputs are drawn as often as all mutations of one kind together.
MUTATIONS = (
    _valid, _valid, _valid, _valid, _boundary, _wrong_type, _huge_string, _deep_nesting,
    _bad_utf8, _duplicate_keys, _future, _text_edges, _truncated, _missing, _unknown,
    _not_an_object,
)  # fmt: skip


def batches(size: int) -> st.SearchStrategy[list[bytes]]:
    """``size`` inputs, some of which repeat an earlier input of the batch byte for byte (a
    resubmission the stream must drop)."""

    @st.composite
    def build(draw: st.DrawFn) -> list[bytes]:
        lines = draw(st.lists(raw_inputs(), min_size=size, max_size=size))
        repeats = draw(st.lists(st.integers(0, size - 1), max_size=size // 20))
        return lines + [lines[i] for i in repeats]

    return build()
