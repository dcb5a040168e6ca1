"""Capacity profiles: what an agent has used of each, and when the count starts over."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from switchboard.actors.domain.model import CapacityProfile, ProfileReset


class ProfileCounts:
    """Work counted against each of one agent's capacity profiles.

    An item counts from the moment it is offered. Declined or withdrawn offers give their
    place back. Releasing capacity (close, park, hand-over) gives it back only for profiles
    that reset `immediate`; `end_of_day` profiles start over at local midnight.
    """

    def __init__(self, profiles: Mapping[str, CapacityProfile], zone: ZoneInfo) -> None:
        self.profiles = profiles
        self.zone = zone
        self.used: dict[str, int] = dict.fromkeys(profiles, 0)
        self.day: dt.date | None = None

    def reprofile(self, profiles: Mapping[str, CapacityProfile]) -> None:
        """New limits (a reload or an upsert): counts of profiles kept stay."""
        self.profiles = profiles
        self.used = {name: self.used.get(name, 0) for name in profiles}

    def move_to(self, zone: ZoneInfo, now: float) -> None:
        """Days now end at midnight in `zone`; what today counted still counts."""
        self.zone = zone
        self.day = dt.datetime.fromtimestamp(now, zone).date()

    def roll(self, now: float) -> bool:
        """Start end-of-day profiles over if `now` is on a later day. True if any did."""
        today = dt.datetime.fromtimestamp(now, self.zone).date()
        if self.day == today:
            return False
        started_over = self.day is not None and any(
            self.used[name]
            for name, p in self.profiles.items()
            if p.reset is ProfileReset.END_OF_DAY
        )
        if self.day is not None:
            for name, profile in self.profiles.items():
                if profile.reset is ProfileReset.END_OF_DAY:
                    self.used[name] = 0
        self.day = today
        return started_over

    def next_midnight(self, now: float) -> float | None:
        """When end-of-day counts start over, if any is counting; None otherwise."""
        if not any(
            self.used[name]
            for name, p in self.profiles.items()
            if p.reset is ProfileReset.END_OF_DAY
        ):
            return None
        local = dt.datetime.fromtimestamp(now, self.zone)
        tomorrow = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), self.zone)
        return tomorrow.timestamp()

    def end_of_day_counts(self) -> dict[str, int]:
        return {
            name: self.used[name]
            for name, p in self.profiles.items()
            if p.reset is ProfileReset.END_OF_DAY
        }

    def restore(self, day: str, used: dict[str, int], now: float) -> bool:
        """After a restart: today's end-of-day counts as journalled. True if any applied
        (a count from an earlier day has started over already)."""
        self.roll(now)
        if self.day is None or self.day.isoformat() != day:
            return False
        applied = False
        for name, count in used.items():
            profile = self.profiles.get(name)
            if profile is not None and profile.reset is ProfileReset.END_OF_DAY:
                self.used[name] = max(self.used[name], count)
                applied = True
        return applied

    def take(self, names: tuple[str, ...], *, immediate_only: bool = False) -> None:
        """Count one item; `immediate_only` for work coming back from Waiting, which the
        day's count already holds."""
        for name in names:
            profile = self.profiles.get(name)
            if profile is None:
                continue
            if immediate_only and profile.reset is not ProfileReset.IMMEDIATE:
                continue
            self.used[name] += 1

    def give_back(
        self, names: tuple[str, ...], *, released_only: bool, counted_on: object = None
    ) -> None:
        """An offer that did not happen (`released_only` False) or capacity released.

        An end-of-day profile only takes back what it counted today (`counted_on`, the day
        the item was counted): yesterday's offer declined after midnight frees nothing of
        today's count.
        """
        for name in names:
            profile = self.profiles.get(name)
            if profile is None:
                continue
            if profile.reset is not ProfileReset.IMMEDIATE and (
                released_only or counted_on != self.day
            ):
                continue
            self.used[name] = max(0, self.used[name] - 1)

    def room(self) -> dict[str, int]:
        """Places left per profile, for push assignment: a profile at its limit has none."""
        return {name: p.limit - self.used[name] for name, p in self.profiles.items()}

    def over_limit(self, names: tuple[str, ...]) -> list[str]:
        """Profiles among `names` that taking one more item would take past their limit."""
        return [
            name
            for name in names
            if name in self.profiles and self.used[name] >= self.profiles[name].limit
        ]

    def blocking(self, names: tuple[str, ...]) -> list[str]:
        """Profiles among `names` at a limit that nobody may go past."""
        return [name for name in self.over_limit(names) if self.profiles[name].blocking]
