"""A Pykka future that never blocks the event loop and can call back when done."""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import pykka

T = TypeVar("T")

_PENDING = object()


class LoopFuture(pykka.Future[T]):
    """Result of an `ask`. Await it on the loop, or hang a callback on it from an actor.

    Pykka's stock futures wait on a condition variable; on the thread that runs every actor
    that would deadlock, so `get()` here refuses to wait on the loop's own thread.
    """

    __slots__ = ("_callbacks", "_exc_info", "_value")

    def __init__(self) -> None:
        super().__init__()
        self._value: Any = _PENDING
        self._exc_info: Any = None
        self._callbacks: list[Callable[[LoopFuture[T]], None]] | None = None

    def done(self) -> bool:
        return self._value is not _PENDING or self._exc_info is not None

    def set(self, value: T | None = None) -> None:
        if self.done():
            raise queue.Full
        self._value = value
        self._run_callbacks()

    def set_exception(self, exc_info: Any = None) -> None:
        if self.done():
            raise queue.Full
        self._exc_info = exc_info if exc_info is not None else sys.exc_info()
        self._run_callbacks()

    def set_get_hook(self, func: Any) -> None:
        # A get hook can only be run by blocking; on the loop that would deadlock.
        msg = "LoopFuture does not take get hooks (map/filter/join/reduce): chain with add_done_callback"
        raise NotImplementedError(msg)

    def add_done_callback(self, callback: Callable[[LoopFuture[T]], None]) -> None:
        """Call `callback(self)` once the value is set (at once if it already is)."""
        if self.done():
            callback(self)
            return
        if self._callbacks is None:
            self._callbacks = []
        self._callbacks.append(callback)

    def result(self) -> T:
        """The value, or raise the exception; the future must be done."""
        if self._exc_info is not None:
            _, exc, tb = self._exc_info
            raise exc.with_traceback(tb)
        if self._value is _PENDING:
            msg = "future is not done yet"
            raise asyncio.InvalidStateError(msg)
        return self._value

    def get(self, *, timeout: float | None = None) -> T:
        if self.done():
            return self.result()
        from switchboard.actors.runtime.dispatcher import get_dispatcher

        if threading.get_ident() == get_dispatcher().thread_id:
            msg = "LoopFuture.get() would block the event loop: await the future instead"
            raise RuntimeError(msg)
        event = threading.Event()
        self.add_done_callback(lambda _f: event.set())
        if not event.wait(timeout):
            raise pykka.Timeout(f"{timeout} seconds")
        return self.result()

    def __await__(self) -> Generator[Any, None, T]:
        if not self.done():
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()

            def wake(_f: LoopFuture[T]) -> None:
                if not waiter.done():
                    waiter.set_result(None)

            self.add_done_callback(wake)
            yield from waiter
        return self.result()

    def _run_callbacks(self) -> None:
        callbacks, self._callbacks = self._callbacks, None
        for callback in callbacks or ():
            callback(self)
