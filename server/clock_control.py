"""Driving the server's time by hand, for AdminService.AdvanceClock and simulated calls.

One object owns moving a manual clock, so that two movers (an AdvanceClock call and a call
carrying `switchboard-at`, see `simulation.py`) never interleave their timers.
"""

from __future__ import annotations

import asyncio

from switchboard.actors.centre import Centre
from switchboard.actors.errors import FailedPrecondition, InvalidArgument
from switchboard.actors.runtime import Dispatcher
from switchboard.server import translate
from switchboard.v1 import admin_pb2

# The last second a protobuf Timestamp can hold (9999-12-31T23:59:59Z).
LAST_TIMESTAMP_S = 253_402_300_799


class ClockControl:
    def __init__(self, centre: Centre, dispatcher: Dispatcher) -> None:
        self.centre = centre
        self.dispatcher = dispatcher
        self._lock = asyncio.Lock()

    @property
    def manual(self) -> bool:
        return getattr(self.centre.clock, "manual", False)

    async def advance(self, target: float | None) -> int:
        """Move a manual clock forward to `target` (None: stay), firing due timers in order,
        and return once the engine has settled. Time never goes back: a target in the past
        only settles. Returns the number of timers fired.

        The new time is journaled at every step and committed with the next commit, which
        the caller's answer waits for (`Storage.synced`)."""
        if target is not None:
            if not self.manual:
                raise FailedPrecondition(
                    "this server runs on the system clock; start it with --clock manual to "
                    "drive time"
                )
            if not 0 <= target <= LAST_TIMESTAMP_S:
                raise InvalidArgument(
                    f"the time must lie between 1970-01-01 and 9999-12-31 (got {target} s)"
                )
        async with self._lock:
            if not self.manual:
                await self.dispatcher.settled()
                return 0
            clock = self.centre.clock
            journal = self.centre.journal
            noted = clock.now()

            async def note_and_settle() -> None:
                # Noted at every step, before anything else runs at the new time: a call
                # answered in the middle of a long move must not be undone by a crash (a
                # restart goes on from the last time noted).
                nonlocal noted
                if clock.now() != noted:
                    noted = clock.now()
                    journal.clock_moved(noted)
                await self.dispatcher.settled()

            return await clock.advance_to(  # type: ignore[attr-defined]
                noted if target is None else target, note_and_settle
            )

    def where_things_are(self, fired: int = 0) -> admin_pb2.AdvanceClockResponse:
        """The barrier a client waits on: what time it is and how far each desktop stream
        has been pushed."""
        return admin_pb2.AdvanceClockResponse(
            now=translate.timestamp(self.centre.clock.now()),
            desktop_messages_sent=self.centre.pushes.sent,
            last_sequences=self.centre.pushes.last_sequences(),
            timers_fired=fired,
        )
