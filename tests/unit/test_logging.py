"""The server's log lines: one per event, its ids readable as key=value, or JSON."""

from __future__ import annotations

import io
import json
import re

import structlog
from switchboard.server import logging as server_logging

LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z "
    r"\[(?P<level>\w+) *\] (?P<event>\S+)(?: +(?P<rest>.*))?$"
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


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_odd_values_are_shown_never_raised() -> None:
    def emit(log) -> None:
        log.error(ValueError("an exception as the event"))
        log.info("odd", counts={1: 2}, big=2**70, bad="\udcff x", cr="a\rb", obj=_Unprintable())
        log.info("odd", **{"b": 1}, a=2)

    console = logged("console", emit).splitlines()
    assert len(console) == 3 and all(LINE.match(line) for line in console), console
    assert "an exception as the event" in console[0]
    assert 'cr="a\\rb"' in console[1] and "big=1180591620717411303424" in console[1]
    assert "<_Unprintable: str() failed: RuntimeError>" in console[1]
    events = [json.loads(line) for line in logged("json", emit).splitlines()]
    assert events[1]["counts"] == {"1": 2} and events[1]["big"] == 2**70
    assert events[0]["event"] == "an exception as the event"


def test_time_stamps_from_many_threads_are_always_whole() -> None:
    import sys
    import threading

    out = io.StringIO()
    server_logging.configure("info", "console", out)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        log = structlog.get_logger("threads")
        threads = [
            threading.Thread(target=lambda: [log.info("tick") for _ in range(300)])
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
        server_logging.configure("warning")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1800
    assert all(LINE.match(line) for line in lines), [x for x in lines if not LINE.match(x)][:3]


def test_with_json_the_standard_librarys_records_are_json_lines_too() -> None:
    import logging

    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = []  # basicConfig sets up only a root logger without handlers
    out = io.StringIO()
    try:
        server_logging.configure("info", "json", out)
        try:
            raise KeyError("gone")
        except KeyError:
            logging.getLogger("pykka").exception("Unhandled exception in %s", "AgentActor")
        logging.getLogger("asyncio").info("a plain record")
    finally:
        root.handlers = saved
        server_logging.configure("warning")
    first, second = (json.loads(line) for line in out.getvalue().splitlines() if line[:1] == "{")
    assert first["event"] == "Unhandled exception in AgentActor" and first["level"] == "error"
    assert first["logger"] == "pykka" and "KeyError: 'gone'" in first["exception"]
    assert second == {**second, "event": "a plain record", "logger": "asyncio", "level": "info"}
    assert all(line.startswith("{") for line in out.getvalue().splitlines())
