"""The dispatcher: runs actors that have mail, a batch per turn of the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from switchboard.actors.runtime.actor import LoopActor

# How many messages one actor handles before the next actor gets a turn, and how many the
# dispatcher handles before it yields to the loop so that gRPC I/O is not starved.
MESSAGES_PER_ACTOR_TURN = 32
MESSAGES_PER_LOOP_TURN = 2000


class Dispatcher:
    """Schedules actors on one asyncio loop. All actor code runs on the loop's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.thread_id = threading.get_ident()
        self._ready: deque[LoopActor] = deque()
        self._turn_pending = False
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._turns = 0  # turns run so far
        self._settled_after = -1  # the turn count when settled() last found everything done

    def schedule(self, actor: LoopActor) -> None:
        """Queue an actor that has mail. Safe to call from any thread."""
        if threading.get_ident() != self.thread_id:
            self.loop.call_soon_threadsafe(self.schedule, actor)
            return
        if actor._scheduled:
            return
        actor._scheduled = True
        self._ready.append(actor)
        if not self._turn_pending:
            self._turn_pending = True
            self.loop.call_soon(self._turn)

    def _turn(self) -> None:
        # `_turn_pending` stays set while this turn runs, so that actors scheduled meanwhile
        # join this turn's queue instead of asking the loop for another turn each time.
        self._turns += 1
        budget = MESSAGES_PER_LOOP_TURN
        ready = self._ready
        while ready and budget > 0:
            actor = ready.popleft()
            actor._scheduled = False
            handled = actor._handle_some(MESSAGES_PER_ACTOR_TURN)
            budget -= handled
            if actor._has_mail():
                actor._scheduled = True
                ready.append(actor)
        if ready:
            self.loop.call_soon(self._turn)  # let gRPC I/O and timers run, then go on
        else:
            self._turn_pending = False
            self._wake_idle_waiters()

    @property
    def idle(self) -> bool:
        return not self._ready

    async def settled(self) -> None:
        """Return once no actor has mail left (including mail sent while waiting)."""
        while True:
            if self.idle and self._turns == self._settled_after:
                return  # no actor has run since the engine was last found settled
            while not self.idle:
                waiter = self.loop.create_future()
                self._idle_waiters.append(waiter)
                await waiter
            # Let callbacks queued by the last turn run too (futures resolving, stream
            # writes); if they sent mail, go round again.
            turns = self._turns
            await asyncio.sleep(0)
            if self.idle and self._turns == turns:
                self._settled_after = turns
                return

    def _wake_idle_waiters(self) -> None:
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


_current: Dispatcher | None = None


def install_dispatcher(loop: asyncio.AbstractEventLoop | None = None) -> Dispatcher:
    """Create the process's dispatcher on `loop` (default: the running loop)."""
    global _current
    _current = Dispatcher(loop or asyncio.get_running_loop())
    return _current


def get_dispatcher() -> Dispatcher:
    if _current is None:
        msg = "no dispatcher installed: call install_dispatcher() on the event loop first"
        raise RuntimeError(msg)
    return _current
