"""Operating hours across time zones and holidays, and overflow decisions: pure functions."""

from __future__ import annotations

import calendar
import datetime
from zoneinfo import ZoneInfo

import pytest
from switchboard.actors.domain.hours import OperatingHours, parse_period
from switchboard.actors.domain.overflow import (
    OverflowRule,
    OverflowThen,
    OverflowWhen,
    is_overflowing,
    overflow_on_entry,
)

# Weekdays 08:00-17:00 and Friday mornings in Jerusalem; Christmas Day closed.
JERUSALEM = OperatingHours(
    ZoneInfo("Asia/Jerusalem"),
    {d: ((8 * 3600, 17 * 3600),) for d in range(4)} | {4: ((8 * 3600, 12 * 3600),)},
    frozenset({datetime.date(2026, 12, 25)}),
)


def utc(text: str) -> float:
    return float(calendar.timegm(datetime.datetime.fromisoformat(text).timetuple()))


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        # Jerusalem is UTC+2 in December: 08:00 local is 06:00 UTC.
        ("2026-12-01 05:59:59", False),
        ("2026-12-01 06:00:00", True),
        ("2026-12-01 14:59:59", True),
        ("2026-12-01 15:00:00", False),
        # Late Monday evening in UTC is already Tuesday in Jerusalem: closed at 00:30 local.
        ("2026-11-30 22:30:00", False),
        # Friday closes at noon local (10:00 UTC).
        ("2026-12-04 09:59:00", True),
        ("2026-12-04 10:00:00", False),
        # A holiday on a weekday.
        ("2026-12-25 09:00:00", False),
        # Summer time: UTC+3, so 08:00 local is 05:00 UTC.
        ("2026-07-01 05:00:00", True),
        ("2026-07-01 04:59:00", False),
        ("2026-12-06 09:00:00", False),  # Sunday: no periods
    ],
)
def test_hours_in_the_queues_time_zone(moment: str, open_: bool) -> None:
    assert JERUSALEM.is_open(utc(moment)) is open_


def test_closed_hours_say_why() -> None:
    assert "holiday" in JERUSALEM.describe(utc("2026-12-25 09:00:00"))
    assert "outside its hours" in JERUSALEM.describe(utc("2026-12-01 20:00:00"))


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("08:00-17:00", (28800, 61200)),
        ("00:00-24:00", (0, 86400)),
        (" 9:30 - 10:00", (34200, 36000)),
    ],
)
def test_periods(text: str, period: tuple[int, int]) -> None:
    assert parse_period(text) == period


@pytest.mark.parametrize("text", ["17:00-08:00", "8-17", "08:00-24:30", "25:00-26:00", "x"])
def test_bad_periods(text: str) -> None:
    with pytest.raises(ValueError, match="period|ends before"):
        parse_period(text)


LIMIT = OverflowRule(OverflowWhen.WORK_ITEM_LIMIT, OverflowThen.TRANSFER, limit=2, target="q2")
CLOSED = OverflowRule(OverflowWhen.OUTSIDE_HOURS, OverflowThen.END, reason="we are closed")
ANYWAY = OverflowRule(OverflowWhen.WORK_ITEM_LIMIT, OverflowThen.ASSIGN_ANYWAY, limit=0)


def test_work_item_limit_counts_what_already_waits() -> None:
    noon = utc("2026-12-01 10:00:00")
    assert overflow_on_entry((LIMIT,), None, 1, noon) is None
    found = overflow_on_entry((LIMIT,), None, 2, noon)
    assert found is not None and found.rule is LIMIT and "2 already waiting" in found.why


def test_rules_are_checked_in_order() -> None:
    night = utc("2026-12-01 20:00:00")
    found = overflow_on_entry((CLOSED, LIMIT), JERUSALEM, 5, night)
    assert found is not None and found.rule is CLOSED
    assert overflow_on_entry((CLOSED,), JERUSALEM, 5, utc("2026-12-01 10:00:00")) is None


def test_assign_anyway_answers_but_is_not_overflowing() -> None:
    noon = utc("2026-12-01 10:00:00")
    assert overflow_on_entry((ANYWAY,), None, 0, noon) is not None
    assert not is_overflowing((ANYWAY,), None, 9, noon)
    assert is_overflowing((LIMIT,), None, 2, noon)
