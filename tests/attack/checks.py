"""Invariant checks for the attack tests, made only through the public API.

After the engine has settled, every submitted conversation must be in exactly one place (a
queue's waiting list, one agent's offered list, one agent's held list, or closed); no agent
is over capacity; a conversation's own view (state, agent, offer_pending) agrees with where
it is; and no queue holds waiting work while a member who could take it sits free.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from typing import Any

import grpc
from switchboard.v1 import common_pb2, gateway_pb2, supervisor_pb2

OPEN = common_pb2.CONVERSATION_STATE_OPEN
ACTIVE = common_pb2.CONVERSATION_STATE_ACTIVE
WRAP_UP = common_pb2.CONVERSATION_STATE_WRAP_UP
CLOSED = common_pb2.CONVERSATION_STATE_CLOSED
RECEIVING = {common_pb2.PRESENCE_AVAILABLE, common_pb2.PRESENCE_BUSY}


async def snapshot(conn: Any) -> tuple[list, list]:
    agents = (await conn.supervisor.ListAgents(supervisor_pb2.ListAgentsRequest())).agents
    queues = (await conn.supervisor.ListQueues(supervisor_pb2.ListQueuesRequest())).queues
    return list(agents), list(queues)


async def conversations(conn: Any, cids: Iterable[str]) -> dict[str, common_pb2.Conversation]:
    async def one(cid: str) -> tuple[str, common_pb2.Conversation]:
        r = await conn.gateway.GetConversation(
            gateway_pb2.GetConversationRequest(conversation_id=cid)
        )
        return cid, r.conversation

    return dict(await asyncio.gather(*(one(c) for c in cids)))


async def check_invariants(
    conn: Any,
    submitted: Iterable[str],
    *,
    cost: int = 1,
    decline_limit: int = 3,
    costs: dict[str, int] | None = None,
) -> dict[str, common_pb2.Conversation]:
    """Assert the SPEC invariants; returns the conversations by id for further checks.

    `cost` is what one conversation takes; `costs` overrides it per work stream id.
    """
    costs = costs or {}
    submitted = list(submitted)
    agents, queues = await snapshot(conn)
    problems: list[str] = []

    places: dict[str, list[str]] = {}
    for agent in agents:
        for cid in agent.offered_ids:
            places.setdefault(cid, []).append(f"offered to {agent.agent_id}")
        for cid in agent.conversation_ids:
            places.setdefault(cid, []).append(f"held by {agent.agent_id}")
        if agent.capacity_used > agent.capacity_total:
            problems.append(
                f"{agent.agent_id} over capacity: {agent.capacity_used}/{agent.capacity_total}"
            )
        if agent.capacity_used < 0:
            problems.append(f"{agent.agent_id} has negative capacity used {agent.capacity_used}")
    for queue in queues:
        dup = [c for c, n in Counter(queue.waiting_ids).items() if n > 1]
        if dup:
            problems.append(f"queue {queue.queue_id} lists {dup} more than once")
        for cid in queue.waiting_ids:
            places.setdefault(cid, []).append(f"waiting in {queue.queue_id}")

    convs = await conversations(conn, submitted)
    for cid in submitted:
        conv = convs[cid]
        where = places.get(cid, [])
        state = common_pb2.ConversationState.Name(conv.state)
        if conv.state == CLOSED:
            if where:
                problems.append(f"{cid} is CLOSED but still {where}")
            continue
        if len(where) != 1:
            problems.append(
                f"{cid} ({state}, agent {conv.agent_id!r}) is in {len(where)} places: {where}"
            )
            continue
        place = where[0]
        if conv.state == OPEN and conv.offer_pending:
            expected = f"offered to {conv.agent_id}"
        elif conv.state == OPEN:
            expected = f"waiting in {conv.queue_id}"
        else:
            expected = f"held by {conv.agent_id}"
        if place != expected:
            problems.append(
                f"{cid} is {state} (pending={conv.offer_pending}, agent "
                f"{conv.agent_id!r}) but is {place}"
            )
    unknown = set(places) - set(submitted)
    if unknown:
        problems.append(f"unknown conversations are placed: {sorted(unknown)}")

    # Stranding: waiting work while a member who may take it has room.
    by_id = {a.agent_id: a for a in agents}
    for agent in agents:
        ringing = sum(
            costs.get(convs[c].work_stream_id, cost) for c in agent.offered_ids if c in convs
        )
        if ringing > agent.capacity_used:
            problems.append(
                f"{agent.agent_id} has offers worth {ringing} units ringing but only "
                f"{agent.capacity_used} capacity reserved"
            )
    for queue in queues:
        for cid in queue.waiting_ids:
            conv = convs.get(cid)
            need = costs.get(conv.work_stream_id, cost) if conv is not None else cost
            declines = Counter(
                e.agent_id
                for e in (conv.timeline if conv is not None else ())
                if e.kind == "declined" and "disconnected" not in e.detail
            )
            for member in queue.member_ids:
                a = by_id[member]
                if (
                    a.connected
                    and a.presence in RECEIVING
                    and a.capacity_total - a.capacity_used >= need
                    and declines[member] < decline_limit
                ):
                    problems.append(
                        f"{cid} waits in {queue.queue_id} while {member} is "
                        f"{common_pb2.Presence.Name(a.presence)} with "
                        f"{a.capacity_used}/{a.capacity_total} used"
                    )
    assert not problems, "invariants broken:\n  " + "\n  ".join(problems)
    return convs


async def outcomes(calls: Iterable[Any]) -> list[Any]:
    """Run calls concurrently; each result is the response or the status code it failed with."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    out = []
    for r in results:
        if isinstance(r, grpc.aio.AioRpcError):
            out.append(r.code())
        elif isinstance(r, BaseException):
            raise r
        else:
            out.append(r)
    return out


def ok(results: list[Any]) -> int:
    return sum(1 for r in results if not isinstance(r, grpc.StatusCode))
