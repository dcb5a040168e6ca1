"""structlog set-up: one line per event, with conversation, agent and queue ids bound."""

from __future__ import annotations

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

# Fields every line starts with; the rest follow as key=value in name order.
_HEAD = ("timestamp", "level", "event")


def render_line(_logger: Any, method_name: str, event_dict: dict[str, Any]) -> str:
    """`2026-12-04T17:23:21.939Z [info    ] conversation.closed  agent_id=a1 queue_id=q1`.

    Written for speed as much as for reading: a busy server logs about eight events per
    conversation, and structlog's ConsoleRenderer (padding every value, pretty exceptions)
    cost some 70 µs an event, more than the rest of a conversation's routing.
    """
    timestamp = event_dict.pop("timestamp", "")
    level = event_dict.pop("level", method_name)
    event = event_dict.pop("event", "")
    traceback = event_dict.pop("exception", None)
    fields = " ".join(f"{key}={_value(event_dict[key])}" for key in sorted(event_dict))
    line = f"{timestamp} [{level:<8}] {event:<30} {fields}".rstrip()
    return f"{line}\n{traceback}" if traceback else line


def _value(value: Any) -> str:
    # Plain words stay bare (ids, states); anything with a space or quote is quoted, so a
    # line still splits into its fields.
    text = value if isinstance(value, str) else str(value)
    if text and " " not in text and '"' not in text and "=" not in text and "\n" not in text:
        return text
    return orjson.dumps(text).decode()


class _WallTime:
    """Stamps each event with the wall time in ISO 8601, UTC, to the microsecond: the date
    and time of day are formatted once a second, not for every event (structlog's
    TimeStamper builds a datetime each time). Log lines only: the engine's time is its
    clock's."""

    def __init__(self) -> None:
        self._second = -1
        self._formatted = ""

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._formatted = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        event_dict["timestamp"] = f"{self._formatted}.{int((now - second) * 1e6):06d}Z"
        return event_dict


def _json(event_dict: dict[str, Any], **_: Any) -> str:
    return orjson.dumps(event_dict, default=str).decode()


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
    # Python logging (Pykka, gRPC) at the same level, to the same place.
    logging.basicConfig(
        level=LEVELS[level],
        stream=stream or sys.stderr,
        format="%(asctime)s [%(levelname)s] %(name)s: %(message)s",
    )
