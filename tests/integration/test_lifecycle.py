"""A conversation's life over real gRPC on a manual clock: offers, answers, timeouts,
wrap-up, auto-close, the timeline, the journal, routing rules, desktop streams and the
supervisor's figures.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from switchboard.clients.connection import Desktop, agent_state
from switchboard.v1 import common_pb2, desktop_pb2, gateway_pb2, supervisor_pb2

from tests.integration.support import (
    ACTIVE,
    AVAILABLE,
    AWAY,
    BUSY_DND,
    CLOSED,
    INACTIVE,
    OFFLINE,
    OPEN,
    WRAP_UP,
    Centre,
    eventually,
    kinds,
    last_offer,
    offers,
    refused,
    seconds,
    withdrawals,
)


def centre_yaml(*, stream: str = "", settings: str = "", agents: str = "", queues: str = "") -> str:
    """A chat centre: stream `chat` -> queue q1 served by a1, a2, a3 (capacity 1 each)."""
    return f"""
settings:
  decline_limit: 3
{settings}
work_streams:
  - id: chat
    channel: chat
    fallback_queue: q1
    offer_timeout_s: 30
{stream}
queues:
  - {{id: q1, members: [a1, a2, a3]}}
{queues}
agents:
  - {{id: a1, capacity: 1}}
  - {{id: a2, capacity: 1}}
  - {{id: a3, capacity: 1}}
{agents}
"""


def agent_updates(desktop: Desktop) -> list[desktop_pb2.AgentUpdate]:
    """Every state of the agent the desktop was told: updates of their own and those riding
    on events."""
    return [u for u in map(agent_state, desktop.messages) if u is not None]


def presences(desktop: Desktop) -> list[str]:
    """The presences the desktop was told, each change once."""
    result: list[str] = []
    for update in agent_updates(desktop):
        name = common_pb2.Presence.Name(update.presence).removeprefix("PRESENCE_")
        if not result or result[-1] != name:
            result.append(name)
    return result


def timeline(conversation: common_pb2.Conversation) -> list[str]:
    return [entry.kind for entry in conversation.timeline]


def entry(conversation: common_pb2.Conversation, kind: str) -> common_pb2.TimelineEntry:
    found = [e for e in conversation.timeline if e.kind == kind]
    assert found, f"no {kind!r} entry in {timeline(conversation)}"
    return found[-1]


# --- offer, accept, end, close --------------------------------------------------------


async def test_offer_accept_end_close_reaches_the_desktop_in_order(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    desktop = await centre.signin("a1")
    await centre.settle(5)
    cid = (await centre.submit()).conversation_id
    offer = last_offer(desktop)
    assert offer.conversation.id == cid
    assert offer.conversation.state == OPEN
    assert offer.conversation.queue_id == "q1"
    assert seconds(offer.expires_at) == 35
    await centre.settle(8)
    response = await centre.conn.desktop.AcceptOffer(
        desktop_pb2.AcceptOfferRequest(agent_id="a1", conversation_id=cid)
    )
    assert (response.conversation.state, response.conversation.agent_id) == (ACTIVE, "a1")
    assert not response.conversation.offer_pending
    await centre.settle(60)
    await desktop.end(cid)
    await centre.settle(90)
    await desktop.close(cid)
    await centre.settle()

    events = [k for k in kinds(desktop) if not k.startswith("agent ")]
    assert events == [
        f"offer {cid}",
        f"assignment {cid}",
        f"update {cid} WRAP_UP",
        f"update {cid} CLOSED",
    ]
    assert presences(desktop) == ["AVAILABLE", "BUSY_DND", "AVAILABLE"]
    # Capacity is reserved by the offer, before the assignment.
    sequence = kinds(desktop)
    assert sequence.index("agent BUSY_DND 1/1") == sequence.index(f"offer {cid}") + 1
    # The agent's state rides on the event that changed it, in the same message: the only
    # update of its own is the one the sign-in sent.
    offer_message = next(m for m in desktop.messages if m.HasField("offer"))
    assert (offer_message.agent.presence, offer_message.agent.capacity_used) == (BUSY_DND, 1)
    assert [m.WhichOneof("event") for m in desktop.messages] == [
        "agent_update",
        "offer",
        "assignment",
        "conversation_update",
        "conversation_update",
    ]
    assert sequence[-1] == "agent AVAILABLE 0/1"
    assert list(agent_updates(desktop)[-1].conversation_ids) == []
    # One sequence number per message, counting up by one; times follow the clock.
    assert [m.sequence for m in desktop.messages] == list(range(1, len(desktop.messages) + 1))
    times = {
        m.WhichOneof("event")
        + (f" {m.conversation_update.state}" if m.HasField("conversation_update") else ""): seconds(
            m.at
        )
        for m in desktop.messages
        if not m.HasField("agent_update")
    }
    assert times == {
        "offer": 5,
        "assignment": 8,
        f"conversation_update {WRAP_UP}": 60,
        f"conversation_update {CLOSED}": 90,
    }
    assert [seconds(m.at) for m in desktop.messages] == sorted(
        seconds(m.at) for m in desktop.messages
    )
    wrap_up = next(
        m.conversation_update for m in desktop.messages if m.HasField("conversation_update")
    )
    assert wrap_up.reason == "ended by agent"

    conversation = await centre.conversation(cid)
    assert conversation.state == CLOSED
    agent = await centre.agent("a1")
    assert (agent.presence, agent.capacity_used, list(agent.conversation_ids)) == (AVAILABLE, 0, [])


async def test_a_customer_ending_active_work_puts_it_in_wrap_up_at_the_desktop(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    desktop = await centre.signin("a1")
    cid = (await centre.submit()).conversation_id
    await desktop.accept(cid)
    await centre.settle(10)
    response = await centre.conn.gateway.EndConversation(
        gateway_pb2.GatewayEndConversationRequest(conversation_id=cid)
    )
    assert response.state == WRAP_UP
    await centre.settle()
    update = [m.conversation_update for m in desktop.messages if m.HasField("conversation_update")]
    assert [(u.conversation_id, u.state, u.reason) for u in update] == [
        (cid, WRAP_UP, "ended by customer")
    ]
    assert entry(await centre.conversation(cid), "ended").detail == "ended by customer"
    await desktop.close(cid)
    await centre.settle()
    assert (await centre.conversation(cid)).state == CLOSED


async def test_the_desktop_is_told_the_conversations_it_holds_after_accepting(harness) -> None:
    centre = await Centre.start(
        harness,
        centre_yaml(
            agents="  - {id: a4, capacity: 2}",
            queues="  - {id: q4, members: [a4]}",
            stream="""  - id: chat4
    channel: chat
    fallback_queue: q4""",
        ),
    )
    desktop = await centre.signin("a4")
    cid = (await centre.submit("chat4")).conversation_id
    await desktop.accept(cid)
    await centre.settle()
    assert list((await centre.agent("a4")).conversation_ids) == [cid]
    assert list(agent_updates(desktop)[-1].conversation_ids) == [cid]


# --- offers that are missed, rejected, or lose their desktop --------------------------


async def test_an_unanswered_offer_times_out_and_goes_to_the_next_agent(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2")
    cid = (await centre.submit()).conversation_id
    assert offers(a1) == [cid] and offers(a2) == []
    await centre.settle(29.999)
    assert withdrawals(a1) == [] and offers(a2) == []
    await centre.settle(30)
    assert withdrawals(a1) == [(cid, "timed_out")]
    assert offers(a2) == [cid]
    assert seconds(last_offer(a2).expires_at) == 60
    missed = await centre.agent("a1")
    assert (missed.presence, missed.capacity_used, list(missed.offered_ids)) == (INACTIVE, 0, [])
    assert presences(a1)[-1] == "INACTIVE"
    conversation = await centre.conversation(cid)
    assert (conversation.agent_id, conversation.offer_pending) == ("a2", True)
    declined = entry(conversation, "declined")
    assert (seconds(declined.at), declined.agent_id) == (30, "a1")
    assert "offer timed out" in declined.detail
    assert timeline(conversation) == [
        "submitted",
        "routed",
        "queued",
        "offered",
        "declined",
        "offered",
    ]
    queue = await centre.queue("q1")
    assert queue.members_by_presence["inactive"] == 1
    # An inactive agent gets nothing until they come back.
    second = (await centre.submit()).conversation_id
    assert offers(a1) == [cid]
    assert await centre.waiting("q1") == [second]
    assert await a1.set_presence(AVAILABLE) == AVAILABLE
    await centre.settle()
    assert offers(a1) == [cid, second]
    assert (await centre.agent("a1")).presence == BUSY_DND


async def test_a_rejected_offer_goes_to_the_next_agent_at_once(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2")
    cid = (await centre.submit()).conversation_id
    await centre.settle(4)
    await a1.reject(cid)
    await centre.settle()
    assert withdrawals(a1) == [(cid, "rejected")]
    assert offers(a2) == [cid]
    assert seconds(last_offer(a2).expires_at) == 34
    agent = await centre.agent("a1")
    assert (agent.presence, agent.capacity_used) == (AVAILABLE, 0)  # after_reject: keep
    declined = entry(await centre.conversation(cid), "declined")
    assert declined.agent_id == "a1" and "rejected" in declined.detail


async def test_a_rejected_conversation_keeps_its_place_ahead_of_newer_work(harness) -> None:
    centre = await Centre.start(harness, centre_yaml(settings="  after_reject: busy_dnd"))
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2", AWAY)
    first = (await centre.submit()).conversation_id
    await centre.settle(10)
    second = (await centre.submit()).conversation_id
    await centre.settle(20)
    third = (await centre.submit()).conversation_id
    assert await centre.waiting("q1") == [second, third]
    await centre.settle(25)
    await a1.reject(first)
    await centre.settle()
    assert (await centre.agent("a1")).presence == BUSY_DND
    assert await centre.waiting("q1") == [first, second, third]
    queue = await centre.queue("q1")
    assert queue.longest_wait.seconds == 25  # it still counts from when it first queued
    await a2.set_presence(AVAILABLE)
    await centre.settle()
    assert offers(a2) == [first]
    assert await centre.waiting("q1") == [second, third]


async def test_a_desktop_that_disconnects_while_an_offer_rings_gives_it_back(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2")
    cid = (await centre.submit()).conversation_id
    assert offers(a1) == [cid]
    await a1.disconnect()

    async def gone() -> bool:
        return not (await centre.agent("a1")).connected

    await eventually(gone, "the server notices a1's desktop went away")
    await centre.settle()
    assert offers(a2) == [cid]
    agent = await centre.agent("a1")
    assert (agent.presence, agent.capacity_used, list(agent.offered_ids)) == (OFFLINE, 0, [])
    conversation = await centre.conversation(cid)
    assert conversation.agent_id == "a2"
    assert "agent disconnected; not counted as a decline" in entry(conversation, "withdrawn").detail


async def test_active_work_of_an_agent_who_never_comes_back_returns_to_the_queue(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    cid = (await centre.submit()).conversation_id
    await a1.accept(cid)
    await centre.settle(10)
    await a1.disconnect()

    async def gone() -> bool:
        return not (await centre.agent("a1")).connected

    await eventually(gone, "the server notices a1's desktop went away")
    a2 = await centre.signin("a2")
    await centre.settle(10 + 151)
    conversation = await centre.conversation(cid)
    assert conversation.agent_id == "a2", (
        f"still with {conversation.agent_id} ({conversation.state})"
    )
    assert offers(a2) == [cid]


async def test_a_second_connect_ends_the_first_stream_with_aborted(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    first = await centre.signin("a1")
    await first.set_presence(AWAY)
    await centre.settle()
    seen = len(first.messages)
    second = Desktop(centre.conn, "a1")
    await second.connect()

    async def ended() -> bool:
        return first.ended is not None

    await eventually(ended, "the first stream ends")
    assert first.ended.code() == grpc.StatusCode.ABORTED
    assert "replaced by a newer connection" in first.ended.details()
    centre.desktops["a1 (replaced)"] = first  # what it received still counts for settle()
    centre.desktops["a1"] = second
    await centre.settle()
    assert len(first.messages) == seen
    agent = await centre.agent("a1")
    assert agent.connected and agent.presence == AWAY  # presence kept: none given on Connect
    assert second.messages[0].agent_update.presence == AWAY
    assert second.messages[0].sequence == first.messages[-1].sequence + 1
    await second.set_presence(AVAILABLE)
    cid = (await centre.submit()).conversation_id
    assert offers(second) == [cid]
    assert offers(first) == []


# --- wrap-up blocking -----------------------------------------------------------------


WRAP_CONFIG = """
work_streams:
  - id: chat
    channel: chat
    fallback_queue: q1
    wrap_up: {wrap}
  - id: email
    channel: email
    fallback_queue: mail
    wrap_up: {wrap}
queues:
  - {{id: q1, members: [a1]}}
  - {{id: mail, type: record, members: [a1]}}
agents:
  - {{id: a1, capacity: 1}}
"""


async def wrapped_up(harness, wrap: str) -> tuple[Centre, str, str]:
    """a1 accepted a chat and ended it at t=10; a second chat and an email wait meanwhile."""
    centre = await Centre.start(harness, WRAP_CONFIG.format(wrap=wrap))
    a1 = await centre.signin("a1")
    first = (await centre.submit()).conversation_id
    await a1.accept(first)
    await centre.settle(5)
    email = (await centre.submit("email")).conversation_id
    await centre.settle(10)
    await a1.end(first)
    await centre.settle()
    return centre, first, email


async def test_wrap_up_always_holds_capacity_in_every_queue_until_close(harness) -> None:
    centre, first, email = await wrapped_up(harness, "always")
    a1 = centre.desktops["a1"]
    await centre.settle(10 + 600)
    agent = await centre.agent("a1")
    assert (agent.capacity_used, list(agent.conversation_ids)) == (1, [first])
    assert offers(a1) == [first]
    assert await centre.waiting("mail") == [email]
    await centre.settle(700)
    await a1.close(first)
    await centre.settle()
    assert offers(a1) == [first, email]
    assert seconds(last_offer(a1).conversation.created_at) == 5


async def test_wrap_up_none_releases_capacity_when_the_conversation_ends(harness) -> None:
    centre, first, email = await wrapped_up(harness, "none")
    a1 = centre.desktops["a1"]
    assert offers(a1) == [first, email]
    assert seconds(last_offer(a1).expires_at) == 10 + 120
    agent = await centre.agent("a1")
    assert list(agent.conversation_ids) == [first]  # still in wrap-up, but not blocking
    assert list(agent.offered_ids) == [email]
    assert agent.capacity_used == 1
    assert (await centre.conversation(first)).state == WRAP_UP
    await a1.accept(email)
    await a1.close(first)
    await centre.settle()
    agent = await centre.agent("a1")
    assert (agent.capacity_used, list(agent.conversation_ids)) == (1, [email])


async def test_wrap_up_for_n_seconds_releases_capacity_after_n_seconds(harness) -> None:
    centre, first, email = await wrapped_up(harness, "60")
    a1 = centre.desktops["a1"]
    await centre.settle(69.5)
    assert offers(a1) == [first]
    assert (await centre.agent("a1")).capacity_used == 1
    await centre.settle(70)
    assert offers(a1) == [first, email]
    assert seconds(last_offer(a1).expires_at) == 70 + 120
    await a1.accept(email)
    await centre.settle(80)
    await a1.close(first)  # closing after the block ended must not release twice
    await centre.settle()
    agent = await centre.agent("a1")
    assert (agent.capacity_used, list(agent.conversation_ids)) == (1, [email])
    assert agent.presence == BUSY_DND


async def test_closing_before_the_wrap_up_block_ends_releases_at_once(harness) -> None:
    centre, first, email = await wrapped_up(harness, "60")
    a1 = centre.desktops["a1"]
    await centre.settle(20)
    await a1.close(first)
    await centre.settle()
    assert offers(a1) == [first, email]
    assert seconds(last_offer(a1).expires_at) == 20 + 120
    await a1.accept(email)
    await centre.settle(200)  # the cancelled block must not fire and release again
    assert (await centre.agent("a1")).capacity_used == 1


async def test_end_and_close_in_one_call_skips_wrap_up_and_frees_the_agent_at_once(
    harness,
) -> None:
    centre = await Centre.start(harness, WRAP_CONFIG.format(wrap="always"))
    a1 = await centre.signin("a1")
    first = (await centre.submit()).conversation_id
    await a1.accept(first)
    email = (await centre.submit("email")).conversation_id
    await centre.settle(10)
    answer = await centre.conn.desktop.EndConversation(
        desktop_pb2.DesktopEndConversationRequest(agent_id="a1", conversation_id=first, close=True)
    )
    assert answer.state == CLOSED
    await centre.settle()
    conversation = await centre.conversation(first)
    assert conversation.state == CLOSED
    assert timeline(conversation)[-2:] == ["ended", "closed"]
    assert {seconds(entry(conversation, k).at) for k in ("ended", "closed")} == {10}
    # Wrap-up that always blocks held nothing: the email is offered at once.
    assert offers(a1) == [first, email]
    agent = await centre.agent("a1")
    assert list(agent.conversation_ids) == [] and list(agent.offered_ids) == [email]
    # One step, one message: the desktop that asked hears where the conversation ended up,
    # with the agent's state after both steps riding on it (no wrap-up in between).
    told = [k for k in kinds(a1) if first in k]
    assert told[-1] == f"update {first} CLOSED" and f"update {first} WRAP_UP" not in told, told
    closed = next(
        m
        for m in a1.messages
        if m.HasField("conversation_update") and m.conversation_update.conversation_id == first
    )
    assert closed.conversation_update.reason == "ended and closed by agent"
    assert closed.HasField("agent")
    assert (closed.agent.presence, closed.agent.capacity_used) == (AVAILABLE, 0)
    assert list(closed.agent.conversation_ids) == []


async def test_end_and_close_is_one_step_that_a_racing_close_cannot_split(harness) -> None:
    # A plain close sent at the same moment finds the work either still active (before the
    # end) or gone (after the close): never the wrap-up in between, which would refuse the
    # end-and-close after its end was done.
    centre = await Centre.start(harness, WRAP_CONFIG.format(wrap="always"))
    a1 = await centre.signin("a1")
    desk = centre.conn.desktop
    for _ in range(20):
        cid = (await centre.submit()).conversation_id
        await a1.accept(cid)
        both = await asyncio.gather(
            desk.EndConversation(
                desktop_pb2.DesktopEndConversationRequest(
                    agent_id="a1", conversation_id=cid, close=True
                )
            ),
            desk.CloseConversation(
                desktop_pb2.CloseConversationRequest(agent_id="a1", conversation_id=cid)
            ),
            return_exceptions=True,
        )
        ended, closed = both
        assert not isinstance(ended, Exception), ended
        assert ended.state == CLOSED
        assert isinstance(closed, grpc.aio.AioRpcError)
        assert closed.code() == grpc.StatusCode.FAILED_PRECONDITION
        await centre.settle()
        assert timeline(await centre.conversation(cid))[-2:] == ["ended", "closed"]
        assert (await centre.agent("a1")).capacity_used == 0


async def test_end_and_close_after_the_customer_ended_still_closes(harness) -> None:
    # The same button gives the same result whether the customer's end came first or the
    # two crossed: the conversation is closed and the agent freed.
    centre = await Centre.start(harness, WRAP_CONFIG.format(wrap="always"))
    a1 = await centre.signin("a1")
    cid = (await centre.submit()).conversation_id
    await a1.accept(cid)
    ended = await centre.conn.gateway.EndConversation(
        gateway_pb2.GatewayEndConversationRequest(conversation_id=cid)
    )
    assert ended.state == WRAP_UP
    answer = await centre.conn.desktop.EndConversation(
        desktop_pb2.DesktopEndConversationRequest(agent_id="a1", conversation_id=cid, close=True)
    )
    assert answer.state == CLOSED
    await centre.settle()
    conversation = await centre.conversation(cid)
    assert conversation.state == CLOSED and timeline(conversation)[-2:] == ["ended", "closed"]
    assert (await centre.agent("a1")).capacity_used == 0


async def test_end_and_close_of_work_not_yet_accepted_is_refused_and_closes_nothing(
    harness,
) -> None:
    centre = await Centre.start(harness, WRAP_CONFIG.format(wrap="none"))
    a1 = await centre.signin("a1")
    cid = (await centre.submit()).conversation_id
    assert offers(a1) == [cid]
    await refused(
        centre.conn.desktop.EndConversation(
            desktop_pb2.DesktopEndConversationRequest(
                agent_id="a1", conversation_id=cid, close=True
            )
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    await centre.settle()
    assert (await centre.conversation(cid)).state == OPEN
    await a1.accept(cid)  # the offer still rings and can be taken
    await centre.settle()
    assert (await centre.conversation(cid)).state == ACTIVE


# --- auto-close -----------------------------------------------------------------------


async def test_an_open_chat_nobody_answers_closes_after_20_minutes(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    cid = (await centre.submit()).conversation_id
    await centre.settle(1199)
    assert (await centre.conversation(cid)).state == OPEN
    await centre.settle(1200)
    conversation = await centre.conversation(cid)
    assert conversation.state == CLOSED
    closed = conversation.timeline[-1]
    assert (closed.kind, seconds(closed.at)) == ("closed", 1200)
    assert "auto-closed" in closed.detail and "1200" in closed.detail and "open" in closed.detail
    assert conversation.close_reason == "auto_close_open"
    assert await centre.waiting("q1") == []


async def test_auto_close_withdraws_a_ringing_offer_and_frees_the_agent(harness) -> None:
    centre = await Centre.start(
        harness,
        centre_yaml(stream="""    auto_close: {open: 90}""").replace(
            "offer_timeout_s: 30", "offer_timeout_s: 600"
        ),
    )
    a1 = await centre.signin("a1")
    cid = (await centre.submit()).conversation_id
    await centre.settle(90)
    (withdrawn,) = withdrawals(a1)
    assert withdrawn == (cid, "auto_close_open")
    agent = await centre.agent("a1")
    assert (agent.capacity_used, agent.presence, list(agent.offered_ids)) == (0, AVAILABLE, [])
    assert (await centre.conversation(cid)).state == CLOSED


async def test_a_chat_left_in_wrap_up_closes_after_15_minutes(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    cid = (await centre.submit()).conversation_id
    await a1.accept(cid)
    await a1.end(cid)
    await centre.settle(899)
    assert (await centre.agent("a1")).capacity_used == 1
    await centre.settle(900)
    conversation = await centre.conversation(cid)
    assert conversation.state == CLOSED
    assert "wrap_up" in conversation.close_reason
    agent = await centre.agent("a1")
    assert (agent.capacity_used, list(agent.conversation_ids)) == (0, [])
    updates = [m.conversation_update for m in a1.messages if m.HasField("conversation_update")]
    assert [u.state for u in updates] == [WRAP_UP, CLOSED]
    assert updates[-1].reason == "auto_close_wrap_up"


async def test_close_reasons_are_the_documented_machine_readable_values(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    by_agent = (await centre.submit()).conversation_id
    await a1.accept(by_agent)
    await a1.end(by_agent)
    await a1.close(by_agent)
    await centre.settle()
    abandoned = (await centre.submit()).conversation_id
    await centre.abandon(abandoned, "hung up")
    await a1.set_presence(AWAY)
    timed_out = (await centre.submit()).conversation_id
    await centre.settle(1200)
    reasons = [
        (await centre.conversation(c)).close_reason for c in (by_agent, abandoned, timed_out)
    ]
    assert reasons == ["closed_by_agent", "abandoned", "auto_close_open"]


# --- the timeline and the journal -----------------------------------------------------


ROUTED_CONFIG = """
work_streams:
  - id: chat
    channel: chat
    fallback_queue: general
    offer_timeout_s: 30
    route:
      - {name: gold-customers, when: 'context.tier == "gold"', queue: vip}
      - {name: french, when: 'has(context.language) && context.language == "fr"', queue: french}
      - name: urgent
        when: >-
          priority >= 5
          || (has(customer.attributes.vip) && customer.attributes.vip == "yes")
        queue: vip
  - id: voice
    channel: voice
    fallback_queue: phones
    route:
      - {name: by-language, when: 'context.language == "fr"', queue: phones}
queues:
  - {id: general, members: [a1]}
  - {id: vip, priority: 0, members: [a1]}
  - {id: french, members: [a1]}
  - {id: phones, type: voice, members: [a1]}
agents:
  - {id: a1, capacity: 1}
"""


async def test_the_timeline_tells_the_whole_story(harness) -> None:
    centre = await Centre.start(harness, ROUTED_CONFIG)
    a1 = await centre.signin("a1")
    await centre.settle(1)
    cid = (await centre.submit(context={"tier": "gold"})).conversation_id
    await centre.settle(3)
    await a1.accept(cid)
    await centre.settle(40)
    await a1.end(cid)
    await centre.settle(45)
    await a1.close(cid)
    await centre.settle()
    conversation = await centre.conversation(cid)
    assert timeline(conversation) == [
        "submitted",
        "routed",
        "queued",
        "offered",
        "accepted",
        "ended",
        "closed",
    ]
    at_ = {e.kind: seconds(e.at) for e in conversation.timeline}
    assert at_ == {
        "submitted": 1,
        "routed": 1,
        "queued": 1,
        "offered": 1,
        "accepted": 3,
        "ended": 40,
        "closed": 45,
    }
    assert "chat" in entry(conversation, "submitted").detail
    routed = entry(conversation, "routed")
    assert routed.queue_id == "vip"
    assert "'gold-customers'" in routed.detail and "vip" in routed.detail
    offered = entry(conversation, "offered")
    assert offered.agent_id == "a1" and "30" in offered.detail
    for kind in ("accepted", "ended", "closed"):
        assert entry(conversation, kind).agent_id == "a1", kind
    assert (conversation.queue_id, conversation.agent_id, conversation.state) == (
        "vip",
        "a1",
        CLOSED,
    )
    assert seconds(conversation.created_at) == 1
    assert dict(conversation.context) == {"tier": "gold"}


async def test_a_closed_conversation_is_still_there_in_memory_and_after_a_restart(
    harness,
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "journal.db")
    centre = await Centre.start(harness, ROUTED_CONFIG, db=db)
    a1 = await centre.signin("a1")
    served = (
        await centre.submit(
            context={"language": "fr"},
            priority=3,
            required_skills={"french": 4},
            customer=common_pb2.Customer(id="cust-7", attributes={"segment": "smb"}),
        )
    ).conversation_id
    await centre.settle(2)
    await a1.accept(served)
    left = (await centre.submit("voice")).conversation_id  # a1 is busy: it waits
    await centre.settle(5)
    await centre.abandon(left, "hung up")
    await a1.end(served)
    await centre.settle(9)
    await a1.close(served)
    await centre.settle()
    in_memory = {cid: await centre.conversation(cid) for cid in (served, left)}
    assert timeline(in_memory[served]) == [
        "submitted",
        "routed",
        "queued",
        "offered",
        "accepted",
        "ended",
        "closed",
    ]
    assert timeline(in_memory[left]) == ["submitted", "routed", "queued", "closed"]
    assert in_memory[left].channel == common_pb2.CHANNEL_VOICE
    assert in_memory[left].close_reason == "abandoned"

    await harness.stop()
    centre = await Centre.start(harness, ROUTED_CONFIG, db=db)
    for cid, before in in_memory.items():
        after = await centre.conversation(cid)
        assert after == before, f"{cid} read back from the journal differs from what was served"


async def test_a_conversation_closed_while_its_offer_rang_has_no_offer_pending(harness) -> None:
    centre = await Centre.start(harness, ROUTED_CONFIG)
    await centre.signin("a1")
    cid = (await centre.submit()).conversation_id
    assert (await centre.conversation(cid)).offer_pending
    await centre.abandon(cid)
    conversation = await centre.conversation(cid)
    assert conversation.state == CLOSED
    assert not conversation.offer_pending


# --- routing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "queue", "why"),
    [
        ({"context": {"tier": "gold", "language": "fr"}}, "vip", "rule 'gold-customers'"),
        ({"context": {"tier": "silver", "language": "fr"}}, "french", "rule 'french'"),
        ({"context": {"tier": "silver"}, "priority": 7}, "vip", "rule 'urgent'"),
        (
            {
                "context": {"tier": "silver"},
                "customer": common_pb2.Customer(id="c9", attributes={"vip": "yes"}),
            },
            "vip",
            "rule 'urgent'",
        ),
        ({"context": {"tier": "silver"}}, "general", "no rule matched"),
        # `context.tier` is missing: the first rule errors and the work goes to the fallback
        # without trying later rules (SPEC: "an error in a rule sends the work to the fallback").
        ({"context": {"language": "fr"}}, "general", "rule 'gold-customers' failed"),
        ({}, "general", "'tier'"),
    ],
    ids=[
        "first-rule",
        "second-rule",
        "priority",
        "customer-attribute",
        "no-match",
        "missing-key",
        "no-context",
    ],
)
async def test_route_rules_choose_the_queue_by_context(
    harness, fields: dict, queue: str, why: str
) -> None:
    centre = await Centre.start(harness, ROUTED_CONFIG)
    response = await centre.submit(**fields)
    assert response.queue_id == queue
    assert response.state == OPEN
    conversation = await centre.conversation(response.conversation_id)
    assert conversation.queue_id == queue
    routed = entry(conversation, "routed")
    assert routed.queue_id == queue
    assert why in routed.detail, routed.detail
    if queue == "general":
        assert "fallback" in routed.detail
    assert await centre.waiting(queue) == [response.conversation_id]


async def test_a_failing_rule_is_explained_on_the_timeline(harness) -> None:
    centre = await Centre.start(harness, ROUTED_CONFIG)
    response = await centre.submit("voice", context={"region": "north"})
    assert response.queue_id == "phones"
    detail = entry(await centre.conversation(response.conversation_id), "routed").detail
    assert "'by-language' failed" in detail and "'language'" in detail and "has(" in detail


# --- the supervisor's figures ---------------------------------------------------------


async def test_supervisor_figures_for_queues_and_agents(harness) -> None:
    yaml_text = """
settings:
  after_reject: busy_dnd
work_streams:
  - id: chat
    channel: chat
    fallback_queue: sales
    offer_timeout_s: 60
    route:
      - {name: help, when: 'has(context.topic) && context.topic == "help"', queue: support}
queues:
  - {id: sales, priority: 2, method: round_robin, members: [ann, bob, cat]}
  - {id: support, priority: 1, method: most_idle, members: [bob]}
agents:
  - {id: ann, name: Ann Example, capacity: 2, skills: {french: 7, sales: 3}}
  - {id: bob, capacity: 1}
  - {id: cat, capacity: 1}
  - {id: dan, capacity: 1, queues: [support]}
"""
    centre = await Centre.start(harness, yaml_text)
    ann = await centre.signin("ann")
    await centre.signin("bob", AWAY)
    held = (await centre.submit()).conversation_id
    await ann.accept(held)
    await centre.settle(10)
    ringing = (await centre.submit()).conversation_id
    assert offers(ann) == [held, ringing]
    await centre.settle(20)
    old_low = (await centre.submit()).conversation_id
    await centre.settle(30)
    new_high = (await centre.submit(priority=5)).conversation_id
    await centre.settle(35)
    help_ = (await centre.submit(context={"topic": "help"})).conversation_id
    await centre.settle(50)

    listed = await centre.conn.supervisor.ListQueues(supervisor_pb2.ListQueuesRequest())
    queues = {q.queue_id: q for q in listed.queues}
    assert set(queues) == {"sales", "support"}
    sales, support = queues["sales"], queues["support"]
    assert (sales.priority, sales.assignment_method) == (2, "round_robin")
    assert (support.priority, support.assignment_method) == (1, "most_idle")
    assert sorted(sales.member_ids) == ["ann", "bob", "cat"]
    assert sorted(support.member_ids) == ["bob", "dan"]
    assert list(sales.waiting_ids) == [new_high, old_low]  # priority first, then age
    assert list(support.waiting_ids) == [help_]
    assert sales.longest_wait.ToTimedelta().total_seconds() == 30  # old_low, since t=20
    assert support.longest_wait.ToTimedelta().total_seconds() == 15
    assert dict(sales.members_by_presence) == {"busy_dnd": 1, "away": 1, "offline": 1}
    assert dict(support.members_by_presence) == {"away": 1, "offline": 1}

    agent = await centre.agent("ann")
    assert agent.name == "Ann Example"
    assert (agent.presence, agent.capacity_used, agent.capacity_total) == (BUSY_DND, 2, 2)
    assert list(agent.conversation_ids) == [held]
    assert list(agent.offered_ids) == [ringing]
    assert list(agent.queue_ids) == ["sales"]
    assert dict(agent.skills) == {"french": 7, "sales": 3}
    assert agent.connected
    dan = await centre.agent("dan")
    assert (dan.name, dan.presence, dan.connected, dan.capacity_used) == ("dan", OFFLINE, False, 0)
    assert list(dan.queue_ids) == ["support"]
    everyone = await centre.conn.supervisor.ListAgents(supervisor_pb2.ListAgentsRequest())
    assert sorted(a.agent_id for a in everyone.agents) == ["ann", "bob", "cat", "dan"]

    # The figures follow what happens next.
    await centre.abandon(new_high)
    await ann.reject(ringing)
    await centre.settle()
    sales = await centre.queue("sales")
    assert list(sales.waiting_ids) == [ringing, old_low]
    assert sales.longest_wait.ToTimedelta().total_seconds() == 40  # `ringing` queued at t=10
    assert dict(sales.members_by_presence) == {"busy_dnd": 1, "away": 1, "offline": 1}
    agent = await centre.agent("ann")
    assert (agent.presence, agent.capacity_used, list(agent.offered_ids)) == (BUSY_DND, 1, [])
    assert list(agent.conversation_ids) == [held]


async def test_an_agent_back_within_the_grace_period_keeps_work_and_presence(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    await a1.set_presence(AWAY)
    cid = (await centre.submit()).conversation_id
    await a1.set_presence(AVAILABLE)
    await centre.settle(1)
    await a1.accept(cid)
    await a1.set_presence(AWAY)
    await a1.disconnect()

    async def gone() -> bool:
        return not (await centre.agent("a1")).connected

    await eventually(gone, "the server notices a1's desktop went away")
    await centre.settle(140)
    back = Desktop(centre.conn, "a1")
    centre.desktops["a1, again"] = back  # so that settling waits for its messages too
    await back.connect()  # no presence given: the one chosen before the drop comes back
    await centre.settle(400)
    agent = await centre.agent("a1")
    assert agent.presence == AWAY
    assert list(agent.conversation_ids) == [cid]
    assert (await centre.conversation(cid)).state == ACTIVE
    await back.disconnect()
