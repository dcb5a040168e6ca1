"""Bad requests over real gRPC: the exact status code, a message that names what was wrong,
and nothing changed afterwards (the same figures, and normal work still flows).

A refusal the server gets wrong today is written for the right behaviour and marked as a
strict expected failure whose reason starts with BUG.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from switchboard.v1 import admin_pb2, common_pb2, desktop_pb2, gateway_pb2, supervisor_pb2

from tests.integration.support import (
    ACTIVE,
    AVAILABLE,
    CLOSED,
    INACTIVE,
    OPEN,
    WRAP_UP,
    Centre,
    at,
    kinds,
    last_offer,
    offers,
    refused,
    withdrawals,
)

NOT_FOUND = grpc.StatusCode.NOT_FOUND
INVALID = grpc.StatusCode.INVALID_ARGUMENT
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION

CONFIG = """
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

UNKNOWN_CID = "0123456789abcdef0123456789abcdef"


async def started(harness) -> Centre:
    return await Centre.start(harness, CONFIG)


def accept(agent_id: str, cid: str) -> desktop_pb2.AcceptOfferRequest:
    return desktop_pb2.AcceptOfferRequest(agent_id=agent_id, conversation_id=cid)


def reject(agent_id: str, cid: str) -> desktop_pb2.RejectOfferRequest:
    return desktop_pb2.RejectOfferRequest(agent_id=agent_id, conversation_id=cid)


def end(agent_id: str, cid: str) -> desktop_pb2.DesktopEndConversationRequest:
    return desktop_pb2.DesktopEndConversationRequest(agent_id=agent_id, conversation_id=cid)


def close(agent_id: str, cid: str) -> desktop_pb2.CloseConversationRequest:
    return desktop_pb2.CloseConversationRequest(agent_id=agent_id, conversation_id=cid)


async def connect_error(
    centre: Centre, request: desktop_pb2.ConnectRequest
) -> grpc.aio.AioRpcError:
    """Open a desktop stream that the server must refuse; return the refusal."""
    call = centre.conn.desktop.Connect(request)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    return info.value


async def offered_to_a1(centre: Centre) -> str:
    """a1 signed in alone; one chat submitted and ringing at a1. Returns its id."""
    await centre.signin("a1")
    cid = (await centre.submit()).conversation_id
    assert last_offer(centre.desktops["a1"]).conversation.id == cid
    return cid


async def active_at_a1(centre: Centre) -> str:
    cid = await offered_to_a1(centre)
    await centre.desktops["a1"].accept(cid)
    await centre.settle()
    assert (await centre.conversation(cid)).state == ACTIVE
    return cid


async def still_flows(centre: Centre, agent_id: str) -> None:
    """New work reaches `agent_id` (signed in, with room) and goes through to closed."""
    desktop = centre.desktops[agent_id]
    cid = (await centre.submit()).conversation_id
    conversation = await centre.conversation(cid)
    assert conversation.agent_id == agent_id, (
        f"new work went to {conversation.agent_id or 'nobody'}"
    )
    await desktop.accept(cid)
    await desktop.end(cid)
    await desktop.close(cid)
    await centre.settle()
    assert (await centre.conversation(cid)).state == CLOSED


# --- work streams and ids -------------------------------------------------------------


async def test_unknown_work_stream_is_not_found_and_creates_nothing(harness) -> None:
    centre = await started(harness)
    await centre.signin("a1")
    before = await centre.snapshot()
    error = await refused(
        centre.conn.gateway.SubmitWork(gateway_pb2.SubmitWorkRequest(work_stream_id="chatt")),
        NOT_FOUND,
        "'chatt'",
    )
    assert "chat" in error.details().split("known:")[1], "the message should list the known streams"
    assert await centre.snapshot() == before
    await still_flows(centre, "a1")


async def test_empty_work_stream_id_is_invalid(harness) -> None:
    centre = await started(harness)
    await refused(
        centre.conn.gateway.SubmitWork(gateway_pb2.SubmitWorkRequest(work_stream_id="")),
        INVALID,
        "work_stream_id",
    )


@pytest.mark.parametrize("method", ["GetConversation", "AbandonConversation", "EndConversation"])
async def test_gateway_calls_on_an_unknown_conversation_are_not_found(harness, method: str) -> None:
    centre = await started(harness)
    request = {
        "GetConversation": gateway_pb2.GetConversationRequest,
        "AbandonConversation": gateway_pb2.AbandonConversationRequest,
        "EndConversation": gateway_pb2.GatewayEndConversationRequest,
    }[method](conversation_id=UNKNOWN_CID)
    await refused(getattr(centre.conn.gateway, method)(request), NOT_FOUND, UNKNOWN_CID)


@pytest.mark.parametrize("method", ["GetConversation", "AbandonConversation", "EndConversation"])
async def test_gateway_calls_without_a_conversation_id_are_invalid(harness, method: str) -> None:
    centre = await started(harness)
    request = {
        "GetConversation": gateway_pb2.GetConversationRequest,
        "AbandonConversation": gateway_pb2.AbandonConversationRequest,
        "EndConversation": gateway_pb2.GatewayEndConversationRequest,
    }[method]()
    await refused(getattr(centre.conn.gateway, method)(request), INVALID, "conversation_id")


@pytest.mark.parametrize(
    "make", [accept, reject, end, close], ids=["accept", "reject", "end", "close"]
)
async def test_desktop_calls_on_an_unknown_conversation_are_not_found(harness, make) -> None:
    centre = await started(harness)
    await centre.signin("a1")
    method = {
        accept: "AcceptOffer",
        reject: "RejectOffer",
        end: "EndConversation",
        close: "CloseConversation",
    }[make]
    await refused(
        getattr(centre.conn.desktop, method)(make("a1", UNKNOWN_CID)), NOT_FOUND, UNKNOWN_CID
    )
    await refused(getattr(centre.conn.desktop, method)(make("a1", "")), INVALID, "conversation_id")


# --- unknown agents -------------------------------------------------------------------


async def test_connect_as_an_unknown_agent_is_not_found(harness) -> None:
    centre = await started(harness)
    error = await connect_error(
        centre, desktop_pb2.ConnectRequest(agent_id="ghost", presence=AVAILABLE)
    )
    assert error.code() == NOT_FOUND, error
    assert "'ghost'" in error.details()
    error = await connect_error(centre, desktop_pb2.ConnectRequest(agent_id=""))
    assert error.code() == INVALID, error
    assert "agent_id" in error.details()


async def test_set_presence_for_an_unknown_agent_is_not_found(harness) -> None:
    centre = await started(harness)
    await refused(
        centre.conn.desktop.SetPresence(
            desktop_pb2.SetPresenceRequest(agent_id="ghost", presence=AVAILABLE)
        ),
        NOT_FOUND,
        "'ghost'",
    )


@pytest.mark.parametrize(
    "make", [accept, reject, end, close], ids=["accept", "reject", "end", "close"]
)
async def test_desktop_calls_from_an_unknown_agent_are_not_found(harness, make) -> None:
    centre = await started(harness)
    cid = await offered_to_a1(centre)
    before = await centre.snapshot()
    method = {
        accept: "AcceptOffer",
        reject: "RejectOffer",
        end: "EndConversation",
        close: "CloseConversation",
    }[make]
    await refused(getattr(centre.conn.desktop, method)(make("ghost", cid)), NOT_FOUND, "'ghost'")
    assert await centre.snapshot() == before
    conversation = await centre.conversation(cid)
    assert conversation.agent_id == "a1" and conversation.offer_pending


async def test_supervisor_look_ups_of_unknown_ids_are_not_found(harness) -> None:
    centre = await started(harness)
    await refused(
        centre.conn.supervisor.GetAgent(supervisor_pb2.GetAgentRequest(agent_id="ghost")),
        NOT_FOUND,
        "'ghost'",
    )
    await refused(
        centre.conn.supervisor.GetQueue(supervisor_pb2.GetQueueRequest(queue_id="q9")),
        NOT_FOUND,
        "'q9'",
    )
    await refused(
        centre.conn.supervisor.GetQueue(supervisor_pb2.GetQueueRequest()), INVALID, "queue_id"
    )


# --- presence -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "mention"),
    [
        (common_pb2.PRESENCE_UNSPECIFIED, "got 0"),
        (INACTIVE, "INACTIVE"),
        (99, "got 99"),
        (-1, "got -1"),
    ],
    ids=["unspecified", "inactive", "out-of-range", "negative"],
)
async def test_set_presence_refuses_values_an_agent_cannot_choose(
    harness, value: int, mention: str
) -> None:
    centre = await started(harness)
    await centre.signin("a1")
    before = await centre.snapshot()
    error = await refused(
        centre.conn.desktop.SetPresence(
            desktop_pb2.SetPresenceRequest(agent_id="a1", presence=value)
        ),
        INVALID,
        mention,
    )
    assert "presence" in error.details().lower()
    assert await centre.snapshot() == before
    assert (await centre.agent("a1")).presence == AVAILABLE
    await still_flows(centre, "a1")


async def test_connect_with_an_out_of_range_presence_is_invalid(harness) -> None:
    centre = await started(harness)
    error = await connect_error(centre, desktop_pb2.ConnectRequest(agent_id="a1", presence=42))
    assert error.code() == INVALID, error
    assert "presence" in error.details() and "42" in error.details()
    agent = await centre.agent("a1")
    assert not agent.connected


async def test_connect_with_inactive_presence_leaves_the_open_desktop_alone(harness) -> None:
    centre = await started(harness)
    cid = await offered_to_a1(centre)
    error = await connect_error(
        centre, desktop_pb2.ConnectRequest(agent_id="a1", presence=INACTIVE)
    )
    assert error.code() == INVALID, error
    assert "INACTIVE" in error.details()
    await centre.settle()
    assert centre.desktops["a1"].ended is None, "the open desktop was ended by a refused Connect"
    agent = await centre.agent("a1")
    assert agent.connected
    assert list(agent.offered_ids) == [cid]
    assert withdrawals(centre.desktops["a1"]) == []


async def test_work_is_not_offered_to_an_agent_who_has_no_desktop(harness) -> None:
    centre = await started(harness)
    try:
        await centre.conn.desktop.SetPresence(
            desktop_pb2.SetPresenceRequest(agent_id="a2", presence=AVAILABLE)
        )
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == PRECONDITION, exc
    cid = (await centre.submit()).conversation_id
    conversation = await centre.conversation(cid)
    assert conversation.agent_id == "", f"offered to {conversation.agent_id}, who has no desktop"
    assert await centre.waiting("q1") == [cid]


# --- offers that are not yours, gone, or already answered -----------------------------


async def test_accepting_another_agents_offer_fails_and_the_owner_still_can(harness) -> None:
    centre = await started(harness)
    cid = await offered_to_a1(centre)
    await centre.signin("a2")
    before = await centre.snapshot()
    await refused(centre.conn.desktop.AcceptOffer(accept("a2", cid)), PRECONDITION, cid, "a2")
    await refused(centre.conn.desktop.RejectOffer(reject("a2", cid)), PRECONDITION, cid, "a2")
    assert await centre.snapshot() == before
    conversation = await centre.conversation(cid)
    assert (conversation.agent_id, conversation.offer_pending) == ("a1", True)
    response = await centre.conn.desktop.AcceptOffer(accept("a1", cid))
    assert response.conversation.id == cid
    assert response.conversation.state == ACTIVE
    await centre.settle()
    assert list((await centre.agent("a1")).conversation_ids) == [cid]
    assert list((await centre.agent("a2")).conversation_ids) == []


async def test_accepting_an_offer_withdrawn_because_the_customer_left_fails(harness) -> None:
    centre = await started(harness)
    cid = await offered_to_a1(centre)
    assert await centre.abandon(cid, "hung up") == CLOSED
    assert withdrawals(centre.desktops["a1"]) == [(cid, "abandoned")]
    await refused(centre.conn.desktop.AcceptOffer(accept("a1", cid)), PRECONDITION, cid, "a1")
    await refused(centre.conn.desktop.RejectOffer(reject("a1", cid)), PRECONDITION, cid)
    await centre.settle()
    assert (await centre.conversation(cid)).state == CLOSED
    agent = await centre.agent("a1")
    assert (agent.capacity_used, list(agent.offered_ids), agent.presence) == (0, [], AVAILABLE)
    await still_flows(centre, "a1")


async def test_accepting_an_offer_that_timed_out_fails(harness) -> None:
    centre = await started(harness)
    cid = await offered_to_a1(centre)
    await centre.settle(30)
    assert withdrawals(centre.desktops["a1"]) == [(cid, "timed_out")]
    await refused(centre.conn.desktop.AcceptOffer(accept("a1", cid)), PRECONDITION, cid)
    conversation = await centre.conversation(cid)
    assert (conversation.state, conversation.agent_id) == (OPEN, "")
    assert await centre.waiting("q1") == [cid]


async def test_accepting_twice_fails_and_changes_nothing(harness) -> None:
    centre = await started(harness)
    cid = await active_at_a1(centre)
    before = await centre.snapshot()
    error = await refused(centre.conn.desktop.AcceptOffer(accept("a1", cid)), PRECONDITION, cid)
    assert "active" in error.details()
    await refused(centre.conn.desktop.RejectOffer(reject("a1", cid)), PRECONDITION, cid)
    await centre.settle()
    assert await centre.snapshot() == before
    conversation = await centre.conversation(cid)
    assert (conversation.state, conversation.agent_id) == (ACTIVE, "a1")
    assert (await centre.agent("a1")).capacity_used == 1
    assert kinds(centre.desktops["a1"]).count(f"assignment {cid}") == 1


async def test_rejecting_work_never_offered_to_you_fails(harness) -> None:
    centre = await started(harness)
    await centre.signin("a1", common_pb2.PRESENCE_AWAY)
    cid = (await centre.submit()).conversation_id  # nobody can take it: it waits
    assert await centre.waiting("q1") == [cid]
    await refused(centre.conn.desktop.RejectOffer(reject("a1", cid)), PRECONDITION, cid, "a1")
    await refused(centre.conn.desktop.AcceptOffer(accept("a1", cid)), PRECONDITION, cid, "a1")
    assert await centre.waiting("q1") == [cid]
    conversation = await centre.conversation(cid)
    assert [e.kind for e in conversation.timeline] == ["submitted", "routed", "queued"]


# --- ending and closing ---------------------------------------------------------------


async def test_ending_or_closing_work_you_do_not_hold_fails(harness) -> None:
    centre = await started(harness)
    cid = await active_at_a1(centre)
    await centre.signin("a2")
    before = await centre.snapshot()
    await refused(centre.conn.desktop.EndConversation(end("a2", cid)), PRECONDITION, cid, "a2")
    await refused(centre.conn.desktop.CloseConversation(close("a2", cid)), PRECONDITION, cid, "a2")
    assert await centre.snapshot() == before
    assert (await centre.conversation(cid)).state == ACTIVE


async def test_ending_an_offer_not_yet_accepted_fails(harness) -> None:
    centre = await started(harness)
    cid = await offered_to_a1(centre)
    error = await refused(centre.conn.desktop.EndConversation(end("a1", cid)), PRECONDITION, cid)
    assert "offered" in error.details()
    conversation = await centre.conversation(cid)
    assert (conversation.state, conversation.offer_pending) == (OPEN, True)


async def test_closing_before_ending_fails_then_the_normal_order_works(harness) -> None:
    centre = await started(harness)
    cid = await active_at_a1(centre)
    before = await centre.snapshot()
    error = await refused(
        centre.conn.desktop.CloseConversation(close("a1", cid)), PRECONDITION, cid
    )
    assert "active" in error.details() and "wrap-up" in error.details()
    assert await centre.snapshot() == before
    assert (await centre.conversation(cid)).state == ACTIVE
    response = await centre.conn.desktop.EndConversation(end("a1", cid))
    assert response.state == WRAP_UP
    error = await refused(centre.conn.desktop.EndConversation(end("a1", cid)), PRECONDITION, cid)
    assert "it is wrap-up, not active" in error.details()
    assert "CloseConversation closes it" in error.details()  # what to do instead
    await centre.conn.desktop.CloseConversation(close("a1", cid))
    await centre.settle()
    assert (await centre.conversation(cid)).state == CLOSED
    await refused(centre.conn.desktop.CloseConversation(close("a1", cid)), PRECONDITION, cid)
    await refused(centre.conn.desktop.EndConversation(end("a1", cid)), PRECONDITION, cid)
    agent = await centre.agent("a1")
    assert (agent.capacity_used, list(agent.conversation_ids)) == (0, [])
    await still_flows(centre, "a1")


async def test_abandoning_a_closed_conversation_fails(harness) -> None:
    centre = await started(harness)
    cid = (await centre.submit()).conversation_id
    assert await centre.abandon(cid) == CLOSED
    error = await refused(
        centre.conn.gateway.AbandonConversation(
            gateway_pb2.AbandonConversationRequest(conversation_id=cid)
        ),
        PRECONDITION,
        cid,
    )
    assert "closed" in error.details()
    await refused(
        centre.conn.gateway.EndConversation(
            gateway_pb2.GatewayEndConversationRequest(conversation_id=cid)
        ),
        PRECONDITION,
        cid,
    )
    conversation = await centre.conversation(cid)
    assert conversation.state == CLOSED
    assert [e.kind for e in conversation.timeline].count("closed") == 1


async def test_abandoning_work_in_wrap_up_fails(harness) -> None:
    centre = await started(harness)
    cid = await active_at_a1(centre)
    await centre.desktops["a1"].end(cid)
    await centre.settle()
    error = await refused(
        centre.conn.gateway.AbandonConversation(
            gateway_pb2.AbandonConversationRequest(conversation_id=cid)
        ),
        PRECONDITION,
        cid,
    )
    assert "wrap_up" in error.details()
    assert (await centre.conversation(cid)).state == WRAP_UP


async def test_the_customer_cannot_end_an_open_conversation(harness) -> None:
    centre = await started(harness)
    cid = await offered_to_a1(centre)
    before = await centre.snapshot()
    error = await refused(
        centre.conn.gateway.EndConversation(
            gateway_pb2.GatewayEndConversationRequest(conversation_id=cid)
        ),
        PRECONDITION,
        cid,
    )
    assert "AbandonConversation" in error.details(), "the message should say what to call instead"
    assert await centre.snapshot() == before
    conversation = await centre.conversation(cid)
    assert (conversation.state, conversation.agent_id, conversation.offer_pending) == (
        OPEN,
        "a1",
        True,
    )


# --- sizes and characters -------------------------------------------------------------


async def test_ids_longer_than_128_characters_are_invalid(harness) -> None:
    centre = await started(harness)
    long_id = "a" * 129
    await refused(
        centre.conn.desktop.SetPresence(
            desktop_pb2.SetPresenceRequest(agent_id=long_id, presence=AVAILABLE)
        ),
        INVALID,
        "agent_id",
        "128",
    )
    await refused(
        centre.conn.supervisor.GetAgent(supervisor_pb2.GetAgentRequest(agent_id=long_id)),
        INVALID,
        "agent_id",
        "128",
    )
    await refused(
        centre.conn.admin.UpsertAgent(admin_pb2.UpsertAgentRequest(agent_id=long_id)),
        INVALID,
        "agent_id",
        "128",
    )
    await refused(
        centre.conn.gateway.GetConversation(
            gateway_pb2.GetConversationRequest(conversation_id="c" * 129)
        ),
        INVALID,
        "conversation_id",
        "128",
    )
    await refused(
        centre.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(
                work_stream_id="chat", customer=common_pb2.Customer(id="x" * 129)
            )
        ),
        INVALID,
        "customer.id",
        "128",
    )
    error = await connect_error(centre, desktop_pb2.ConnectRequest(agent_id=long_id))
    assert error.code() == INVALID and "agent_id" in error.details()
    # 128 is allowed.
    created = await centre.conn.admin.UpsertAgent(
        admin_pb2.UpsertAgentRequest(agent_id="b" * 128, queue_ids=["q1"])
    )
    assert created.created
    assert (await centre.agent("b" * 128)).agent_id == "b" * 128


async def test_context_values_over_4096_characters_are_invalid(harness) -> None:
    centre = await started(harness)
    before = await centre.snapshot()
    await refused(
        centre.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(work_stream_id="chat", context={"note": "x" * 4097})
        ),
        INVALID,
        "context",
        "'note'",
        "4096",
    )
    await refused(
        centre.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(
                work_stream_id="chat",
                customer=common_pb2.Customer(id="c1", attributes={"bio": "y" * 4097}),
            )
        ),
        INVALID,
        "customer.attributes",
        "'bio'",
        "4096",
    )
    await refused(
        centre.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(work_stream_id="chat", context={"": "empty key"})
        ),
        INVALID,
        "context",
        "keys",
    )
    await refused(
        centre.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(work_stream_id="chat", context={"k" * 129: "v"})
        ),
        INVALID,
        "context",
        "keys",
    )
    assert await centre.snapshot() == before
    ok = await centre.submit(context={"note": "x" * 4096})
    assert (await centre.conversation(ok.conversation_id)).context["note"] == "x" * 4096


async def test_more_than_64_context_entries_are_invalid(harness) -> None:
    centre = await started(harness)
    await refused(
        centre.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(
                work_stream_id="chat", context={f"k{i}": "v" for i in range(65)}
            )
        ),
        INVALID,
        "context",
        "65",
        "64",
    )
    await refused(
        centre.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(
                work_stream_id="chat",
                customer=common_pb2.Customer(attributes={f"k{i}": "v" for i in range(65)}),
            )
        ),
        INVALID,
        "customer.attributes",
        "64",
    )
    ok = await centre.submit(context={f"k{i}": "v" for i in range(64)})
    assert len((await centre.conversation(ok.conversation_id)).context) == 64


@pytest.mark.parametrize("priority", [1001, -1001, 2**31 - 1, -(2**31)])
async def test_priority_out_of_range_is_invalid(harness, priority: int) -> None:
    centre = await started(harness)
    await refused(
        centre.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(work_stream_id="chat", priority=priority)
        ),
        INVALID,
        "priority",
        str(priority),
        "-1000..1000",
    )
    assert await centre.waiting("q1") == []


async def test_priority_at_the_limits_is_accepted(harness) -> None:
    centre = await started(harness)
    low = await centre.submit(priority=-1000)
    high = await centre.submit(priority=1000)
    assert await centre.waiting("q1") == [high.conversation_id, low.conversation_id]


@pytest.mark.parametrize("rating", [11, -1, 1000])
async def test_skill_ratings_outside_0_to_10_are_invalid(harness, rating: int) -> None:
    centre = await started(harness)
    await refused(
        centre.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(work_stream_id="chat", required_skills={"french": rating})
        ),
        INVALID,
        "required_skills",
        "'french'",
        str(rating),
        "0..10",
    )
    await refused(
        centre.conn.admin.UpsertAgent(
            admin_pb2.UpsertAgentRequest(agent_id="a1", skills={"french": rating}, queue_ids=["q1"])
        ),
        INVALID,
        "skills",
        "'french'",
        str(rating),
    )
    agent = await centre.agent("a1")
    assert dict(agent.skills) == {}, "a refused upsert must not change the agent"


async def test_too_many_skills_are_invalid(harness) -> None:
    centre = await started(harness)
    await refused(
        centre.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(
                work_stream_id="chat", required_skills={f"s{i}": 1 for i in range(33)}
            )
        ),
        INVALID,
        "required_skills",
        "32",
    )


@pytest.mark.parametrize(
    "bad",
    ["a\n1", "a\x001", "a\t1", "a\x7f1", "\u200b"],
    ids=["newline", "nul", "tab", "del", "zero-width-space"],
)
async def test_ids_with_unprintable_characters_are_invalid(harness, bad: str) -> None:
    centre = await started(harness)
    await refused(
        centre.conn.desktop.SetPresence(
            desktop_pb2.SetPresenceRequest(agent_id=bad, presence=AVAILABLE)
        ),
        INVALID,
        "agent_id",
        "printable",
    )
    await refused(
        centre.conn.gateway.GetConversation(
            gateway_pb2.GetConversationRequest(conversation_id=bad)
        ),
        INVALID,
        "conversation_id",
        "printable",
    )
    await refused(
        centre.conn.gateway.SubmitWork(gateway_pb2.SubmitWorkRequest(work_stream_id=bad)),
        INVALID,
        "work_stream_id",
        "printable",
    )
    await refused(
        centre.conn.admin.UpsertAgent(
            admin_pb2.UpsertAgentRequest(agent_id="fine", queue_ids=[bad])
        ),
        INVALID,
        "queue_ids",
        "printable",
    )
    await refused(
        centre.conn.supervisor.GetAgent(supervisor_pb2.GetAgentRequest(agent_id="fine")),
        NOT_FOUND,
        "'fine'",
    )


# --- administration -------------------------------------------------------------------


async def test_advance_clock_on_a_system_clock_server_is_a_failed_precondition(harness) -> None:
    conn = await harness.start(CONFIG, manual_clock=False)
    clock = await conn.admin.GetClock(admin_pb2.GetClockRequest())
    assert not clock.manual
    await refused(
        conn.admin.AdvanceClock(admin_pb2.AdvanceClockRequest(to=at(60))),
        PRECONDITION,
        "system clock",
        "manual",
    )
    # Without a target it only waits for the engine to settle, on either clock.
    settled = await conn.admin.AdvanceClock(admin_pb2.AdvanceClockRequest())
    assert settled.timers_fired == 0


async def test_the_manual_clock_never_moves_backwards(harness) -> None:
    centre = await started(harness)
    moved = await centre.conn.admin.AdvanceClock(admin_pb2.AdvanceClockRequest(to=at(100)))
    assert moved.now == at(100)
    back = await centre.conn.admin.AdvanceClock(admin_pb2.AdvanceClockRequest(to=at(50)))
    assert back.now == at(100)


async def test_upsert_agent_into_an_unknown_queue_is_not_found_and_creates_nothing(harness) -> None:
    centre = await started(harness)
    before = await centre.snapshot()
    await refused(
        centre.conn.admin.UpsertAgent(
            admin_pb2.UpsertAgentRequest(agent_id="a9", queue_ids=["q1", "nope"])
        ),
        NOT_FOUND,
        "nope",
    )
    await refused(
        centre.conn.supervisor.GetAgent(supervisor_pb2.GetAgentRequest(agent_id="a9")),
        NOT_FOUND,
        "a9",
    )
    await refused(
        centre.conn.admin.UpsertAgent(
            admin_pb2.UpsertAgentRequest(agent_id="a1", queue_ids=["nope"])
        ),
        NOT_FOUND,
        "nope",
    )
    assert await centre.snapshot() == before
    assert list((await centre.agent("a1")).queue_ids) == ["q1"]


async def test_upsert_agent_with_a_negative_capacity_is_invalid(harness) -> None:
    centre = await started(harness)
    await refused(
        centre.conn.admin.UpsertAgent(
            admin_pb2.UpsertAgentRequest(agent_id="a9", capacity=-1, queue_ids=["q1"])
        ),
        INVALID,
        "capacity",
    )
    await refused(
        centre.conn.supervisor.GetAgent(supervisor_pb2.GetAgentRequest(agent_id="a9")),
        NOT_FOUND,
        "a9",
    )


async def test_map_keys_with_unprintable_characters_are_invalid(harness) -> None:
    centre = await started(harness)
    before = await centre.snapshot()
    for key in ("a\x00b", "line\nbreak", "zero\u200bwidth"):
        await refused(
            centre.conn.gateway.SubmitWork(
                gateway_pb2.SubmitWorkRequest(
                    work_stream_id="chat",
                    customer=common_pb2.Customer(id="c1", attributes={key: "v"}),
                )
            ),
            INVALID,
            "customer.attributes",
            "printable",
        )
        await refused(
            centre.conn.gateway.SubmitWork(
                gateway_pb2.SubmitWorkRequest(work_stream_id="chat", context={key: "v"})
            ),
            INVALID,
            "context",
        )
    assert await centre.snapshot() == before


async def test_upsert_agent_with_a_name_over_200_characters_is_invalid_not_cut(harness) -> None:
    centre = await started(harness)
    await refused(
        centre.conn.admin.UpsertAgent(
            admin_pb2.UpsertAgentRequest(agent_id="a9", name="n" * 201, queue_ids=["q1"])
        ),
        INVALID,
        "name",
        "200",
    )
    await refused(
        centre.conn.supervisor.GetAgent(supervisor_pb2.GetAgentRequest(agent_id="a9")),
        NOT_FOUND,
        "a9",
    )
    await centre.conn.admin.UpsertAgent(
        admin_pb2.UpsertAgentRequest(agent_id="a9", name="n" * 200, queue_ids=["q1"])
    )


async def test_upsert_agent_with_a_queue_listed_twice(harness) -> None:
    centre = await started(harness)
    try:
        await centre.conn.admin.UpsertAgent(
            admin_pb2.UpsertAgentRequest(agent_id="a9", queue_ids=["q1", "q1"])
        )
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == INVALID and "queue_ids" in exc.details(), exc
        return
    assert list((await centre.agent("a9")).queue_ids) == ["q1"]


# --- many refusals in a row leave a busy centre exactly as it was ---------------------


async def test_a_burst_of_bad_calls_changes_nothing(harness) -> None:
    centre = await started(harness)
    active = await active_at_a1(centre)
    await centre.signin("a2")
    ringing = (await centre.submit()).conversation_id
    assert last_offer(centre.desktops["a2"]).conversation.id == ringing
    waiting = (await centre.submit()).conversation_id
    assert await centre.waiting("q1") == [waiting]
    before = await centre.snapshot()
    timelines = {cid: await centre.conversation(cid) for cid in (active, ringing, waiting)}
    desktop, gateway = centre.conn.desktop, centre.conn.gateway
    bad_calls = [
        (desktop.AcceptOffer(accept("a1", ringing)), PRECONDITION),
        (desktop.AcceptOffer(accept("a2", waiting)), PRECONDITION),
        (desktop.RejectOffer(reject("a1", active)), PRECONDITION),
        (desktop.RejectOffer(reject("a2", active)), PRECONDITION),
        (desktop.EndConversation(end("a2", active)), PRECONDITION),
        (desktop.EndConversation(end("a2", ringing)), PRECONDITION),
        (desktop.CloseConversation(close("a1", active)), PRECONDITION),
        (desktop.CloseConversation(close("a2", waiting)), PRECONDITION),
        (
            gateway.EndConversation(
                gateway_pb2.GatewayEndConversationRequest(conversation_id=ringing)
            ),
            PRECONDITION,
        ),
        (
            gateway.EndConversation(
                gateway_pb2.GatewayEndConversationRequest(conversation_id=waiting)
            ),
            PRECONDITION,
        ),
        (
            desktop.SetPresence(desktop_pb2.SetPresenceRequest(agent_id="a2", presence=INACTIVE)),
            INVALID,
        ),
        (desktop.SetPresence(desktop_pb2.SetPresenceRequest(agent_id="a1", presence=0)), INVALID),
        (
            gateway.SubmitWork(gateway_pb2.SubmitWorkRequest(work_stream_id="chat", priority=5000)),
            INVALID,
        ),
        (gateway.SubmitWork(gateway_pb2.SubmitWorkRequest(work_stream_id="voice")), NOT_FOUND),
        (desktop.AcceptOffer(accept("ghost", ringing)), NOT_FOUND),
    ]
    for call, code in bad_calls:
        await refused(call, code)
    await centre.settle()
    assert await centre.snapshot() == before
    for cid, was in timelines.items():
        now = await centre.conversation(cid)
        assert now == was, f"conversation {cid} changed after refused calls"
    assert "withdrawn" not in " ".join(kinds(centre.desktops["a2"]))
    # And the work goes on: a2 answers, a1 finishes, the waiting work is offered to a1.
    await centre.desktops["a2"].accept(ringing)
    await centre.desktops["a1"].end(active)
    await centre.desktops["a1"].close(active)
    await centre.settle()
    assert offers(centre.desktops["a1"]) == [active, waiting]


async def test_refused_calls_on_a_journal_only_conversation_say_it_is_closed(
    harness, tmp_path: Path
) -> None:
    """After a restart a closed conversation is served from the journal; calls on it are
    refused as closed, like before the restart (see also test_lifecycle's restart test)."""
    db = str(tmp_path / "journal.db")
    centre = await Centre.start(harness, CONFIG, db=db)
    cid = (await centre.submit()).conversation_id
    await centre.abandon(cid)
    await refused(
        centre.conn.gateway.AbandonConversation(
            gateway_pb2.AbandonConversationRequest(conversation_id=cid)
        ),
        PRECONDITION,
        cid,
        "closed",
    )
    await harness.stop()
    centre = await Centre.start(harness, CONFIG, db=db)
    assert (await centre.conversation(cid)).state == CLOSED
    await _journal_only_refusals(centre, cid)


async def test_calls_on_a_journal_only_conversation_are_failed_precondition(
    harness, tmp_path: Path
) -> None:
    db = str(tmp_path / "journal.db")
    centre = await Centre.start(harness, CONFIG, db=db)
    cid = (await centre.submit()).conversation_id
    await centre.abandon(cid)
    await harness.stop()
    centre = await Centre.start(harness, CONFIG, db=db)
    await centre.signin("a1")
    await refused(
        centre.conn.gateway.AbandonConversation(
            gateway_pb2.AbandonConversationRequest(conversation_id=cid)
        ),
        PRECONDITION,
        cid,
        "closed",
    )
    await refused(
        centre.conn.gateway.EndConversation(
            gateway_pb2.GatewayEndConversationRequest(conversation_id=cid)
        ),
        PRECONDITION,
        cid,
    )
    await refused(centre.conn.desktop.AcceptOffer(accept("a1", cid)), PRECONDITION, cid)


async def _journal_only_refusals(centre: Centre, cid: str) -> None:
    """Whatever the code, calls on a closed journal-only conversation fail and change nothing."""
    await centre.signin("a1")
    before = await centre.snapshot()
    for call in [
        centre.conn.gateway.AbandonConversation(
            gateway_pb2.AbandonConversationRequest(conversation_id=cid)
        ),
        centre.conn.gateway.EndConversation(
            gateway_pb2.GatewayEndConversationRequest(conversation_id=cid)
        ),
        centre.conn.desktop.AcceptOffer(accept("a1", cid)),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        assert info.value.code() in (NOT_FOUND, PRECONDITION)
        assert cid in info.value.details()
    assert await centre.snapshot() == before
    assert (await centre.conversation(cid)).state == CLOSED
