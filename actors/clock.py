"""The one clock of the engine. Every timestamp and every timer goes through it.

`SystemClock` follows the wall clock and schedules timers on the asyncio loop. `ManualClock`
only moves when told to (`advance_to`), fires due timers in time order, and lets the engine
settle after each, so tests and replays are fast and give the same result every time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """Run `callback` on the event loop once `now() >= when`."""
        ...


class SystemClock:
    """Wall-clock time; timers are asyncio timers."""

    manual = False

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop

    def now(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        loop = self._loop or asyncio.get_running_loop()
        return loop.call_later(max(0.0, when - time.time()), callback)


class _ManualTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """Time that moves only when `advance_to` is called."""

    manual = True

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _ManualTimer]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _ManualTimer(when, callback)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    def next_due(self) -> float | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    async def advance_to(self, target: float, settle: Callable[[], object]) -> int:
        """Move to `target`, firing due timers in order; after each, await `settle()`.

        Time never moves backwards: a target in the past only settles. Returns the number of
        timers fired.
        """
        fired = 0
        await settle()  # type: ignore[misc]
        while True:
            due = self.next_due()
            if due is None or due > target:
                break
            _, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, timer.when)
            timer.callback()
            fired += 1
            await settle()  # type: ignore[misc]
        self._now = max(self._now, target)
        await settle()  # type: ignore[misc]
        return fired
