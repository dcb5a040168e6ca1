"""structlog set-up: one line per event, with conversation, agent and queue ids bound."""

from __future__ import annotations

import logging
import sys

import structlog

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure(level: str = "info", fmt: str = "console", stream: object = None) -> None:
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
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
