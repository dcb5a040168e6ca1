"""The asyncio Pykka runtime and the manual clock, without any gRPC."""

from __future__ import annotations

import asyncio

import pykka
import pytest
from switchboard.actors.clock import ManualClock
from switchboard.actors.runtime import LoopActor, LoopFuture, install_dispatcher


class Counter(LoopActor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.seen: list[object] = []

    def on_receive(self, message: object) -> object:
        if message == "boom":
            raise ValueError("boom")
        self.seen.append(message)
        self.count += 1
        return self.count

    def double(self, x: int) -> int:
        return 2 * x


async def test_tell_and_ask_share_one_loop_in_order() -> None:
    dispatcher = install_dispatcher()
    ref = Counter.start()
    for i in range(100):
        ref.tell(i)
    assert await ref.ask("last", block=False) == 101
    await dispatcher.settled()
    assert dispatcher.idle


async def test_many_actors_need_no_threads() -> None:
    import threading

    install_dispatcher()
    before = threading.active_count()
    refs = [Counter.start() for _ in range(5000)]
    results = await asyncio.gather(*(r.ask("x", block=False) for r in refs))
    assert results == [1] * 5000
    assert threading.active_count() <= before  # no thread was started for any actor


async def test_exceptions_reach_the_asker_and_the_actor_survives() -> None:
    install_dispatcher()
    ref = Counter.start()
    with pytest.raises(ValueError, match="boom"):
        await ref.ask("boom", block=False)
    assert await ref.ask("after", block=False) == 1


async def test_proxies_work_on_the_loop_runtime() -> None:
    install_dispatcher()
    proxy = Counter.start().proxy()
    assert await proxy.double(21) == 42


async def test_stopped_actor_refuses_mail() -> None:
    install_dispatcher()
    ref = Counter.start()
    await ref.stop(block=False)
    assert not ref.is_alive()
    with pytest.raises(pykka.ActorDeadError):
        ref.tell("late")


async def test_future_get_refuses_to_block_the_loop() -> None:
    install_dispatcher()
    future: LoopFuture[int] = LoopFuture()
    with pytest.raises(RuntimeError, match="block the event loop"):
        future.get()
    calls: list[int] = []
    future.add_done_callback(lambda f: calls.append(f.result()))
    future.set(7)
    assert calls == [7]
    assert future.get() == 7
    assert await future == 7


async def test_manual_clock_fires_timers_in_order_at_their_time() -> None:
    dispatcher = install_dispatcher()
    clock = ManualClock(100.0)
    fired: list[tuple[str, float]] = []
    clock.call_at(130, lambda: fired.append(("b", clock.now())))
    clock.call_at(110, lambda: fired.append(("a", clock.now())))
    cancelled = clock.call_at(120, lambda: fired.append(("x", clock.now())))
    cancelled.cancel()
    clock.call_at(500, lambda: fired.append(("later", clock.now())))
    count = await clock.advance_to(200, dispatcher.settled)
    assert fired == [("a", 110), ("b", 130)]
    assert count == 2
    assert clock.now() == 200
    await clock.advance_to(150, dispatcher.settled)  # never backwards
    assert clock.now() == 200
