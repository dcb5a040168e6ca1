"""What an agent actor pushes to a connected desktop, and the link it pushes through.

The gRPC layer owns the stream; the agent only sees a `DesktopLink` with `send()`. Events are
plain values here and become protobuf messages in `switchboard.server`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from switchboard.actors.domain.model import ConversationState, Presence, Work


@dataclass(frozen=True, slots=True)
class OfferEvent:
    work: Work
    expires_at: float


@dataclass(frozen=True, slots=True)
class AssignmentEvent:
    work: Work


@dataclass(frozen=True, slots=True)
class OfferWithdrawnEvent:
    conversation_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ConversationUpdateEvent:
    conversation_id: str
    state: ConversationState
    reason: str


@dataclass(frozen=True, slots=True)
class AgentUpdateEvent:
    presence: Presence
    capacity_used: int
    capacity_total: int
    conversation_ids: tuple[str, ...]
    custom_presence: str = ""


@dataclass(slots=True)
class Envelope:
    """One message to a desktop, numbered per agent.

    `agent` is the agent's state after the event, when the event changed it. The agent sets
    it within the same turn as it pushed the event (see AgentActor._push), which is before
    anyone reads the envelope: the journal encodes it when its batch is committed and the
    link sends it after that commit, both later turns of the loop. After that turn it never
    changes, except that the server keeps its wire form in `wire` the first time it builds
    it (for the journal or the stream, whichever comes first), so a message is built once
    however often it goes out."""

    sequence: int
    at: float
    event: Any
    agent: AgentUpdateEvent | None = None
    wire: Any = field(default=None, compare=False, repr=False)


class PushCounter:
    """Counts every message pushed to any desktop, and knows the open links: the barrier a
    manual-clock client waits on (see AdminService.AdvanceClock)."""

    __slots__ = ("links", "sent")

    def __init__(self) -> None:
        self.sent = 0
        self.links: set[DesktopLink] = set()

    def last_sequences(self) -> dict[str, int]:
        """Per agent, the sequence number of the last message pushed on its open link."""
        return {
            link.agent_id: link.last_sequence
            for link in self.links
            if link.closed_reason is None and link.last_sequence
        }


def _at_once(callback: Callable[[], None]) -> None:
    callback()


class DesktopLink:
    """One open desktop stream. `send` never blocks; the stream drains `outbox`.

    `gate` holds each message back until the journal has committed what it tells (and the
    message itself), so a desktop never hears of a change a crash could undo; messages keep
    their order through it.
    """

    # Sentinel put in the outbox to end the stream (replaced by a newer connection, shutdown).
    CLOSE = object()

    def __init__(
        self,
        agent_id: str,
        counter: PushCounter,
        gate: Callable[[Callable[[], None]], None] = _at_once,
    ) -> None:
        self.agent_id = agent_id
        self.outbox: asyncio.Queue[Any] = asyncio.Queue()
        self._counter = counter
        self._gate = gate
        self.closed_reason: str | None = None
        self.detached = False
        self.last_sequence = 0
        counter.links.add(self)

    def send(self, envelope: Envelope) -> None:
        if self.closed_reason is not None:
            return
        self._counter.sent += 1
        self.last_sequence = envelope.sequence
        self._gate(lambda: self._deliver(envelope))

    def _deliver(self, item: Any) -> None:
        if self.detached:
            if item is not self.CLOSE:
                self._counter.sent -= 1  # the desktop hung up before it could go
            return
        self.outbox.put_nowait(item)

    def detach(self) -> None:
        """The stream is gone (the desktop hung up): stop counting what it will never get."""
        self._counter.links.discard(self)
        self.detached = True
        if self.closed_reason is None:
            self.closed_reason = "desktop disconnected"
        while not self.outbox.empty():
            if self.outbox.get_nowait() is not self.CLOSE:
                self._counter.sent -= 1

    def close(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            self._gate(lambda: self._deliver(self.CLOSE))
