"""Races over real gRPC: many calls on the same conversation at once, from its owner and from
other agents, and answers racing abandons, timeouts, disconnects and presence changes.

Each test lets the calls race however the server interleaves them and then checks, through the
API only, the SPEC invariants (tests/attack/checks.py): whoever wins, the outcome must be one
of the legal ones.
"""

from __future__ import annotations

import asyncio
import contextlib

import grpc
from switchboard.clients.connection import Desktop, agent_state
from switchboard.v1 import desktop_pb2, gateway_pb2

from tests.attack.checks import ACTIVE, CLOSED, OPEN, WRAP_UP, check_invariants, ok, outcomes
from tests.integration.support import (
    AVAILABLE,
    AWAY,
    Centre,
    eventually,
    kinds,
    offers,
    withdrawals,
)

PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION

CONFIG = """
settings:
  after_missed_offer: keep
work_streams:
  - id: chat
    channel: chat
    fallback_queue: q1
    offer_timeout_s: 30
queues:
  - {id: q1, members: [a1, a2, a3]}
agents:
  - {id: a1, capacity: 1}
  - {id: a2, capacity: 1}
  - {id: a3, capacity: 1}
"""


def accept(conn, agent_id: str, cid: str):
    return conn.desktop.AcceptOffer(
        desktop_pb2.AcceptOfferRequest(agent_id=agent_id, conversation_id=cid)
    )


def reject(conn, agent_id: str, cid: str):
    return conn.desktop.RejectOffer(
        desktop_pb2.RejectOfferRequest(agent_id=agent_id, conversation_id=cid)
    )


def end(conn, agent_id: str, cid: str):
    return conn.desktop.EndConversation(
        desktop_pb2.DesktopEndConversationRequest(agent_id=agent_id, conversation_id=cid)
    )


def close(conn, agent_id: str, cid: str):
    return conn.desktop.CloseConversation(
        desktop_pb2.CloseConversationRequest(agent_id=agent_id, conversation_id=cid)
    )


def customer_end(conn, cid: str):
    return conn.gateway.EndConversation(
        gateway_pb2.GatewayEndConversationRequest(conversation_id=cid)
    )


def abandon(conn, cid: str):
    return conn.gateway.AbandonConversation(
        gateway_pb2.AbandonConversationRequest(conversation_id=cid)
    )


async def test_a_storm_of_answers_on_one_conversation_has_exactly_one_winner_each_step(
    harness,
) -> None:
    centre = await Centre.start(harness, CONFIG)
    for a in ("a1", "a2", "a3"):
        await centre.signin(a)
    cid = (await centre.submit()).conversation_id
    owner = (await centre.conversation(cid)).agent_id
    others = [a for a in ("a1", "a2", "a3") if a != owner]
    conn = centre.conn

    # 10 accepts by the owner, 10 by each other agent, and rejects from the others.
    calls = [accept(conn, owner, cid) for _ in range(10)]
    calls += [accept(conn, a, cid) for a in others for _ in range(10)]
    calls += [reject(conn, a, cid) for a in others for _ in range(5)]
    results = await outcomes(calls)
    await centre.settle()
    assert ok(results[:10]) == 1, results[:10]
    assert ok(results[10:]) == 0
    assert set(results[10:]) == {PRECONDITION}
    assert (await centre.conversation(cid)).state == ACTIVE
    await check_invariants(conn, [cid])

    # Ends from the owner, the customer and the others, all at once.
    calls = [end(conn, owner, cid) for _ in range(10)] + [
        customer_end(conn, cid) for _ in range(10)
    ]
    calls += [end(conn, a, cid) for a in others for _ in range(5)]
    results = await outcomes(calls)
    await centre.settle()
    assert ok(results[:20]) >= 1, results[:20]
    assert ok(results[20:]) == 0
    conversation = await centre.conversation(cid)
    assert conversation.state == WRAP_UP
    assert [e.kind for e in conversation.timeline].count("ended") == 1
    await check_invariants(conn, [cid])

    # Closes from the owner and the others, plus late accepts and rejects.
    calls = [close(conn, owner, cid) for _ in range(10)]
    calls += [close(conn, a, cid) for a in others for _ in range(5)]
    calls += [accept(conn, owner, cid), reject(conn, owner, cid), abandon(conn, cid)]
    results = await outcomes(calls)
    await centre.settle()
    assert ok(results[:10]) == 1, results[:10]
    assert ok(results[10:]) == 0, results[10:]
    conversation = await centre.conversation(cid)
    assert conversation.state == CLOSED
    assert [e.kind for e in conversation.timeline].count("closed") == 1
    await check_invariants(conn, [cid])
    for a in ("a1", "a2", "a3"):
        agent = await centre.agent(a)
        assert (agent.capacity_used, agent.presence) == (0, AVAILABLE)


async def test_accept_racing_abandon_always_frees_the_agent(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    a1 = await centre.signin("a1")
    conn = centre.conn
    submitted = []
    for i in range(30):
        cid = (await centre.submit()).conversation_id
        submitted.append(cid)
        assert offers(a1)[-1] == cid
        # Alternate which call is sent first.
        calls = [accept(conn, "a1", cid), abandon(conn, cid)]
        if i % 2:
            calls.reverse()
        await outcomes(calls)
        await centre.settle()
        conversation = await centre.conversation(cid)
        assert conversation.state in (CLOSED, WRAP_UP), conversation
        if conversation.state == WRAP_UP:
            await a1.close(cid)
            await centre.settle()
        await check_invariants(conn, submitted)
        agent = await centre.agent("a1")
        assert (agent.capacity_used, list(agent.conversation_ids), list(agent.offered_ids)) == (
            0,
            [],
            [],
        ), (i, kinds(a1)[-6:])
    # What the desktop was told ends with the agent free.
    last = [u for u in map(agent_state, a1.messages) if u is not None][-1]
    assert (last.capacity_used, list(last.conversation_ids)) == (0, [])


async def test_accept_racing_the_offer_timeout_has_one_outcome(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2")
    conn = centre.conn
    submitted = []
    t = 0.0
    for i in range(20):
        cid = (await centre.submit()).conversation_id
        submitted.append(cid)
        holder = (await centre.conversation(cid)).agent_id
        expiry = t + 30
        # The clock reaches the offer's expiry while the holder accepts.
        calls = [accept(conn, holder, cid), centre.settle(expiry)]
        if i % 2:
            calls.reverse()
        results = await asyncio.gather(*calls, return_exceptions=True)
        t = expiry
        await centre.settle()
        accepted = not isinstance(results[0 if i % 2 == 0 else 1], BaseException)
        conversation = await centre.conversation(cid)
        if accepted:
            assert (conversation.state, conversation.agent_id) == (ACTIVE, holder)
        else:
            assert conversation.state == OPEN and conversation.agent_id != holder
        await check_invariants(conn, submitted)
        # Clean up whatever it became so the next round starts from free agents.
        conversation = await centre.conversation(cid)
        if conversation.state == OPEN:
            await abandon(conn, cid)
        else:
            desk = {"a1": a1, "a2": a2}[conversation.agent_id]
            await desk.end(cid)
            await desk.close(cid)
        await centre.settle()
        for a in ("a1", "a2"):
            await centre.desktops[a].set_presence(AVAILABLE)
        await centre.settle()
        await check_invariants(conn, submitted)


async def test_reject_racing_a_disconnect_gives_the_work_to_someone_else_once(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    a2 = await centre.signin("a2")
    conn = centre.conn
    submitted = []
    for i in range(10):
        d = Desktop(conn, "a1")
        await d.connect(AVAILABLE)
        centre.desktops["a1"] = d
        await centre.settle()
        await a2.set_presence(AWAY)
        await centre.settle()
        cid = (await centre.submit()).conversation_id
        submitted.append(cid)
        assert offers(d) == [cid]
        await a2.set_presence(AVAILABLE)
        calls = [reject(conn, "a1", cid), d.disconnect()]
        if i % 2:
            calls.reverse()
        await asyncio.gather(*calls, return_exceptions=True)

        async def gone() -> bool:
            return not (await centre.agent("a1")).connected

        await eventually(gone, "a1's stream is seen gone")
        centre.desktops[f"a1#{i}"] = centre.desktops.pop("a1")
        await centre.settle()
        conversation = await centre.conversation(cid)
        assert (conversation.state, conversation.agent_id) == (OPEN, "a2")
        await check_invariants(conn, submitted)
        await a2.accept(cid)
        await a2.end(cid)
        await a2.close(cid)
        await centre.settle()
        agent = await centre.agent("a1")
        assert (agent.capacity_used, list(agent.offered_ids)) == (0, [])
        # The offer was withdrawn once, whichever came first.
        assert len(withdrawals(d)) <= 1


async def test_two_connects_of_one_agent_at_once_leave_exactly_one_live_desktop(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    conn = centre.conn
    first, second = Desktop(conn, "a1"), Desktop(conn, "a1")
    await asyncio.gather(first.connect(AVAILABLE), second.connect(AVAILABLE))

    async def one_ended() -> bool:
        return (first.ended is not None) or (second.ended is not None)

    await eventually(one_ended, "one of the two streams ends")
    live, dead = (second, first) if first.ended is not None else (first, second)
    assert dead.ended.code() == grpc.StatusCode.ABORTED
    assert live.ended is None
    centre.desktops["a1"] = live
    centre.desktops["a1-dead"] = dead
    await centre.settle()
    agent = await centre.agent("a1")
    assert agent.connected and agent.presence == AVAILABLE
    cid = (await centre.submit()).conversation_id
    assert offers(live) == [cid] and offers(dead) == []
    await live.accept(cid)
    await centre.settle()
    await check_invariants(conn, [cid])


async def test_connect_storm_of_one_agent_leaves_one_desktop_and_work_flows(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    conn = centre.conn
    desks = [Desktop(conn, "a1") for _ in range(20)]
    await asyncio.gather(*(d.connect(AVAILABLE) for d in desks))

    async def all_but_one_ended() -> bool:
        return sum(d.ended is None for d in desks) == 1

    await eventually(all_but_one_ended, "all but one stream end")
    (live,) = [d for d in desks if d.ended is None]
    for i, d in enumerate(desks):
        centre.desktops[f"a1#{i}"] = d
    await centre.settle()
    cid = (await centre.submit()).conversation_id
    assert offers(live) == [cid]
    assert all(offers(d) == [] for d in desks if d is not live)
    agent = await centre.agent("a1")
    assert agent.connected and list(agent.offered_ids) == [cid]


async def test_presence_flapping_while_work_arrives_strands_nothing(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    desks = {a: await centre.signin(a) for a in ("a1", "a2", "a3")}
    conn = centre.conn
    submitted: list[str] = []

    async def flap(desk: Desktop) -> None:
        for i in range(40):
            with contextlib.suppress(grpc.aio.AioRpcError):
                await desk.set_presence(AWAY if i % 2 == 0 else AVAILABLE)

    async def submit_some() -> None:
        for _ in range(20):
            r = await conn.gateway.SubmitWork(gateway_pb2.SubmitWorkRequest(work_stream_id="chat"))
            submitted.append(r.conversation_id)

    await asyncio.gather(*(flap(d) for d in desks.values()), submit_some(), submit_some())
    for d in desks.values():
        await d.set_presence(AVAILABLE)
    await centre.settle()
    await check_invariants(conn, submitted)
    # Serve everything, checking after each round.
    for _ in range(60):
        agents = [await centre.agent(a) for a in desks]
        moved = False
        for agent in agents:
            for cid in agent.offered_ids:
                desk = desks[agent.agent_id]
                await desk.accept(cid)
                await desk.end(cid)
                await desk.close(cid)
                moved = True
        await centre.settle()
        await check_invariants(conn, submitted)
        if not moved:
            break
    convs = await check_invariants(conn, submitted)
    assert all(c.state == CLOSED for c in convs.values())


async def test_a_burst_of_500_submits_then_everyone_accepts_at_once(harness) -> None:
    config = """
work_streams:
  - id: chat
    channel: chat
    fallback_queue: q1
    offer_timeout_s: 30
    wrap_up: none
queues:
  - {id: q1, members: [a1, a2, a3, a4]}
agents:
  - {id: a1, capacity: 12}
  - {id: a2, capacity: 12}
  - {id: a3, capacity: 8}
  - {id: a4, capacity: 3}
"""
    centre = await Centre.start(harness, config)
    desks = {a: await centre.signin(a) for a in ("a1", "a2", "a3", "a4")}
    conn = centre.conn
    responses = await asyncio.gather(
        *(
            conn.gateway.SubmitWork(
                gateway_pb2.SubmitWorkRequest(work_stream_id="chat", priority=i % 3)
            )
            for i in range(500)
        )
    )
    submitted = [r.conversation_id for r in responses]
    assert len(set(submitted)) == 500
    await centre.settle()
    await check_invariants(conn, submitted)
    queue = await centre.queue("q1")
    assert len(queue.waiting_ids) == 500 - 35

    priority = {c.id: c.priority for c in (await check_invariants(conn, submitted)).values()}
    served: list[str] = []
    for _round in range(200):
        agents = [await centre.agent(a) for a in desks]
        offered = [(a.agent_id, c) for a in agents for c in a.offered_ids]
        if not offered:
            break
        # Freed capacity takes the most urgent work first (the first offers went to whatever
        # arrived while agents were free).
        waiting = await centre.waiting("q1")
        if waiting and _round > 0:
            assert min(priority[c] for _, c in offered) >= max(priority[c] for c in waiting)
        # Every agent accepts all its offers at once, and other agents try to steal them.
        calls = [accept(conn, a, c) for a, c in offered]
        calls += [accept(conn, "a4" if a != "a4" else "a1", c) for a, c in offered]
        results = await outcomes(calls)
        assert ok(results[: len(offered)]) == len(offered), results[: len(offered)]
        assert ok(results[len(offered) :]) == 0
        await centre.settle()
        await check_invariants(conn, submitted)
        # Then they all end and close at once.
        await outcomes(end(conn, a, c) for a, c in offered)
        await outcomes(close(conn, a, c) for a, c in offered)
        served += [c for _, c in offered]
        await centre.settle()
        await check_invariants(conn, submitted)
    assert sorted(served) == sorted(submitted)
    convs = await check_invariants(conn, submitted)
    assert all(c.state == CLOSED for c in convs.values())
