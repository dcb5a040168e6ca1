"""The replay's reconnect after a lost server: a desktop's reader that takes the event lock to
answer something its old stream delivered must not leave the reconnect waiting for ever."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from switchboard.clients.replay.bankday import load_day
from switchboard.clients.replay.driver import Replay

DAY = Path(__file__).resolve().parents[2] / "examples" / "bank" / "anonbank-1999-08-01.csv"


class _Connection:
    settle_calls = False
    simulated_time = 0.0


class _Desktop:
    """Reads its stream as `Desktop` does: a message is handled under the replay's event lock
    (answering an offer), and hanging up cancels the stream, then waits for the reader."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.hung_up = False
        self.connection: Any = None
        self.reconnected = False
        self.answered = False
        self._stream: asyncio.Queue = asyncio.Queue()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while (message := await self._stream.get()) is not None:
            async with self.replay.acting:
                self.answered = message

    def deliver(self, message: str) -> None:
        """A message the old stream still hands over (it was on its way when the server
        went away); a stream already cancelled delivers nothing."""
        if not self.hung_up:
            self._stream.put_nowait(message)

    async def disconnect(self) -> None:
        self.hung_up = True
        self._stream.put_nowait(None)  # the stream is cancelled: the read loop ends
        await self.reader

    async def connect(self, presence: int, *, resume: bool = False) -> None:
        self.hung_up = False
        self.reconnected = resume


async def test_a_message_from_the_dead_stream_does_not_hang_the_reconnect() -> None:
    desktops: list[_Desktop] = []

    async def server_back() -> Any:
        # Restarting takes a while; meanwhile the old stream hands over one last offer.
        for desktop in desktops:
            desktop.deliver("offer")
            await asyncio.sleep(0)
        return _Connection()

    replay = Replay(_Connection(), load_day(DAY), on_server_lost=server_back)  # type: ignore[arg-type]
    desktops.append(_Desktop(replay))
    replay.desktops = {"a1": desktops[0]}  # type: ignore[dict-item]
    await asyncio.wait_for(replay._reconnect(), 5)
    assert desktops[0].reconnected and replay.restarts == 1
