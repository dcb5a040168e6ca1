"""Simulated calls over real gRPC: request metadata `switchboard-at` moves a manual clock
before the call, `switchboard-settle` answers a unary call once the engine has settled, with
the AdvanceClock answer in the trailing metadata `switchboard-settled-bin`.

Nothing here sleeps: time moves only through the manual clock, and the tests wait on the
settle barrier (`settle`, `caught_up`) for what the desktops receive.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from switchboard.clients.connection import Connection, Desktop, caught_up, settle
from switchboard.v1 import admin_pb2, common_pb2, desktop_pb2, gateway_pb2, supervisor_pb2

from tests.attack.procs import children, serve_manual, started
from tests.conftest import ServerHarness
from tests.integration.support import (
    ACTIVE,
    AVAILABLE,
    AWAY,
    OFFLINE,
    T0,
    Centre,
    kinds,
    last_offer,
    offers,
    refused,
    seconds,
    withdrawals,
)

AT_KEY = "switchboard-at"
SETTLE_KEY = "switchboard-settle"
SETTLED_KEY = "switchboard-settled-bin"

INVALID = grpc.StatusCode.INVALID_ARGUMENT

CONFIG = """
settings:
  decline_limit: 3
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

# Bytes that do not parse as any request message (see tests/attack/test_wire.py).
GARBAGE = b"\xff\xff"


def when(t: float) -> tuple[str, str]:
    """The metadata entry saying a call happens `t` seconds after the test clock started."""
    return (AT_KEY, repr(T0 + t))


def chat() -> gateway_pb2.SubmitWorkRequest:
    return gateway_pb2.SubmitWorkRequest(work_stream_id="chat")


async def clock(centre: Centre) -> float:
    """The server's time, in seconds since the test clock started (a plain call)."""
    return seconds((await centre.conn.admin.GetClock(admin_pb2.GetClockRequest())).now)


async def settled_answer(call: Any) -> admin_pb2.AdvanceClockResponse | None:
    """The `switchboard-settled-bin` trailing metadata of a finished call, parsed, if any."""
    found = [value for key, value in await call.trailing_metadata() or () if key == SETTLED_KEY]
    assert len(found) <= 1, f"{SETTLED_KEY} sent {len(found)} times"
    return admin_pb2.AdvanceClockResponse.FromString(found[0]) if found else None


def timeline(conversation: common_pb2.Conversation) -> list[tuple[str, float, str]]:
    return [(e.kind, seconds(e.at), e.agent_id) for e in conversation.timeline]


def entry_at(conversation: common_pb2.Conversation, kind: str) -> float:
    found = [seconds(e.at) for e in conversation.timeline if e.kind == kind]
    assert found, f"no {kind!r} entry in {timeline(conversation)}"
    return found[-1]


# --- 1. switchboard-at moves the clock forward, never back ------------------------------


async def test_a_submit_carrying_switchboard_at_moves_the_clock_there_first(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    assert await clock(centre) == 0

    first = await centre.conn.gateway.SubmitWork(chat(), metadata=(when(50),))
    assert await clock(centre) == 50
    # The clock moved before the call ran: the work was submitted at the new time.
    assert entry_at(await centre.conversation(first.conversation_id), "submitted") == 50

    # A time already past means now: the call succeeds and time stays where it is.
    second = await centre.conn.gateway.SubmitWork(chat(), metadata=(when(20),))
    assert second.conversation_id and second.conversation_id != first.conversation_id
    assert await clock(centre) == 50
    assert entry_at(await centre.conversation(second.conversation_id), "submitted") == 50

    # The very same time is fine too, and fractions of a second are kept.
    await centre.conn.gateway.SubmitWork(chat(), metadata=(when(50),))
    assert await clock(centre) == 50
    await centre.conn.admin.GetClock(admin_pb2.GetClockRequest(), metadata=(when(75.25),))
    assert await clock(centre) == 75.25
    waiting = await centre.waiting("q1")  # nobody is signed in: all three wait
    assert len(waiting) == 3
    assert waiting[:2] == [first.conversation_id, second.conversation_id]


async def test_connection_call_sends_the_simulated_time(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    conn = centre.conn
    conn.simulated_time = T0 + 12.5
    response = await conn.call(conn.gateway.SubmitWork, chat())
    assert await clock(centre) == 12.5
    assert entry_at(await centre.conversation(response.conversation_id), "submitted") == 12.5
    assert conn.expected == {}  # no settling asked for: nothing heard


async def test_calls_carrying_switchboard_at_at_once_leave_the_clock_at_the_latest(
    harness,
) -> None:
    centre = await Centre.start(harness, CONFIG)
    targets = [30.0, 60.0, 45.0, 10.0]
    responses = await asyncio.gather(
        *(centre.conn.gateway.SubmitWork(chat(), metadata=(when(t),)) for t in targets)
    )
    assert await clock(centre) == 60
    for t, response in zip(targets, responses, strict=True):
        submitted = entry_at(await centre.conversation(response.conversation_id), "submitted")
        assert t <= submitted <= 60


async def test_switchboard_at_on_connect_moves_the_clock_before_the_stream_opens(
    harness,
) -> None:
    centre = await Centre.start(harness, CONFIG)
    call = centre.conn.desktop.Connect(
        desktop_pb2.ConnectRequest(agent_id="a1", presence=AVAILABLE), metadata=(when(5),)
    )
    try:
        first = await call.read()
        assert first.HasField("agent_update")
        assert seconds(first.at) == 5
        assert await clock(centre) == 5
    finally:
        call.cancel()


# --- 2. timers crossed by switchboard-at fire, as with AdvanceClock ---------------------


async def test_an_offer_timeout_crossed_by_switchboard_at_fires_at_its_own_time(
    harness,
) -> None:
    centre = await Centre.start(harness, CONFIG)
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2")
    cid = (await centre.submit()).conversation_id
    assert offers(a1) == [cid] and offers(a2) == []

    # Just before the offer runs out: nothing fires.
    await centre.conn.gateway.GetConversation(
        gateway_pb2.GetConversationRequest(conversation_id=cid), metadata=(when(29.999),)
    )
    await centre.settle()
    assert withdrawals(a1) == [] and offers(a2) == []

    # Far past it: the timeout fires at 30 (not at 45), before the call itself runs.
    response = await centre.conn.gateway.GetConversation(
        gateway_pb2.GetConversationRequest(conversation_id=cid), metadata=(when(45),)
    )
    assert (response.conversation.agent_id, response.conversation.offer_pending) == ("a2", True)
    await centre.settle()
    assert withdrawals(a1) == [(cid, "timed_out")]
    assert offers(a2) == [cid]
    assert seconds(last_offer(a2).expires_at) == 60
    assert entry_at(await centre.conversation(cid), "declined") == 30
    assert await clock(centre) == 45


async def scenario(centre: Centre, move: Any) -> dict:
    """Three agents, two offers running out at different times, then a jump past both:
    `move(t, call)` makes `call` happen at `t` (by AdvanceClock, or by switchboard-at)."""
    for agent in ("a1", "a2", "a3"):
        await centre.signin(agent)
    c1 = (await centre.submit()).conversation_id
    c2 = (
        await move(10, lambda md: centre.conn.gateway.SubmitWork(chat(), metadata=md))
    ).conversation_id
    await centre.settle()
    await move(100, lambda md: centre.conn.admin.GetClock(admin_pb2.GetClockRequest(), metadata=md))
    await centre.settle()
    return {
        "clock": await clock(centre),
        "c1": timeline(await centre.conversation(c1)),
        "c2": timeline(await centre.conversation(c2)),
        # Conversation ids are random: name them c1 and c2.
        "desktops": {
            a: [k.replace(c1, "c1").replace(c2, "c2") for k in kinds(d)]
            for a, d in centre.desktops.items()
        },
        "at": {a: [seconds(m.at) for m in d.messages] for a, d in centre.desktops.items()},
        "agents": {
            a: common_pb2.Presence.Name((await centre.agent(a)).presence) for a in centre.desktops
        },
    }


async def test_timers_crossed_by_switchboard_at_fire_in_order_as_with_advance_clock(
    tmp_path: Path,
) -> None:
    async def by_advance_clock(t: float, call: Any) -> Any:
        await centre.settle(t)
        return await call(())

    async def by_metadata(t: float, call: Any) -> Any:
        return await call((when(t),))

    results = []
    for name, move in (("advance", by_advance_clock), ("at", by_metadata)):
        (tmp_path / name).mkdir()
        h = ServerHarness(tmp_path / name)
        try:
            centre = await Centre.start(h, CONFIG)
            results.append(await scenario(centre, move))
        finally:
            await h.stop()

    advanced, simulated = results
    assert simulated == advanced
    assert simulated["clock"] == 100
    # Each offer ran out at its own time, in order, on the way to 100.
    declined = sorted(
        (at, agent) for kind, at, agent in simulated["c1"] + simulated["c2"] if kind == "declined"
    )
    assert [at for at, _ in declined] == [30, 40, 60]


# --- 3. switchboard-settle: the barrier in the trailing metadata ------------------------


async def test_settle_answers_with_how_far_each_desktop_stream_was_pushed(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2", AWAY)  # connected, but offered nothing
    before = {a: d.last_sequence for a, d in centre.desktops.items()}

    call = centre.conn.gateway.SubmitWork(chat(), metadata=(when(10), (SETTLE_KEY, "1")))
    cid = (await call).conversation_id
    answer = await settled_answer(call)
    assert answer is not None
    assert seconds(answer.now) == 10
    assert set(answer.last_sequences) == {"a1", "a2"}
    assert answer.last_sequences["a2"] == before["a2"]
    assert answer.last_sequences["a1"] > before["a1"]

    await centre.settle()
    # The offer (and the agent update it causes) were pushed before the answer came back:
    # a1 receives exactly up to the reported sequence, and nothing after it.
    assert offers(a1) == [cid] and offers(a2) == []
    offer = next(m for m in a1.messages if m.HasField("offer"))
    assert offer.sequence <= answer.last_sequences["a1"]
    assert a1.last_sequence == answer.last_sequences["a1"]
    assert [m.sequence for m in a1.messages] == list(range(1, answer.last_sequences["a1"] + 1))
    assert a2.last_sequence == answer.last_sequences["a2"]
    # A plain barrier now reports the same: the settled answer was the whole story.
    barrier = await settle(centre.conn, list(centre.desktops.values()))
    assert dict(barrier.last_sequences) == dict(answer.last_sequences)
    assert barrier.desktop_messages_sent == answer.desktop_messages_sent
    assert barrier.now == answer.now


@pytest.mark.parametrize("value", ["1", "true"])
async def test_settle_without_at_settles_at_the_current_time(harness, value) -> None:
    centre = await Centre.start(harness, CONFIG)
    await centre.signin("a1")
    call = centre.conn.gateway.SubmitWork(chat(), metadata=((SETTLE_KEY, value),))
    await call
    answer = await settled_answer(call)
    assert answer is not None
    assert seconds(answer.now) == 0
    assert set(answer.last_sequences) == {"a1"}
    assert answer.timers_fired == 0


async def test_connection_call_and_caught_up_deliver_the_offer_like_the_replay(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2", AWAY)
    desktops = [a1, a2]
    conn = centre.conn
    conn.settle_calls = True
    conn.simulated_time = T0 + 10

    response = await conn.call(conn.gateway.SubmitWork, chat())
    expected = dict(conn.expected)
    assert set(expected) == {"a1", "a2"}
    await caught_up(conn, desktops, timeout=10.0)

    assert offers(a1) == [response.conversation_id]
    offer = next(m for m in a1.messages if m.HasField("offer"))
    assert seconds(offer.at) == 10
    assert offer.sequence <= expected["a1"]
    assert a1.last_sequence == expected["a1"]
    assert [m.sequence for m in a1.messages] == list(range(1, expected["a1"] + 1))
    assert a2.last_sequence == expected["a2"] and offers(a2) == []

    # Nothing was still on its way: a plain barrier reports exactly what the call did.
    conn.settle_calls, conn.simulated_time = False, None
    barrier = await settle(conn, desktops)
    assert dict(barrier.last_sequences) == expected
    assert a1.last_sequence == expected["a1"]


async def test_caught_up_waits_for_what_the_desktops_answers_caused(harness) -> None:
    """As in the replay: a desktop accepts its offer from its message handler, with a
    settled call, and `caught_up` returns only once the assignment has arrived too."""
    centre = await Centre.start(harness, CONFIG)
    conn = centre.conn

    async def accept_offers(desktop: Desktop, message: desktop_pb2.ConnectResponse) -> None:
        if message.HasField("offer"):
            await desktop.accept(message.offer.conversation.id)

    a1 = Desktop(conn, "a1", on_message=accept_offers)
    await a1.connect(AVAILABLE)
    centre.desktops["a1"] = a1
    await centre.settle()

    conn.settle_calls = True
    conn.simulated_time = T0 + 20
    cid = (await conn.call(conn.gateway.SubmitWork, chat())).conversation_id
    await caught_up(conn, [a1], timeout=10.0)

    events = [k for k in kinds(a1) if not k.startswith("agent ")]
    assert events == [f"offer {cid}", f"assignment {cid}"]
    assert a1.last_sequence == conn.expected["a1"]
    conversation = await centre.conversation(cid)
    assert (conversation.state, conversation.agent_id) == (ACTIVE, "a1")
    assert entry_at(conversation, "submitted") == 20


async def test_settle_reports_what_a_crossed_timer_pushed(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2")
    cid = (await centre.submit()).conversation_id
    conn = centre.conn
    conn.settle_calls = True
    conn.simulated_time = T0 + 31
    await conn.call(conn.admin.GetClock, admin_pb2.GetClockRequest())
    await caught_up(conn, [a1, a2], timeout=10.0)
    # Everything the timeout caused is there once caught up: the withdrawal at a1 and the
    # new offer at a2.
    assert withdrawals(a1) == [(cid, "timed_out")]
    assert offers(a2) == [cid]
    assert a1.last_sequence == conn.expected["a1"]
    assert a2.last_sequence == conn.expected["a2"]


# --- 4. bad values -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["soon", "nan", "-5", "inf", "-inf", "1e400", "253402300800", "0x10", ""]
)
async def test_a_bad_switchboard_at_is_invalid_argument_and_changes_nothing(harness, value) -> None:
    centre = await Centre.start(harness, CONFIG)
    await refused(
        centre.conn.gateway.SubmitWork(chat(), metadata=((AT_KEY, value),)), INVALID, AT_KEY
    )
    assert await clock(centre) == 0
    assert await centre.waiting("q1") == []  # the call itself never ran


@pytest.mark.parametrize("value", ["maybe", "2", "yes", "TRUE", ""])
async def test_a_bad_switchboard_settle_is_invalid_argument_and_changes_nothing(
    harness, value
) -> None:
    centre = await Centre.start(harness, CONFIG)
    await refused(
        centre.conn.gateway.SubmitWork(chat(), metadata=(when(100), (SETTLE_KEY, value))),
        INVALID,
        SETTLE_KEY,
    )
    assert await clock(centre) == 0
    assert await centre.waiting("q1") == []


async def test_settle_on_connect_is_invalid_argument(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    call = centre.conn.desktop.Connect(
        desktop_pb2.ConnectRequest(agent_id="a1", presence=AVAILABLE),
        metadata=(when(100), (SETTLE_KEY, "1")),
    )
    await refused(call.read(), INVALID, SETTLE_KEY)
    assert await clock(centre) == 0
    assert (await centre.agent("a1")).presence == OFFLINE
    barrier = await settle(centre.conn, [])
    assert "a1" not in barrier.last_sequences


async def test_settle_on_another_server_stream_is_invalid_argument(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    call = centre.conn.gateway.WatchConversations(
        gateway_pb2.WatchConversationsRequest(), metadata=((SETTLE_KEY, "1"),)
    )
    await refused(call.read(), INVALID, SETTLE_KEY)


async def test_switchboard_at_on_a_system_clock_server_is_failed_precondition(harness) -> None:
    conn = await harness.start(CONFIG, manual_clock=False)
    assert not (await conn.admin.GetClock(admin_pb2.GetClockRequest())).manual
    await refused(
        conn.gateway.SubmitWork(chat(), metadata=((AT_KEY, repr(T0 + 5)),)),
        grpc.StatusCode.FAILED_PRECONDITION,
        AT_KEY,
    )
    queue = await conn.supervisor.GetQueue(supervisor_pb2.GetQueueRequest(queue_id="q1"))
    assert list(queue.queue.waiting_ids) == []  # the call itself never ran


# --- 5. a request that does not parse never moves the clock -------------------------


@pytest.mark.parametrize(
    "method",
    [
        "/switchboard.v1.GatewayService/SubmitWork",
        "/switchboard.v1.AdminService/GetClock",
        "/switchboard.v1.AdminService/AdvanceClock",
        "/switchboard.v1.DesktopService/AcceptOffer",
    ],
)
@pytest.mark.parametrize("settle_too", [False, True])
async def test_a_malformed_request_carrying_switchboard_at_leaves_the_clock_alone(
    harness, method, settle_too
) -> None:
    centre = await Centre.start(harness, CONFIG)
    a1 = await centre.signin("a1")
    cid = (await centre.submit()).conversation_id  # its offer runs out at 30
    metadata = (when(100), (SETTLE_KEY, "1")) if settle_too else (when(100),)
    raw = centre.conn.channel.unary_unary(
        method, request_serializer=None, response_deserializer=None
    )
    await refused(raw(GARBAGE, metadata=metadata), INVALID, "not a valid protobuf message")
    assert await clock(centre) == 0
    await centre.settle()
    assert withdrawals(a1) == [] and offers(a1) == [cid]  # no timer fired


async def test_a_malformed_connect_carrying_switchboard_at_leaves_the_clock_alone(
    harness,
) -> None:
    centre = await Centre.start(harness, CONFIG)
    raw = centre.conn.channel.unary_stream(
        "/switchboard.v1.DesktopService/Connect",
        request_serializer=None,
        response_deserializer=None,
    )
    call = raw(GARBAGE, metadata=(when(100),))
    await refused(call.read(), INVALID, "not a valid protobuf message")
    assert await clock(centre) == 0


# --- 6. calls without the metadata go through untouched -------------------------------


async def test_calls_without_the_metadata_are_answered_as_before(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    a1 = await centre.signin("a1")

    call = centre.conn.gateway.SubmitWork(chat())
    cid = (await call).conversation_id
    assert await settled_answer(call) is None
    assert await clock(centre) == 0

    # Unrelated metadata changes nothing either.
    call = centre.conn.gateway.GetConversation(
        gateway_pb2.GetConversationRequest(conversation_id=cid),
        metadata=(("x-switchboard-at", "5000"), ("switchboard-at-later", "5000")),
    )
    assert (await call).conversation.id == cid
    assert await settled_answer(call) is None
    assert await clock(centre) == 0

    # A plain Connection.call sends nothing and hears nothing.
    conn = centre.conn
    response = await conn.call(conn.admin.GetClock, admin_pb2.GetClockRequest())
    assert seconds(response.now) == 0 and conn.expected == {}

    # Timers still need AdvanceClock.
    await centre.settle()
    assert withdrawals(a1) == []
    await centre.settle(30)
    assert withdrawals(a1) == [(cid, "timed_out")]


@pytest.mark.parametrize("value", ["0", "false"])
async def test_settle_turned_off_answers_as_before(harness, value) -> None:
    centre = await Centre.start(harness, CONFIG)
    await centre.signin("a1")
    call = centre.conn.gateway.SubmitWork(chat(), metadata=((SETTLE_KEY, value),))
    assert (await call).conversation_id
    assert await settled_answer(call) is None
    assert await clock(centre) == 0


async def test_a_refused_call_with_settle_carries_no_settled_answer(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    call = centre.conn.gateway.SubmitWork(
        gateway_pb2.SubmitWorkRequest(work_stream_id="no-such-stream"),
        metadata=((SETTLE_KEY, "1"),),
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() != grpc.StatusCode.OK
    assert SETTLED_KEY not in dict(info.value.trailing_metadata() or ())


# --- a time a simulated call moved to is the server's time, also after a crash ---------


def serve(tmp_path: Path, db: Path, name: str) -> tuple[subprocess.Popen, Path]:
    return serve_manual(tmp_path, db, name, CONFIG)


async def server_time(conn: Connection) -> float:
    now = (await conn.admin.GetClock(admin_pb2.GetClockRequest())).now
    return now.seconds + now.nanos / 1e9


MOVES = {
    # How the clock is moved to 5000 before the crash: the answer says it is 5000 by then.
    "AdvanceClock": lambda conn: conn.admin.AdvanceClock(
        admin_pb2.AdvanceClockRequest(to=Timestamp(seconds=5000))
    ),
    "SubmitWork at": lambda conn: conn.gateway.SubmitWork(chat(), metadata=((AT_KEY, "5000.0"),)),
    "GetClock at": lambda conn: conn.admin.GetClock(
        admin_pb2.GetClockRequest(), metadata=((AT_KEY, "5000.0"),)
    ),
    "GetClock at, settled": lambda conn: conn.admin.GetClock(
        admin_pb2.GetClockRequest(), metadata=((AT_KEY, "5000.0"), (SETTLE_KEY, "1"))
    ),
}


@pytest.mark.parametrize("move", list(MOVES))
async def test_the_time_a_call_was_answered_at_survives_a_restart(harness, tmp_path, move) -> None:
    db = tmp_path / "journal.db"
    centre = await Centre.start(harness, CONFIG, db=str(db))
    await MOVES[move](centre.conn)
    assert await server_time(centre.conn) == 5000
    await harness.stop()  # a clean stop: everything answered is on disk
    centre = await Centre.start(harness, CONFIG, db=str(db))
    assert await server_time(centre.conn) == 5000, "the clock went back after the restart"


@pytest.mark.parametrize("move", ["AdvanceClock", "SubmitWork at", "GetClock at"])
async def test_the_time_a_call_was_answered_at_survives_a_crash(tmp_path, move) -> None:
    db = tmp_path / "journal.db"
    with children() as procs:
        first, port_file = serve(tmp_path, db, "first")
        procs.append(first)
        conn = await started(first, port_file)
        try:
            await MOVES[move](conn)
            assert await server_time(conn) == 5000
        finally:
            await conn.close()
        first.kill()  # a crash: nothing more is written
        await asyncio.to_thread(first.wait, 10)

        second, port_file = serve(tmp_path, db, "second")
        procs.append(second)
        conn = await started(second, port_file)
        try:
            assert await server_time(conn) == 5000, "the clock went back after the crash"
        finally:
            await conn.close()
