"""The logs of an EAMS process: one JSON object a line on stderr (structlog), configured
once per process by :func:`configure`.

Every record comes out through one renderer, whether it was logged with structlog
(``structlog.get_logger()``) or with the standard library (``logging.getLogger(__name__)``
in our modules; aiokafka, httpx, uvicorn): the root logger's only handler formats with
:class:`structlog.stdlib.ProcessorFormatter`. A line holds:

- ``timestamp`` (ISO 8601, UTC), ``level``, ``logger``, ``event`` (the message);
- ``role`` (``all``, ``ingest``, ``commands``) and ``pid`` of the process;
- what the code handling something bound with :mod:`structlog.contextvars`
  (:mod:`streams.context`): ``correlation_id`` of an HTTP request and the commands it
  sent, ``command_id`` and ``command_type`` of a command being decided, ``event_id`` and
  ``event_type`` of an event on an error path, ``batch`` (topic, partitions and offsets)
  of the batch a stream loop has in hand;
- ``exception``, the traceback as text, when there is one.

``EAMS_LOG_FORMAT=console`` renders the same fields for people instead (one line each).

No record may carry personal data; the stream loops never log payloads. As a safety net,
:func:`mask_personal` replaces anything that looks like a national ID (18 digits, the last
may be X) or a mainland mobile number (11 digits from 13…19) in any field before it is
rendered, exception text included.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = ["LEVELS", "LogFormat", "configure", "level_of", "mask_personal"]

LogFormat = Literal["json", "console"]

#: ``EAMS_LOG_LEVEL`` -> the standard library's level.
LEVELS = {
    "crit": logging.CRITICAL,
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}

#: Libraries that say too much below WARNING (every fetch, every metadata refresh).
_NOISY = ("aiokafka", "kafka")
#: Loggers a library may have given handlers of its own (uvicorn's default dictConfig
#: does, and stops them propagating): they are handed back to the root's handler.
_OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

# Digit runs that are exactly a national ID or a mobile number: not part of a longer run
# (an offset, a timestamp in ms) and not glued to letters of a hex id.
_NATIONAL_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
_ID_MASK = "[national-id]"
_MOBILE_MASK = "[mobile]"


def level_of(name: str) -> int:
    """The standard library's level of an ``EAMS_LOG_LEVEL`` value (``warn``, ``info``…)."""
    try:
        return LEVELS[name.lower()]
    except KeyError:
        raise ValueError(
            f"EAMS_LOG_LEVEL={name!r}: give one of crit, error, warn, info or debug"
        ) from None


def _mask_text(text: str) -> str:
    if len(text) < 11:  # the usual case: nothing long enough to be either
        return text
    return _MOBILE.sub(_MOBILE_MASK, _NATIONAL_ID.sub(_ID_MASK, text))


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return _mask_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        masked = _mask_text(str(value))
        return value if masked == str(value) else masked
    if isinstance(value, Mapping):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask(v) for v in value]
    # a UUID, a path, an exception: written as its text in either format (never its repr)
    return _mask_text(str(value))


def mask_personal(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Processor: every field with national IDs and mobile numbers masked (the last
    processor before the renderer, after the traceback became text)."""
    return {key: _mask(value) for key, value in event_dict.items()}


#: The fields a line starts with; the others follow as they were bound.
_FIRST = ("timestamp", "level", "logger", "event")


def _ordered(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Processor: the fixed fields first, then the rest without the unset (None) ones."""
    out = {key: event_dict[key] for key in _FIRST if key in event_dict}
    out.update((k, v) for k, v in event_dict.items() if k not in out and v is not None)
    return out


def _process_fields(role: str) -> Processor:
    fields = {"role": role, "pid": os.getpid()}

    def add(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
        for key, value in fields.items():
            event_dict.setdefault(key, value)
        return event_dict

    return add


def _renderer(fmt: LogFormat, stream: TextIO) -> Processor:
    if fmt == "console":
        return structlog.dev.ConsoleRenderer(
            colors=stream.isatty(),
            # never the rich traceback with its locals: they may hold personal data
            exception_formatter=structlog.dev.plain_traceback,
        )
    # default=str: a UUID, a date or a path is written as its text, not its repr
    return structlog.processors.JSONRenderer(ensure_ascii=False, default=str)


def configure(
    *,
    role: str,
    level: str = "warn",
    fmt: LogFormat = "json",
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log record of this process, structlog's and the standard library's,
    to ``stream`` (stderr) as JSON lines (``fmt="console"``: for people), at ``level``
    (an ``EAMS_LOG_LEVEL`` value) and above. Called once per process (again: replaces the
    handler it installed). Returns the root logger's handler."""
    threshold = level_of(level)
    out = stream if stream is not None else sys.stderr
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _process_fields(role),
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            mask_personal,
            _ordered,
            _renderer(fmt, out),
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handler.set_name("eams")
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(threshold)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, threshold))
    for name in _OWN_HANDLERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        # below the level a structlog call returns at once (no processor runs)
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        cache_logger_on_first_use=True,
    )
    return handler
