"""Capacity profile counting, without actors: what counts, what gives back, midnight."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from switchboard.actors.domain.capacity import ProfileCounts
from switchboard.actors.domain.model import CapacityProfile, ProfileReset

PARIS = ZoneInfo("Europe/Paris")
DAILY = CapacityProfile("daily", limit=2, reset=ProfileReset.END_OF_DAY)
HOT = CapacityProfile("hot", limit=1, reset=ProfileReset.IMMEDIATE)
SOFT = CapacityProfile("soft", limit=1, blocking=False)


def at(day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=PARIS).timestamp()


def counts() -> ProfileCounts:
    result = ProfileCounts({"daily": DAILY, "hot": HOT, "soft": SOFT}, PARIS)
    result.roll(at(1, 9))
    return result


def test_an_item_counts_in_every_profile_it_consumes() -> None:
    c = counts()
    c.take(("daily", "hot"))
    assert c.room() == {"daily": 1, "hot": 0, "soft": 1}
    assert c.over_limit(("daily", "hot")) == ["hot"]
    assert c.blocking(("hot",)) == ["hot"]


def test_releasing_gives_back_only_immediate_profiles() -> None:
    c = counts()
    c.take(("daily", "hot"))
    c.give_back(("daily", "hot"), released_only=True)
    assert c.used == {"daily": 1, "hot": 0, "soft": 0}


def test_an_offer_that_did_not_happen_gives_everything_back() -> None:
    c = counts()
    c.take(("daily", "hot"))
    c.give_back(("daily", "hot"), released_only=False, counted_on=c.day)
    assert c.used == {"daily": 0, "hot": 0, "soft": 0}
    c.give_back(("daily",), released_only=False, counted_on=c.day)
    assert c.used["daily"] == 0  # never below nothing


def test_a_profile_that_does_not_block_is_over_its_limit_but_not_blocking() -> None:
    c = counts()
    c.take(("soft",))
    assert c.over_limit(("soft",)) == ["soft"]
    assert c.blocking(("soft",)) == []


def test_end_of_day_profiles_start_over_at_local_midnight() -> None:
    c = counts()
    c.take(("daily", "hot"))
    assert c.next_midnight(at(1, 23, 59)) == at(2, 0)
    assert not c.roll(at(1, 23, 59))
    assert c.roll(at(2, 0))
    assert c.used == {"daily": 0, "hot": 1, "soft": 0}  # held work still holds `hot`
    assert c.next_midnight(at(2, 0)) is None  # nothing left to start over


def test_midnight_follows_the_time_zone_across_a_clock_change() -> None:
    c = counts()
    c.take(("daily",))
    # Paris moves its clocks forward on 29 March 2026: that day has 23 hours.
    assert c.next_midnight(at(29, 12)) - c.next_midnight(at(28, 12)) == 23 * 3600


def test_new_limits_keep_the_counts_of_profiles_kept() -> None:
    c = counts()
    c.take(("daily", "hot"))
    c.reprofile({"daily": CapacityProfile("daily", limit=5, reset=ProfileReset.END_OF_DAY)})
    assert c.used == {"daily": 1}
    assert c.room() == {"daily": 4}


def test_an_offer_counted_yesterday_gives_nothing_back_today() -> None:
    c = counts()
    c.take(("daily",))
    yesterday = c.day
    c.roll(at(2, 0, 1))
    c.take(("daily",))
    c.give_back(("daily",), released_only=False, counted_on=yesterday)
    assert c.used["daily"] == 1  # today's one still counts


def test_a_restart_brings_back_todays_end_of_day_counts_only() -> None:
    c = counts()
    today = c.day.isoformat()
    assert c.restore(today, {"daily": 2, "hot": 1}, at(1, 10))
    assert c.used == {"daily": 2, "hot": 0, "soft": 0}  # immediate profiles are recounted
    fresh = counts()
    assert not fresh.restore("2026-02-28", {"daily": 2}, at(1, 10))  # yesterday's: gone
    assert fresh.used["daily"] == 0
