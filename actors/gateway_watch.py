"""What gateways watching conversations are told (GatewayService.WatchConversations)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from switchboard.actors.domain.model import ConversationState


@dataclass(frozen=True, slots=True)
class ConversationEvent:
    conversation_id: str
    work_stream_id: str
    state: ConversationState
    kind: str
    reason: str
    detail: str
    at: float
    queue_id: str


class GatewayWatch:
    """One gateway's open WatchConversations stream: what it asked for and its outbox."""

    CLOSE = object()  # put in `events` to end the stream (shutdown)

    def __init__(self, stream_ids: frozenset[str]) -> None:
        self.stream_ids = stream_ids
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        self.closed_reason: str | None = None

    def close(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            self.events.put_nowait(self.CLOSE)
