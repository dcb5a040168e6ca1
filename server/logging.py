"""structlog set-up: one line per event, with conversation, agent and queue ids bound."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import orjson
import structlog

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

def render_line(_logger: Any, method_name: str, event_dict: dict[str, Any]) -> str:
    """`2026-12-04T17:23:21.939Z [info    ] conversation.closed  agent_id=a1 queue_id=q1`.

    Written for speed as much as for reading: a busy server logs about eight events per
    conversation, and structlog's ConsoleRenderer (padding every value, pretty exceptions)
    cost some 70 µs an event, more than the rest of a conversation's routing. It never
    raises: whatever a call site passes is shown, not lost with the event.
    """
    timestamp = event_dict.pop("timestamp", "")
    level = event_dict.pop("level", method_name)
    event = _text(event_dict.pop("event", ""))
    traceback = event_dict.pop("exception", None)
    try:
        keys = sorted(event_dict)
    except TypeError:  # keys of more than one type
        keys = sorted(event_dict, key=str)
    fields = " ".join(f"{key}={_value(event_dict[key])}" for key in keys)
    line = f"{timestamp} [{level:<8}] {event:<30} {fields}".rstrip()
    return f"{line}\n{traceback}" if traceback else line


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception as exc:  # a __str__ that fails must not take the log line with it
        return f"<{type(value).__name__}: str() failed: {type(exc).__name__}>"


def _value(value: Any) -> str:
    # Plain words stay bare (ids, states); anything with a space, quote, = or a line break
    # is quoted, so a line still splits into its fields and stays one line.
    text = _text(value)
    if text and text.isprintable() and " " not in text and '"' not in text and "=" not in text:
        return text
    return json.dumps(text)  # escapes quotes, line breaks and unpaired surrogates alike


class _WallTime:
    """Stamps each event with the wall time in ISO 8601, UTC, to the microsecond: the date
    and time of day are formatted once a second, not for every event (structlog's
    TimeStamper builds a datetime each time). Log lines only: the engine's time is its
    clock's."""

    def __init__(self) -> None:
        # One tuple, replaced whole: a thread reading it never sees half of an update.
        self._last: tuple[int, str] = (-1, "")

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        second = int(now)
        last_second, formatted = self._last
        if second != last_second:
            formatted = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._last = (second, formatted)
        event_dict["timestamp"] = f"{formatted}.{int((now - second) * 1e6):06d}Z"
        return event_dict


def _json(event_dict: dict[str, Any], **_: Any) -> str:
    try:
        return orjson.dumps(event_dict, default=_text, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        # What orjson refuses outright (integers past 64 bits, unpaired surrogates, very
        # deep nesting): the standard encoder, anything unknown as its text.
        return json.dumps(event_dict, default=_text)


def configure(level: str = "info", fmt: str = "console", stream: object = None) -> None:
    renderer = structlog.processors.JSONRenderer(serializer=_json) if fmt == "json" else render_line
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            _WallTime(),
            structlog.processors.format_exc_info,  # a traceback as text, in the event
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        # Conversations bind their ids on every event; without the cache each bind builds
        # a new logger from the configuration (~14 µs, most of it the print logger's lock).
        cache_logger_on_first_use=True,
    )
    # Python logging (Pykka, gRPC, asyncio) at the same level, to the same place, and as
    # JSON lines too when JSON is asked for (a collector reading them expects every line).
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(
        _JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s [%(levelname)s] %(name)s: %(message)s")
    )
    logging.basicConfig(level=LEVELS[level], handlers=[handler])


class _JsonFormatter(logging.Formatter):
    """A standard-library record as the same JSON object our own events are."""

    _stamp = _WallTime()

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {"event": _text(record.getMessage()), "logger": record.name}
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        event["level"] = record.levelname.lower()
        return _json(self._stamp(None, "", event))
