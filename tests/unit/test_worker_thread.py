"""WorkerThread: blocking work handed over from the loop runs in order, one job at a time,
and every outcome (a result, an exception, a closed loop) reaches whoever waits for it."""

from __future__ import annotations

import asyncio
import threading

import pytest
from switchboard.server.worker_thread import WorkerThread


async def test_jobs_run_in_the_order_handed_over_on_one_other_thread() -> None:
    worker = WorkerThread("test")
    seen: list[tuple[int, str]] = []

    def job(n: int) -> int:
        seen.append((n, threading.current_thread().name))
        return n * 10

    futures = [worker.run(job, n) for n in range(50)]
    assert await asyncio.gather(*futures) == [n * 10 for n in range(50)]
    assert [n for n, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"test"}
    assert threading.current_thread().name != "test"
    worker.shutdown()


async def test_an_exception_reaches_the_waiter_and_the_thread_goes_on() -> None:
    worker = WorkerThread("test")

    def fails() -> None:
        raise ValueError("disk on fire")

    with pytest.raises(ValueError, match="disk on fire"):
        await worker.run(fails)
    assert await worker.run(lambda: "still here") == "still here"
    worker.shutdown()


async def test_shutdown_waits_for_what_was_handed_over() -> None:
    worker = WorkerThread("test")
    gate = threading.Event()
    done: list[int] = []

    def slow(n: int) -> None:
        gate.wait(5)
        done.append(n)

    worker.run(slow, 1)
    worker.run(slow, 2)
    gate.set()
    worker.shutdown()
    assert done == [1, 2]
    worker.shutdown()  # a second time: nothing left to stop


async def test_a_cancelled_waiter_does_not_break_the_thread() -> None:
    worker = WorkerThread("test")
    gate = threading.Event()
    first = worker.run(gate.wait, 5)
    first.cancel()
    gate.set()
    assert await worker.run(lambda: 7) == 7
    worker.shutdown()


def test_a_job_finishing_after_its_loop_closed_is_dropped_quietly() -> None:
    worker = WorkerThread("test")
    gate = threading.Event()
    loop = asyncio.new_event_loop()

    async def hand_over() -> asyncio.Future:
        return worker.run(gate.wait, 5)

    loop.run_until_complete(hand_over())
    loop.close()
    gate.set()  # the answer now has no loop to go to
    worker.shutdown()  # returns: the thread survived it
    assert not worker._thread


def test_no_thread_until_there_is_work() -> None:
    before = threading.active_count()
    worker = WorkerThread("test")
    assert threading.active_count() == before
    worker.shutdown()
