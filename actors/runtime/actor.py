"""`LoopActor`: a Pykka actor whose messages are handled by the shared dispatcher."""

from __future__ import annotations

import itertools
import logging
import sys
import uuid
from collections import deque
from typing import Any

import pykka
from pykka import messages as pykka_messages
from switchboard.actors.runtime.dispatcher import get_dispatcher
from switchboard.actors.runtime.future import LoopFuture

logger = logging.getLogger(__name__)


class _Mailbox:
    """Pykka's inbox protocol (put/get/empty) over a deque; a put schedules the actor.

    Most actors are idle most of the time (a queued conversation waits for minutes), and an
    empty deque costs ~600 bytes, so the deque exists only while there is mail.
    """

    __slots__ = ("_actor", "_messages")

    def __init__(self, actor: LoopActor) -> None:
        self._actor = actor
        self._messages: deque[Any] | None = None

    def put(self, envelope: Any, /) -> None:
        if self._messages is None:
            self._messages = deque()
        self._messages.append(envelope)
        if not self._actor._scheduled:
            self._actor._dispatcher.schedule(self._actor)

    def get(self) -> Any:
        assert self._messages is not None
        envelope = self._messages.popleft()
        if not self._messages:
            self._messages = None
        return envelope

    def empty(self) -> bool:
        return not self._messages


# Actor urns: unique in this process and, through the random prefix, across processes.
_URN_PREFIX = f"urn:switchboard:{uuid.uuid4().hex}:"
_actor_numbers = itertools.count(1)


class _StopFlag:
    """Stands in for the `threading.Event` Pykka gives every actor as `actor_stopped`: all
    our actors live on one thread, and an Event (a lock, a condition and a deque) would be
    most of an idle actor's memory."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


class LoopActorRef(pykka.ActorRef[Any]):
    """Pykka's ref, with a `stop()` whose future can be awaited on the loop.

    Pykka builds the non-blocking stop future from a blocking "get hook", which nothing on
    the event loop may call; here the result is chained with a callback instead.
    """

    def stop(self, block: bool = True, timeout: float | None = None) -> Any:
        result: LoopFuture[bool] = LoopFuture()
        try:
            asked = self.ask(pykka_messages._ActorStop(), block=False)
        except pykka.ActorDeadError:
            result.set(False)
        else:

            def convert(future: LoopFuture[Any]) -> None:
                try:
                    future.result()
                except pykka.ActorDeadError:
                    result.set(False)
                else:
                    result.set(True)

            asked.add_done_callback(convert)  # type: ignore[attr-defined]
        return result.get(timeout=timeout) if block else result


class LoopActor(pykka.Actor):
    """Base class of every Switchboard actor.

    Subclasses handle their own message types in `on_receive` (typed messages, see
    `switchboard.actors.messages`) and may also be called through Pykka proxies. Actors are
    not put in Pykka's global `ActorRegistry`: its look-ups are linear scans, and we keep
    our own directory of id -> ref instead.
    """

    _scheduled: bool

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> pykka.ActorRef[Any]:
        actor = cls(*args, **kwargs)
        actor._start_actor_loop()
        return actor.actor_ref

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The fields pykka.Actor.__init__ sets, set here instead: it would build a
        # threading.Event and a uuid4 for each actor (a fifth of what starting a conversation
        # costs), only for us to replace the event and never look the urn up.
        self._scheduled = False
        self._dispatcher = get_dispatcher()
        self.actor_urn = f"{_URN_PREFIX}{next(_actor_numbers)}"
        self.actor_inbox = self._create_actor_inbox()
        self.actor_stopped = _StopFlag()  # type: ignore[assignment]
        self._actor_ref = LoopActorRef(self)

    def _create_actor_inbox(self) -> _Mailbox:  # type: ignore[override]
        return _Mailbox(self)

    @staticmethod
    def _create_future() -> LoopFuture[Any]:
        return LoopFuture()

    def _start_actor_loop(self) -> None:
        # on_start runs as the actor's first piece of work, in order before any mail.
        self._scheduled = False
        try:
            self.on_start()
        except Exception:
            self._handle_failure(*sys.exc_info())

    def _has_mail(self) -> bool:
        return not self.actor_inbox.empty() and not self.actor_stopped.is_set()

    def _handle_some(self, limit: int) -> int:
        handled = 0
        inbox = self.actor_inbox
        while handled < limit and not inbox.empty():
            envelope = inbox.get()
            handled += 1
            if self.actor_stopped.is_set():
                self._refuse(envelope)
                continue
            try:
                response = self._handle_receive(envelope.message)
            except Exception:
                if envelope.reply_to is not None:
                    envelope.reply_to.set_exception()
                else:
                    self._handle_failure(*sys.exc_info())
                continue
            if envelope.reply_to is not None:
                envelope.reply_to.set(response)
        return handled

    def _refuse(self, envelope: Any) -> None:
        if envelope.reply_to is None:
            return
        if isinstance(envelope.message, pykka_messages._ActorStop):
            envelope.reply_to.set(None)
            return
        error = pykka.ActorDeadError(f"{self.actor_ref} stopped before handling the message")
        envelope.reply_to.set_exception((pykka.ActorDeadError, error, None))

    def _stop(self) -> None:
        self.actor_stopped.set()
        try:
            self.on_stop()
        except Exception:
            self._handle_failure(*sys.exc_info())
        while not self.actor_inbox.empty():
            self._refuse(self.actor_inbox.get())

    def _handle_failure(self, exc_type: Any, exc_value: Any, tb: Any) -> None:
        # Unlike Pykka's default, a failing actor is logged and keeps running: one bad
        # message about one conversation must not silently drop that conversation.
        logger.error("Unhandled exception in %s", self, exc_info=(exc_type, exc_value, tb))
