"""Nothing acknowledged is lost: a restart on the same journal in the middle of every
lifecycle state, idempotent submits, and desktop streams resumed by sequence number.

Each test runs a real server on a journal file, stops it, and starts a new one on the same
file (the harness's `stop` is a graceful shutdown; tests/attack/test_crash.py kills with
SIGKILL instead).
"""

from __future__ import annotations

import grpc
from switchboard.clients.connection import Desktop
from switchboard.v1 import common_pb2, desktop_pb2, gateway_pb2

from tests.integration.support import (
    ACTIVE,
    AVAILABLE,
    OFFLINE,
    OPEN,
    WRAP_UP,
    Centre,
    offers,
    refused,
)

WAITING = common_pb2.CONVERSATION_STATE_WAITING

CONFIG = """
settings: {reconnect_grace_s: 100}
work_streams:
  - {id: chat, channel: chat, fallback_queue: q1, offer_timeout_s: 60, wrap_up: always}
  - {id: sms, channel: sms, fallback_queue: q1, affinity: true}
queues:
  - {id: q1, members: [a1, a2, a3]}
agents:
  - {id: a1, capacity: 3}
  - {id: a2, capacity: 1}
  - {id: a3, capacity: 1}
"""


async def restart(harness, db) -> Centre:
    await harness.stop()
    return await Centre.start(harness, CONFIG, db=str(db))


async def test_a_restart_puts_every_conversation_back_where_it_was(harness, tmp_path) -> None:
    db = tmp_path / "journal.db"
    centre = await Centre.start(harness, CONFIG, db=str(db))
    a1 = await centre.signin("a1")
    active = (await centre.submit("chat")).conversation_id
    ending = (await centre.submit("chat")).conversation_id
    parked = (await centre.submit("sms")).conversation_id
    for cid in (active, ending, parked):
        await a1.accept(cid)
    await a1.end(ending)
    await a1.park(parked)
    await centre.settle(10)
    ringing = (await centre.submit("chat")).conversation_id  # offered to a1, unanswered
    await centre.settle(20)
    queued = [(await centre.submit("chat", priority=p)).conversation_id for p in (0, 5, 0)]
    await centre.settle(30)
    done = (await centre.submit("chat")).conversation_id
    await centre.abandon(done)
    before = {cid: await centre.conversation(cid) for cid in [ringing, *queued]}

    centre = await restart(harness, db)
    # Queued work keeps its place and its age; the ringing offer went back to its place.
    assert await centre.waiting("q1") == [queued[1], ringing, queued[0], queued[2]]
    for cid, was in before.items():
        now = await centre.conversation(cid)
        assert now.state == OPEN and now.created_at == was.created_at
        assert [e.kind for e in now.timeline[: len(was.timeline)]] == [e.kind for e in was.timeline]
        assert now.timeline[-1].kind == "recovered"
    # Held work is still the agent's, capacity included; the agent is Offline for now.
    status = await centre.agent("a1")
    assert set(status.conversation_ids) == {active, ending, parked}
    assert (status.presence, status.capacity_used) == (OFFLINE, 2)  # parked holds none
    assert (await centre.conversation(active)).state == ACTIVE
    assert (await centre.conversation(ending)).state == WRAP_UP
    assert (await centre.conversation(parked)).state == WAITING
    assert (await centre.conversation(done)).close_reason == "abandoned"
    # The clock went on from where it was.
    assert (await centre.conversation(active)).timeline[-1].at.seconds == 1030

    # The agent comes back within the grace period and carries on.
    a1 = await centre.signin("a1")
    await a1.end(active)
    await a1.close(active)
    await a1.close(ending)
    await centre.settle()
    assert (await centre.conversation(ending)).close_reason == "closed_by_agent"
    # Room again: the oldest waiting work of the highest priority is offered.
    assert offers(a1)[:1] == [queued[1]]
    # The customer of the parked conversation writes again: affinity brings it back to a1.
    await centre.conn.gateway.RecordCustomerMessage(
        gateway_pb2.RecordCustomerMessageRequest(conversation_id=parked)
    )
    await centre.settle()
    conversation = await centre.conversation(parked)
    assert conversation.state == OPEN  # a1 is full with the three offers just made
    assert "affinity: a1 first" in conversation.timeline[-2].detail


async def test_an_agent_who_does_not_come_back_after_a_restart_loses_the_work(
    harness, tmp_path
) -> None:
    db = tmp_path / "journal.db"
    centre = await Centre.start(harness, CONFIG, db=str(db))
    a2 = await centre.signin("a2")
    cid = (await centre.submit("chat")).conversation_id
    await a2.accept(cid)
    await centre.settle(5)
    centre = await restart(harness, db)
    await centre.signin("a3")
    await centre.settle(5 + 99)
    assert (await centre.conversation(cid)).state == ACTIVE  # within the grace period
    await centre.settle(5 + 101)
    conversation = await centre.conversation(cid)
    assert (conversation.state, conversation.agent_id) == (OPEN, "a3")  # re-offered


async def test_a_submit_retried_with_its_key_creates_nothing_also_after_a_restart(
    harness, tmp_path
) -> None:
    db = tmp_path / "journal.db"
    centre = await Centre.start(harness, CONFIG, db=str(db))
    request = gateway_pb2.SubmitWorkRequest(
        work_stream_id="chat", client_key="gw-1/call-77", customer=common_pb2.Customer(id="c9")
    )
    first = await centre.conn.gateway.SubmitWork(request)
    again = await centre.conn.gateway.SubmitWork(request)
    assert again.conversation_id == first.conversation_id
    assert again.state == OPEN
    assert await centre.waiting("q1") == [first.conversation_id]
    other = gateway_pb2.SubmitWorkRequest(work_stream_id="sms", client_key="gw-1/call-77")
    await refused(
        centre.conn.gateway.SubmitWork(other),
        grpc.StatusCode.FAILED_PRECONDITION,
        "client_key 'gw-1/call-77' was used for work stream 'chat'",
    )
    centre = await restart(harness, db)
    after = await centre.conn.gateway.SubmitWork(request)
    assert after.conversation_id == first.conversation_id
    assert await centre.waiting("q1") == [first.conversation_id]
    a2 = await centre.signin("a2")
    await a2.accept(first.conversation_id)
    await centre.settle()
    late = await centre.conn.gateway.SubmitWork(request)  # a retry says where it is now
    assert (late.conversation_id, late.state) == (first.conversation_id, ACTIVE)
    fresh = await centre.conn.gateway.SubmitWork(
        gateway_pb2.SubmitWorkRequest(work_stream_id="chat", client_key="gw-1/call-78")
    )
    assert fresh.conversation_id != first.conversation_id


async def test_a_resumed_stream_gets_what_it_missed_once_and_in_order(harness, tmp_path) -> None:
    db = tmp_path / "journal.db"
    centre = await Centre.start(harness, CONFIG, db=str(db))
    a1 = await centre.signin("a1")
    first = (await centre.submit("chat")).conversation_id
    await a1.accept(first)
    await centre.settle()
    seen = len(a1.messages)
    await a1.disconnect()
    # While the desktop is away the engine goes on telling it things.
    await centre.conn.gateway.EndConversation(
        gateway_pb2.GatewayEndConversationRequest(conversation_id=first)
    )
    await centre.settle()

    await a1.connect(resume=True)
    await centre.settle()
    sequences = [m.sequence for m in a1.messages]
    assert sequences == list(range(1, len(sequences) + 1))  # no gap, no repeat
    missed = a1.messages[seen:]
    assert any(
        m.conversation_update.state == WRAP_UP for m in missed if m.HasField("conversation_update")
    )

    # And across a restart: the new server numbers on from the old one.
    await a1.disconnect()
    last = a1.last_sequence
    centre = await restart(harness, db)
    a1.connection = centre.conn
    await a1.connect(resume=True)
    centre.desktops["a1"] = a1
    await centre.conn.desktop.SetPresence(
        desktop_pb2.SetPresenceRequest(agent_id="a1", presence=AVAILABLE)
    )
    await centre.settle()
    sequences = [m.sequence for m in a1.messages]
    assert sequences == list(range(1, len(sequences) + 1))
    assert a1.last_sequence > last


async def test_resuming_past_the_last_message_is_refused(harness, tmp_path) -> None:
    centre = await Centre.start(harness, CONFIG, db=str(tmp_path / "j.db"))
    a1 = await centre.signin("a1")
    await a1.disconnect()
    a1.last_sequence += 50
    ghost = Desktop(centre.conn, "a1")
    ghost.last_sequence = a1.last_sequence
    await refused(
        ghost.connect(resume=True), grpc.StatusCode.INVALID_ARGUMENT, "ahead of the last message"
    )
