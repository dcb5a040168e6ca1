"""Finding the live actor for an id a client sent, with the right refusal when there is none."""

from __future__ import annotations

from typing import Any

from switchboard.actors.centre import Centre
from switchboard.actors.errors import FailedPrecondition, NotFound
from switchboard.server.storage import Storage


async def open_conversation(centre: Centre, storage: Storage, conversation_id: str) -> Any:
    """The conversation's actor. A conversation that closed long ago (only in the journal now)
    is refused as closed, like a recently closed one, not as unknown."""
    try:
        return centre.conversation(conversation_id)
    except NotFound:
        if await storage.find_conversation(conversation_id) is not None:
            raise FailedPrecondition(f"conversation {conversation_id} is closed") from None
        raise
