"""The server's log lines: one per event, its ids readable as key=value, or JSON."""

from __future__ import annotations

import io
import json
import re

import structlog
from switchboard.server import logging as server_logging

LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \[(?P<level>\w+) *\] (?P<event>\S+) +(?P<rest>.*)$"
)


def logged(fmt: str, emit) -> str:
    out = io.StringIO()
    server_logging.configure("info", fmt, out)
    try:
        emit(structlog.get_logger("test").bind(conversation_id="c1", queue_id="q1"))
    finally:
        server_logging.configure("warning")  # as the test suite runs
    return out.getvalue()


def test_a_console_line_has_time_level_event_and_every_field_in_name_order() -> None:
    text = logged(
        "console",
        lambda log: log.info("agent.offered", agent_id="a1", expires_in_s=30.0, note=None),
    )
    match = LINE.match(text.rstrip("\n"))
    assert match, text
    assert (match["level"], match["event"]) == ("info", "agent.offered")
    assert match["rest"] == "agent_id=a1 conversation_id=c1 expires_in_s=30.0 note=None queue_id=q1"


def test_values_with_spaces_quotes_or_equals_signs_are_quoted_so_the_line_still_splits() -> None:
    text = logged(
        "console",
        lambda log: log.info(
            "conversation.closed", reason='closed by "agent"', expr="a=b", empty="", line="x\ny"
        ),
    )
    assert text.count("\n") == 1  # one event, one line
    fields = LINE.match(text.rstrip("\n"))["rest"]  # type: ignore[index]
    assert 'reason="closed by \\"agent\\""' in fields
    assert 'expr="a=b"' in fields and 'empty=""' in fields and 'line="x\\ny"' in fields


def test_an_exception_is_logged_with_its_traceback_under_the_line() -> None:
    def emit(log) -> None:
        try:
            raise ValueError("the journal is full")
        except ValueError:
            log.exception("storage.write_failed", path="/tmp/j.db")

    lines = logged("console", emit).splitlines()
    assert LINE.match(lines[0]) and "[error" in lines[0] and "path=/tmp/j.db" in lines[0]
    assert lines[1].startswith("Traceback") and lines[-1] == "ValueError: the journal is full"


def test_json_lines_carry_the_same_fields_and_any_value_as_text() -> None:
    text = logged(
        "json", lambda log: log.info("agent.offered", agent_id="a1", seen={1, 2}.__class__)
    )
    event = json.loads(text)
    assert event["event"] == "agent.offered" and event["level"] == "info"
    assert (event["conversation_id"], event["queue_id"], event["agent_id"]) == ("c1", "q1", "a1")
    assert event["seen"] == "<class 'set'>"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", event["timestamp"])


def test_events_below_the_level_are_not_written() -> None:
    assert logged("console", lambda log: log.debug("agent.tick")) == ""
