"""What the journal gives back after a restart: the open work, where it was, and what the
engine had promised (client keys, desktop sequence numbers, the manual clock's time)."""

from __future__ import annotations

from dataclasses import dataclass, field

from switchboard.actors.conversation import TimelineEntry
from switchboard.actors.domain.model import AgentSpec, ConversationState, Ticket


@dataclass(frozen=True, slots=True)
class OpenConversation:
    ticket: Ticket
    state: ConversationState
    agent_id: str  # who holds it (or parked it, or has it ringing); "" when it is queued
    offer_pending: bool
    since: float  # when it entered `state`: its auto-close and wrap-up timers run from here
    timeline: tuple[TimelineEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class SubmitKey:
    """A gateway's idempotency key and what the first submit with it created."""

    work_stream_id: str
    customer_id: str
    conversation_id: str
    queue_id: str


@dataclass(slots=True)
class Saved:
    conversations: list[OpenConversation] = field(default_factory=list)
    agents: list[AgentSpec] = field(default_factory=list)  # provisioned through the API
    keys: dict[str, SubmitKey] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)  # agent -> last message pushed
    clock: float | None = None  # the manual clock's time when it last moved
    # conversation id -> (agent id, "offered" | "active" | "wrap_up" | "waiting", since)
    holdings: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    # agent id -> (ISO day, {end-of-day profile: items counted that day})
    profile_counts: dict[str, tuple[str, dict[str, int]]] = field(default_factory=dict)
