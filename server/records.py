"""How a conversation's ticket is written to the journal and read back after a restart.

Plain JSON, so that the file can be read with the sqlite3 shell when a supervisor asks what
happened; every field the engine needs to put the work back where it was is here.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from switchboard.actors.domain.model import (
    Channel,
    Presence,
    SkillMatching,
    Ticket,
    Work,
    WrapUp,
    frozen_map,
)


def ticket_to_json(ticket: Ticket) -> str:
    # orjson: a ticket is written whenever its work changes, and the standard library's
    # encoder was the largest single cost of journaling a submit (~12 µs of ~20).
    work = ticket.work
    return orjson.dumps(
        {
            "work": {
                "conversation_id": work.conversation_id,
                "stream_id": work.stream_id,
                "channel": work.channel.value,
                "customer_id": work.customer_id,
                "customer_attributes": dict(work.customer_attributes),
                "context": dict(work.context),
                "priority": work.priority,
                "required_skills": dict(work.required_skills),
                "queue_id": work.queue_id,
                "created_at": work.created_at,
                "attributes": dict(work.attributes),
                "severity": work.severity,
            },
            "enqueued_at": ticket.enqueued_at,
            "seq": ticket.seq,
            "cost": ticket.cost,
            "allowed_presences": sorted(p.value for p in ticket.allowed_presences),
            "skill_matching": ticket.skill_matching.value,
            "auto_accept": ticket.auto_accept,
            "offer_timeout_s": ticket.offer_timeout_s,
            "declines": ticket.declines,
            "decline_limit": ticket.decline_limit,
            "wrap_up": [ticket.wrap_up.blocks_until_close, ticket.wrap_up.seconds],
            "profiles": list(ticket.profiles),
            "pick": ticket.pick,
            "preferred": list(ticket.preferred),
        },
    ).decode()


def ticket_from_json(text: str) -> Ticket:
    data: dict[str, Any] = json.loads(text)
    w = data["work"]
    work = Work(
        conversation_id=w["conversation_id"],
        stream_id=w["stream_id"],
        channel=Channel(w["channel"]),
        customer_id=w["customer_id"],
        customer_attributes=frozen_map(w["customer_attributes"]),
        context=frozen_map(w["context"]),
        priority=w["priority"],
        required_skills=frozen_map(w["required_skills"]),
        queue_id=w["queue_id"],
        created_at=w["created_at"],
        attributes=frozen_map(w["attributes"]),
        severity=w["severity"],
    )
    blocks, seconds = data["wrap_up"]
    return Ticket(
        work=work,
        enqueued_at=data["enqueued_at"],
        seq=data["seq"],
        cost=data["cost"],
        allowed_presences=frozenset(Presence(p) for p in data["allowed_presences"]),
        skill_matching=SkillMatching(data["skill_matching"]),
        auto_accept=data["auto_accept"],
        offer_timeout_s=data["offer_timeout_s"],
        declines=dict(data["declines"]),
        decline_limit=data["decline_limit"],
        wrap_up=WrapUp(blocks_until_close=blocks, seconds=seconds),
        profiles=tuple(data["profiles"]),
        pick=data["pick"],
        preferred=tuple(data["preferred"]),
    )
