"""Timers that deliver a message to an actor, and stay quiet once it has stopped."""

from __future__ import annotations

from typing import Any

import pykka


def tell_later(clock: Any, when: float, ref: pykka.ActorRef[Any], message: object) -> Any:
    """Schedule `message` for `ref` at `when` on `clock`; returns a cancellable handle."""

    def deliver() -> None:
        if ref.is_alive():
            ref.tell(message)

    return clock.call_at(when, deliver)
