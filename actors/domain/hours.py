"""Operating hours: when a queue is open, in its own time zone, with holidays."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class OperatingHours:
    """Open periods per weekday (seconds after local midnight, end exclusive) and closed days.

    A day missing from `weekly` is closed; an empty `weekly` would never open, so the loader
    refuses it.
    """

    timezone: ZoneInfo
    weekly: dict[int, tuple[tuple[int, int], ...]]  # weekday (Monday 0) -> periods
    holidays: frozenset[datetime.date]

    def is_open(self, epoch: float) -> bool:
        local = datetime.datetime.fromtimestamp(epoch, tz=self.timezone)
        if local.date() in self.holidays:
            return False
        second = local.hour * 3600 + local.minute * 60 + local.second
        return any(start <= second < end for start, end in self.weekly.get(local.weekday(), ()))

    def next_change(self, epoch: float) -> float | None:
        """The first moment after `epoch` at which the queue opens or closes (within 8 days),
        so that work waiting when it closes can be dealt with at once."""
        local = datetime.datetime.fromtimestamp(epoch, tz=self.timezone)
        moments = []
        for offset in range(9):
            day = local.date() + datetime.timedelta(days=offset)
            for start, end in self.weekly.get(day.weekday(), ()):
                for second in (start, end):
                    at = datetime.datetime.combine(day, datetime.time(), tzinfo=self.timezone)
                    moment = (at + datetime.timedelta(seconds=second)).timestamp()
                    if moment > epoch:
                        moments.append(moment)
            midnight = datetime.datetime.combine(day, datetime.time(), tzinfo=self.timezone)
            if midnight.timestamp() > epoch and (
                day in self.holidays or day - datetime.timedelta(days=1) in self.holidays
            ):
                moments.append(midnight.timestamp())
            if moments:
                return min(moments)
        return None

    def describe(self, epoch: float) -> str:
        local = datetime.datetime.fromtimestamp(epoch, tz=self.timezone)
        why = "a holiday" if local.date() in self.holidays else "outside its hours"
        return f"{local:%a %Y-%m-%d %H:%M} {self.timezone.key} is {why}"


def parse_period(text: str) -> tuple[int, int]:
    """'08:00-17:30' -> (28800, 63000); '00:00-24:00' is the whole day."""
    try:
        start, end = (part.strip() for part in text.split("-"))
        first, last = _clock(start), _clock(end)
    except ValueError:
        msg = f"{text!r} is not a period like 08:00-17:00"
        raise ValueError(msg) from None
    if not first < last:
        msg = f"{text!r} ends before it starts (periods may not cross midnight: split them)"
        raise ValueError(msg)
    return first, last


def _clock(text: str) -> int:
    hours, minutes = (int(x) for x in text.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ValueError(text)
    return hours * 3600 + minutes * 60
