"""One thread that runs blocking work (SQLite) in the order it is handed over, for the loop.

`loop.run_in_executor` with a one-thread `ThreadPoolExecutor` did the same, with more work on
the event loop's thread for each hand-over: a `concurrent.futures.Future` chained to an
asyncio one, the pool's locks, and an "is a thread idle?" semaphore acquired in Python on
every call (together 8-10 % of the loop's samples under a submit-only load on a busy
machine; on a quiet one, paired runs showed no difference beyond the noise). Here a
hand-over is one put on a `SimpleQueue` (C, no Python lock), and the answer comes back with
one `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

_STOP = object()


class WorkerThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None  # started on first use, as a pool does

    def run(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future:
        """`fn(*args)` on the thread, after everything handed over before it; the future
        holds its result or its exception. Call from the loop's thread."""
        future = asyncio.get_running_loop().create_future()
        if self._thread is None:
            # A daemon: a server that dies without closing its journal must still exit.
            # (Closing waits for the thread; a commit cut short by an exit is rolled back by
            # SQLite like one cut short by a crash.)
            self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
            self._thread.start()
        self._jobs.put((future, fn, args))
        return future

    def shutdown(self) -> None:
        """Wait for the work handed over so far, then end the thread (blocks)."""
        if self._thread is None:
            return
        self._jobs.put(_STOP)
        self._thread.join()
        self._thread = None

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            future, fn, args = job
            try:
                result = fn(*args)
            except BaseException as exc:  # handed back to whoever awaits it, as a pool does
                _answer(future, _set_exception, exc)
            else:
                _answer(future, _set_result, result)


def _answer(future: asyncio.Future, settle: Callable[..., None], value: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is left to tell
        future.get_loop().call_soon_threadsafe(settle, future, value)


def _set_result(future: asyncio.Future, value: Any) -> None:
    if not future.done():  # cancelled meanwhile
        future.set_result(value)


def _set_exception(future: asyncio.Future, exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
