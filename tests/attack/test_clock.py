"""Abusing the manual clock: jumps of years with timers open, jumps past what a protobuf
Timestamp can hold, and two clients moving the clock at once."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from switchboard.clients.connection import settle
from switchboard.v1 import admin_pb2

from tests.attack.checks import CLOSED, OPEN, check_invariants
from tests.integration.support import AVAILABLE, Centre, at, offers, seconds

YEAR = 365 * 86_400.0

CONFIG = """
settings:
  after_missed_offer: keep
work_streams:
  - id: chat
    channel: chat
    fallback_queue: chats
    offer_timeout_s: 30
  - id: voice
    channel: voice
    fallback_queue: calls
    offer_timeout_s: 20
    wrap_up: none
  - id: mail
    channel: email
    fallback_queue: mails
queues:
  - {id: chats, members: [a1, a2]}
  - {id: calls, type: voice, members: [a1, a2]}
  - {id: mails, type: record, members: [a3]}
agents:
  - {id: a1, capacity: 2}
  - {id: a2, capacity: 2}
  - {id: a3, capacity: 1}
"""


async def test_a_jump_of_ten_years_fires_every_open_timer_once_in_order(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2")
    chat_ringing = (await centre.submit("chat")).conversation_id
    call_active = (await centre.submit("voice")).conversation_id
    holder = (await centre.conversation(call_active)).agent_id
    await centre.desktops[holder].accept(call_active)
    chat_wrap = (await centre.submit("chat")).conversation_id
    chat_holder = (await centre.conversation(chat_wrap)).agent_id
    await centre.desktops[chat_holder].accept(chat_wrap)
    await centre.desktops[chat_holder].end(chat_wrap)
    mail_queued = (await centre.submit("mail")).conversation_id  # a3 never signs in
    queued = [(await centre.submit("chat")).conversation_id for _ in range(3)]
    submitted = [chat_ringing, call_active, chat_wrap, mail_queued, *queued]
    await centre.settle()
    await check_invariants(centre.conn, submitted)

    response = await settle(centre.conn, list(centre.desktops.values()), to=at(10 * YEAR))
    assert seconds(response.now) == pytest.approx(10 * YEAR)
    conversations = await check_invariants(centre.conn, submitted)
    reasons = {cid: c.close_reason for cid, c in conversations.items()}
    assert reasons[call_active] == "auto_close_active"
    assert reasons[chat_wrap] == "auto_close_wrap_up"
    assert reasons[mail_queued] == "auto_close_open"
    for cid in [chat_ringing, *queued]:
        assert reasons[cid] == "auto_close_open"
    closed_at = {
        cid: seconds([e for e in c.timeline if e.kind == "closed"][-1].at)
        for cid, c in conversations.items()
    }
    assert closed_at[call_active] == pytest.approx(7200, abs=1)
    assert closed_at[chat_wrap] == pytest.approx(900, abs=1)
    assert closed_at[mail_queued] == pytest.approx(30 * 86_400, abs=1)
    for cid in [chat_ringing, *queued]:
        assert closed_at[cid] == pytest.approx(1200, abs=1)
    for agent_id in ("a1", "a2"):
        agent = await centre.agent(agent_id)
        assert (agent.capacity_used, agent.presence) == (0, AVAILABLE)
    # Life goes on ten years later.
    cid = (await centre.submit("chat")).conversation_id
    assert cid in offers(a1) + offers(a2)
    await centre.settle(10 * YEAR + 31)
    assert (await centre.conversation(cid)).state == OPEN  # timed out, offered again
    await check_invariants(centre.conn, [*submitted, cid])


async def test_two_clients_moving_the_clock_at_once_fire_each_timer_once(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    await centre.signin("a1")
    await centre.signin("a2")
    submitted = [(await centre.submit("chat")).conversation_id for _ in range(6)]
    other = harness.connect()
    targets = [at(t) for t in (10, 40, 25, 70, 55, 1300, 100, 3000)]
    calls = [
        (centre.conn if i % 2 else other).admin.AdvanceClock(admin_pb2.AdvanceClockRequest(to=t))
        for i, t in enumerate(targets)
    ]
    responses = await asyncio.gather(*calls)
    await centre.settle()
    # Time never went backwards for any caller, and ended at the latest target.
    clock = await centre.conn.admin.GetClock(admin_pb2.GetClockRequest())
    assert seconds(clock.now) == 3000
    assert all(seconds(r.now) >= seconds(t) for r, t in zip(responses, targets, strict=True))
    conversations = await check_invariants(centre.conn, submitted)
    assert all(c.state == CLOSED for c in conversations.values())
    for c in conversations.values():
        kinds = [e.kind for e in c.timeline]
        assert kinds.count("closed") == 1
        times = [seconds(e.at) for e in c.timeline]
        assert times == sorted(times)


async def test_advance_clock_past_year_9999_is_refused_and_changes_nothing(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    a1 = await centre.signin("a1")
    await centre.settle(100)
    too_far = Timestamp(seconds=253_402_300_800)  # 10000-01-01T00:00:00Z
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await centre.conn.admin.AdvanceClock(admin_pb2.AdvanceClockRequest(to=too_far))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    clock = await centre.conn.admin.GetClock(admin_pb2.GetClockRequest())
    assert seconds(clock.now) == 100
    # Everything still works, desktop stream included.
    cid = (await centre.submit("chat")).conversation_id
    assert offers(a1) == [cid] and a1.ended is None
    assert (await centre.conversation(cid)).state == OPEN
    await check_invariants(centre.conn, [cid])
