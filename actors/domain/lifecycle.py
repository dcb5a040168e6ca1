"""The conversation state machine: which events move which state where."""

from __future__ import annotations

import enum

from switchboard.actors.domain.model import ConversationState as S


class Event(enum.Enum):
    ACCEPT = "accept"  # an agent accepted, picked, or auto-accept assigned it
    ABANDON = "abandon"  # the customer left before it was accepted
    END = "end"  # agent or customer ended it
    RELEASE = "release"  # back to the queue (released, transferred to a queue, lost agent)
    PARK = "park"
    CUSTOMER_RETURNS = "customer_returns"
    RESUME = "resume"
    CLOSE = "close"  # agent closed after wrap-up
    TIMEOUT = "timeout"  # the auto-close timer of the current state fired
    TURNED_AWAY = "turned_away"  # a queue's overflow rule ended it


TRANSITIONS: dict[tuple[S, Event], S] = {
    (S.OPEN, Event.ACCEPT): S.ACTIVE,
    (S.OPEN, Event.ABANDON): S.CLOSED,
    (S.OPEN, Event.TIMEOUT): S.CLOSED,
    (S.OPEN, Event.TURNED_AWAY): S.CLOSED,
    (S.ACTIVE, Event.END): S.WRAP_UP,
    (S.ACTIVE, Event.RELEASE): S.OPEN,
    (S.ACTIVE, Event.PARK): S.WAITING,
    (S.ACTIVE, Event.TIMEOUT): S.CLOSED,
    (S.WAITING, Event.CUSTOMER_RETURNS): S.OPEN,
    (S.WAITING, Event.RESUME): S.ACTIVE,
    (S.WAITING, Event.TIMEOUT): S.CLOSED,
    (S.WRAP_UP, Event.CLOSE): S.CLOSED,
    (S.WRAP_UP, Event.TIMEOUT): S.CLOSED,
}


class IllegalTransition(Exception):
    def __init__(self, state: S, event: Event) -> None:
        super().__init__(f"cannot {event.value} a conversation that is {state.value}")
        self.state = state
        self.event = event


def transition(state: S, event: Event) -> S:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event) from None


def holds_capacity(state: S) -> bool:
    """Capacity is held while Active; Wrap-up depends on the stream's blocking setting."""
    return state is S.ACTIVE
