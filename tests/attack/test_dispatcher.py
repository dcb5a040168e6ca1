"""The dispatcher under sustained load: it must yield to the event loop (gRPC I/O, timers)
after every MESSAGES_PER_LOOP_TURN messages, however long actors keep messaging each other.
"""

from __future__ import annotations

import asyncio

from switchboard.actors.runtime import LoopActor, install_dispatcher
from switchboard.actors.runtime.dispatcher import MESSAGES_PER_LOOP_TURN


class Pinger(LoopActor):
    """Answers every ping with a ping to its peer until the shared count runs out (a queue
    and an agent proposing and returning work behave like this)."""

    def __init__(self, left: list[int]) -> None:
        super().__init__()
        self.left = left
        self.peer = None

    def on_receive(self, message: object) -> object:
        if isinstance(message, tuple):
            self.peer = message[1]
            return None
        self.left[0] -= 1
        if self.left[0] > 0:
            self.peer.tell("ping")
        return None


async def test_a_long_chain_of_messages_lets_the_loop_run_once_per_turn() -> None:
    dispatcher = install_dispatcher()
    messages = 100 * MESSAGES_PER_LOOP_TURN
    left = [messages]
    a, b = Pinger.start(left), Pinger.start(left)
    a.tell(("peer", b))
    b.tell(("peer", a))
    await dispatcher.settled()

    loop_turns = 0
    a.tell("ping")
    while left[0] > 0:
        await asyncio.sleep(0)  # runs once per turn of the event loop
        loop_turns += 1
    await dispatcher.settled()
    # One dispatcher turn per loop turn: about messages / MESSAGES_PER_LOOP_TURN of them.
    assert loop_turns >= 0.9 * messages / MESSAGES_PER_LOOP_TURN, loop_turns
