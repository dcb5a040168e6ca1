"""Malformed input at the wire: bytes that are not the request message, messages over the
size limit, maps with huge numbers of entries, unicode edge cases in ids, and
bursts of calls larger than gRPC core lets wait by default."""

from __future__ import annotations

import asyncio
from collections import Counter

import grpc
import pytest
from switchboard.v1 import admin_pb2, common_pb2, gateway_pb2, supervisor_pb2

from tests.attack.checks import check_invariants
from tests.integration.support import Centre, offers, refused

INVALID = grpc.StatusCode.INVALID_ARGUMENT

CONFIG = """
work_streams:
  - id: chat
    channel: chat
    fallback_queue: q1
    offer_timeout_s: 30
queues:
  - {id: q1, members: [a1]}
agents:
  - {id: a1, capacity: 1}
"""

GARBAGE = {
    "bad tag": b"\xff\xff",
    "truncated string": b"\x0a\x05ab",
    "invalid UTF-8 in a string": b"\x0a\x02\xc3\x28",
    "overlong length": b"\x0a\x80\x80\x80\x80\x10",
}
METHODS = [
    "/switchboard.v1.GatewayService/SubmitWork",
    "/switchboard.v1.DesktopService/AcceptOffer",
    "/switchboard.v1.AdminService/AdvanceClock",
]


async def raw_unary(conn, method: str, payload: bytes) -> grpc.aio.AioRpcError:
    call = conn.channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(payload)
    return info.value


async def still_flows(centre: Centre) -> None:
    a1 = centre.desktops["a1"]
    cid = (await centre.submit()).conversation_id
    assert offers(a1)[-1] == cid
    await a1.accept(cid)
    await a1.end(cid)
    await a1.close(cid)
    await centre.settle()
    await check_invariants(centre.conn, [cid])


async def test_garbage_bytes_are_refused_and_the_server_keeps_working(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    await centre.signin("a1")
    for method in METHODS:
        for payload in GARBAGE.values():
            error = await raw_unary(centre.conn, method, payload)
            assert error.code() != grpc.StatusCode.OK
    call = centre.conn.channel.unary_stream(
        "/switchboard.v1.DesktopService/Connect",
        request_serializer=None,
        response_deserializer=None,
    )(b"\xff\xff")
    with pytest.raises(grpc.aio.AioRpcError):
        await call.read()
    await still_flows(centre)


@pytest.mark.parametrize("what", list(GARBAGE))
async def test_garbage_bytes_are_invalid_argument(harness, what) -> None:
    centre = await Centre.start(harness, CONFIG)
    for method in METHODS:
        error = await raw_unary(centre.conn, method, GARBAGE[what])
        assert error.code() == INVALID, f"{method}: {error.code().name} {error.details()}"


async def test_a_request_over_one_mib_is_resource_exhausted_and_changes_nothing(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    await centre.signin("a1")
    before = await centre.snapshot()
    big = gateway_pb2.SubmitWorkRequest(work_stream_id="chat", context={"k": "x" * (1 << 20)})
    await refused(centre.conn.gateway.SubmitWork(big), grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert await centre.snapshot() == before
    await still_flows(centre)


@pytest.mark.parametrize(
    ("field", "make"),
    [
        ("context", lambda n: {"context": {f"k{i}": "" for i in range(n)}}),
        (
            "customer.attributes",
            lambda n: {
                "customer": common_pb2.Customer(id="c", attributes={f"k{i}": "" for i in range(n)})
            },
        ),
        ("required_skills", lambda n: {"required_skills": {f"k{i}": 1 for i in range(n)}}),
    ],
)
async def test_maps_with_100k_entries_under_one_mib_are_invalid_and_change_nothing(
    harness, field, make
) -> None:
    centre = await Centre.start(harness, CONFIG)
    await centre.signin("a1")
    before = await centre.snapshot()
    request = gateway_pb2.SubmitWorkRequest(work_stream_id="chat", **make(80_000))
    assert request.ByteSize() < (1 << 20)
    await refused(centre.conn.gateway.SubmitWork(request), INVALID, field)
    assert await centre.snapshot() == before
    await still_flows(centre)


COMBINING = "e\u0301"  # 'e' + COMBINING ACUTE ACCENT: one glyph, two code points


@pytest.mark.parametrize(
    ("agent_id", "accepted"),
    [
        (COMBINING * 64, True),  # 128 code points
        (COMBINING * 64 + "e", False),  # 129
        ("a" + "\u0300\u0301\u0302\u0303\u0304" * 25, True),  # one base, 125 marks: 126
        ("שלום-עולם", True),  # right-to-left letters
        ("agent\u202eevil", False),  # RIGHT-TO-LEFT OVERRIDE: invisible, reorders text
        ("agent\u200b", False),  # ZERO WIDTH SPACE
        ("\ufeffagent", False),  # BYTE ORDER MARK
        ("🎧-agent", True),
    ],
)
async def test_unicode_agent_ids(harness, agent_id, accepted) -> None:
    centre = await Centre.start(harness, CONFIG)
    request = admin_pb2.UpsertAgentRequest(agent_id=agent_id, queue_ids=["q1"])
    if not accepted:
        await refused(centre.conn.admin.UpsertAgent(request), INVALID, "agent_id")
        return
    assert (await centre.conn.admin.UpsertAgent(request)).created
    agent = (
        await centre.conn.supervisor.GetAgent(supervisor_pb2.GetAgentRequest(agent_id=agent_id))
    ).agent
    assert agent.agent_id == agent_id and list(agent.queue_ids) == ["q1"]
    # The same glyphs composed differently are another id, not this agent.
    if agent_id.startswith(COMBINING):
        precomposed = "\u00e9" * 64
        await refused(
            centre.conn.supervisor.GetAgent(supervisor_pb2.GetAgentRequest(agent_id=precomposed)),
            grpc.StatusCode.NOT_FOUND,
        )
    desktop = await centre.signin(agent_id)
    cid = (await centre.submit(customer=common_pb2.Customer(id=agent_id))).conversation_id
    assert cid in offers(desktop) or cid in offers(centre.desktops.get("a1", desktop))
    conversation = await centre.conversation(cid)
    assert conversation.customer.id == agent_id


async def test_a_burst_of_5000_calls_at_once_is_answered_in_full(harness) -> None:
    # gRPC core cancels calls that wait for the server past its pending-call limit (1,000
    # soft, 3,000 hard by default), with a bare CANCELLED: a gateway's burst of reads, or a
    # reconnect storm, must all be answered.
    centre = await Centre.start(harness, CONFIG)
    cid = (await centre.submit()).conversation_id
    request = gateway_pb2.GetConversationRequest(conversation_id=cid)

    async def read() -> str:
        try:
            answer = await centre.conn.gateway.GetConversation(request)
        except grpc.aio.AioRpcError as error:
            return error.code().name
        return answer.conversation.id

    answers = await asyncio.gather(*(read() for _ in range(5000)))
    assert Counter(answers) == {cid: 5000}
