"""Overflow and operating hours over gRPC, on a manual clock."""

from __future__ import annotations

import calendar
import datetime

import pytest
from switchboard.server.config import ConfigError, parse_config

from tests.integration.support import CLOSED, OPEN, T0, Centre

# 2026-12-01 was a Tuesday; the test clock starts at 09:00 UTC (11:00 in Jerusalem).
NINE_UTC = float(calendar.timegm(datetime.datetime(2026, 12, 1, 9, 0).timetuple()))

CENTRE = """
work_streams:
  - id: chat
    channel: chat
    route:
      - {name: sales, when: 'context.topic == "sales"', queue: sales}
      - {name: sales-backup, when: 'context.topic == "sales"', queue: backup}
    fallback_queue: support
  - id: direct-sales
    channel: chat
    fallback_queue: sales
queues:
  - id: sales
    overflow:
      - {when: {work_item_limit: 1}, then: {transfer_to: backup}}
  - id: backup
  - id: support
    hours:
      timezone: Asia/Jerusalem
      weekly: {mon: ["08:00-17:00"], tue: ["08:00-17:00"]}
      holidays: ["2026-12-25"]
    overflow:
      - {when: {outside_hours: true}, then: {end: "We are closed; we open at 08:00."}}
      - {when: {work_item_limit: 2}, then: {assign_anyway: true}}
"""


async def start(harness) -> Centre:
    return await Centre.start(harness, CENTRE, clock_start=NINE_UTC)


async def test_routing_skips_a_matching_rule_whose_queue_overflows(harness) -> None:
    centre = await start(harness)
    first = await centre.submit(context={"topic": "sales"})
    await centre.settle()
    second = await centre.submit(context={"topic": "sales"})
    assert (first.queue_id, second.queue_id) == ("sales", "backup")
    routed = [
        e
        for e in (await centre.conversation(second.conversation_id)).timeline
        if e.kind == "routed"
    ][0]
    assert "queue sales is overflowing" in routed.detail


async def test_work_arriving_at_a_full_queue_is_transferred(harness) -> None:
    # A fallback queue takes work even when it overflows; its own rules then move it on.
    centre = await start(harness)
    first = await centre.submit("direct-sales")
    await centre.settle()
    second = await centre.submit("direct-sales")
    await centre.settle()
    assert await centre.waiting("sales") == [first.conversation_id]
    assert await centre.waiting("backup") == [second.conversation_id]
    conversation = await centre.conversation(second.conversation_id)
    assert conversation.queue_id == "backup"
    overflow = [e for e in conversation.timeline if e.kind == "overflow"][0]
    assert (
        "1 already waiting (limit 1)" in overflow.detail
        and "transferred to backup" in overflow.detail
    )


async def test_outside_hours_the_work_is_ended_with_the_reason(harness) -> None:
    centre = await start(harness)
    await centre.settle(NINE_UTC - T0 + 8 * 3600)  # 17:00 UTC is 19:00 in Jerusalem: closed
    response = await centre.submit(context={"topic": "billing"})
    await centre.settle()
    conversation = await centre.conversation(response.conversation_id)
    assert conversation.state == CLOSED
    assert conversation.close_reason == "overflow"
    closed = conversation.timeline[-1]
    assert "outside its hours" in closed.detail and "We are closed" in closed.detail


async def test_within_hours_a_full_queue_assigns_anyway(harness) -> None:
    centre = await start(harness)
    cids = [(await centre.submit(context={"topic": "billing"})).conversation_id for _ in range(3)]
    await centre.settle()
    assert await centre.waiting("support") == cids
    third = await centre.conversation(cids[2])
    assert third.state == OPEN
    assert any(e.kind == "overflow" and "assigned anyway" in e.detail for e in third.timeline)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("transfer_to: backup", "transfer_to: nowhere", "unknown queue 'nowhere'"),
        ("transfer_to: backup", "transfer_to: sales", "cannot overflow into itself"),
        ("{transfer_to: backup}", "{callback: true}", "a callback is for voice queues"),
        ("{work_item_limit: 1}", "{estimated_wait_s: -5}", "at least 0"),
        ("timezone: Asia/Jerusalem", "timezone: Mars/Olympus", "unknown time zone"),
        ('mon: ["08:00-17:00"]', 'mon: ["17:00-08:00"]', "ends before it starts"),
        ('"2026-12-25"', '"25/12/2026"', "not a date"),
        ("{assign_anyway: true}", "{assign_anyway: maybe}", "assign_anyway: true"),
        ('{end: "We are closed; we open at 08:00."}', "{end: ''}", "reason the channel"),
        ("{work_item_limit: 1}", "{work_item_limit: 1, outside_hours: true}", "exactly one"),
        (
            "  - id: backup\n",
            "  - id: backup\n    overflow: [{when: {outside_hours: true}, then: {end: closed}}]\n",
            "no `hours`",
        ),
    ],
)
def test_bad_overflow_and_hours_are_refused(old: str, new: str, reason: str) -> None:
    assert old in CENTRE
    with pytest.raises(ConfigError) as info:
        parse_config(CENTRE.replace(old, new), "c.yaml")
    assert reason in str(info.value)
    assert info.value.line is not None and info.value.key.startswith("queues[")


WAITING = """
work_streams:
  - id: calls
    channel: voice
    fallback_queue: phones
  - id: urgent
    channel: voice
    fallback_queue: hotline
queues:
  - id: phones
    type: voice
    hours:
      timezone: Europe/London
      weekly: {tue: ["09:00-10:00"]}
    overflow:
      - {when: {wait_more_than_s: 1800}, then: {transfer_to: backup}}
      - {when: {outside_hours: true}, then: {voicemail: true}}
  - {id: backup, type: voice}
  - id: hotline
    type: voice
    overflow:
      - {when: {estimated_wait_s: 60}, then: {callback: true}}
    members: [a1]
agents: [{id: a1}]
"""


async def test_work_that_waits_too_long_is_transferred(harness) -> None:
    centre = await Centre.start(harness, WAITING, clock_start=NINE_UTC)
    cid = (await centre.submit("calls")).conversation_id
    await centre.settle(NINE_UTC - T0 + 1800)  # exactly the limit: not more than it
    assert await centre.waiting("phones") == [cid]
    await centre.settle(NINE_UTC - T0 + 1801)
    assert await centre.waiting("backup") == [cid]
    overflow = next(e for e in (await centre.conversation(cid)).timeline if e.kind == "overflow")
    assert "waited 1800 s (limit 1800 s); transferred to backup" in overflow.detail


async def test_waiting_work_goes_to_voicemail_when_the_queue_closes(harness) -> None:
    centre = await Centre.start(harness, WAITING, clock_start=NINE_UTC + 50 * 60)  # 09:50
    cid = (await centre.submit("calls")).conversation_id
    await centre.settle(NINE_UTC + 50 * 60 - T0 + 599)  # 09:59:59 London: still open
    assert await centre.waiting("phones") == [cid]
    await centre.settle(NINE_UTC + 60 * 60 - T0)  # 10:00:00: closed, checked at that instant
    conversation = await centre.conversation(cid)
    assert conversation.state == CLOSED
    assert conversation.close_reason == "voicemail_requested"
    assert seconds_of_close(conversation) == NINE_UTC + 3600
    assert "handed back to the gateway for a voicemail" in conversation.timeline[-1].detail


def seconds_of_close(conversation) -> float:
    closed = conversation.timeline[-1].at
    return closed.seconds + closed.nanos / 1e9


async def test_no_agent_signed_in_means_an_endless_wait_so_a_callback(harness) -> None:
    centre = await Centre.start(harness, WAITING, clock_start=NINE_UTC)
    cid = (await centre.submit("urgent")).conversation_id
    await centre.settle()
    conversation = await centre.conversation(cid)
    assert conversation.close_reason == "callback_requested"
    assert "no agent to serve it" in conversation.timeline[-1].detail
    await centre.signin("a1")
    served = (await centre.submit("urgent")).conversation_id
    await centre.settle()
    assert (await centre.conversation(served)).agent_id == "a1"


async def test_the_gateway_is_told_of_hand_backs_as_they_happen(harness) -> None:
    import asyncio

    import grpc
    from switchboard.v1 import gateway_pb2

    centre = await Centre.start(harness, WAITING, clock_start=NINE_UTC)
    watch = centre.conn.gateway.WatchConversations(
        gateway_pb2.WatchConversationsRequest(work_stream_ids=["urgent"])
    )
    events = watch.__aiter__()
    assert (await asyncio.wait_for(events.__anext__(), 5)).kind == "watching"
    ignored = (await centre.submit("calls")).conversation_id  # another stream: not told
    cid = (await centre.submit("urgent")).conversation_id
    await centre.settle()
    seen = []
    while not seen or seen[-1].kind != "closed":
        seen.append(await asyncio.wait_for(events.__anext__(), 5))
    assert {e.conversation_id for e in seen} == {cid} and ignored != cid
    assert seen[-1].reason == "callback_requested"
    assert "no agent to serve it" in seen[-1].detail
    watch.cancel()
    unknown = centre.conn.gateway.WatchConversations(
        gateway_pb2.WatchConversationsRequest(work_stream_ids=["nope"])
    )
    try:
        await unknown.read()
        raise AssertionError("an unknown work stream was accepted")
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND and "nope" in exc.details()
