"""Attacks on simulated calls and on the journal's new commit paths.

Simulated calls (server/simulation.py, server/clock_control.py): any call to a manual-clock
server may carry `switchboard-at` (move the clock there first) and `switchboard-settle`
(answer once settled, with `switchboard-settled-bin`). The journal (server/storage.py)
commits small batches on the event loop, large ones on its writer thread, checkpoints every
CHECKPOINT_ROWS rows (automatic checkpoints are off), retries a failed commit after RETRY_S,
and journals a simulated call's clock move with the call's next commit.

The properties attacked: the clock after a restart is never earlier than a time a call was
answered at; nothing acknowledged is lost to SIGKILL; a failed commit that is retried
writes what the engine did, no more; timers crossed by racing calls fire once each, in time
order; desktop streams stay gapless whichever path their messages were committed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import resource
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2
from switchboard.actors.conversation import TimelineEntry
from switchboard.clients.connection import Connection, Desktop, caught_up
from switchboard.server import storage as storage_module
from switchboard.server.storage import Storage
from switchboard.v1 import admin_pb2, common_pb2, gateway_pb2, supervisor_pb2

from tests.attack.procs import children, serve_manual, started
from tests.integration.support import AVAILABLE, T0, Centre, offers

AT_KEY = "switchboard-at"
SETTLE_KEY = "switchboard-settle"
SETTLED_KEY = "switchboard-settled-bin"

CLOSED = common_pb2.CONVERSATION_STATE_CLOSED

# Queued work closes itself 100 s after it was submitted: every submit arms one timer.
QUEUED = """
work_streams:
  - {id: chat, channel: chat, fallback_queue: q1, offer_timeout_s: 30, auto_close: {open: 100}}
queues:
  - {id: q1, members: [a1]}
agents:
  - {id: a1, capacity: 1}
"""


def secs(ts: Any) -> float:
    # Rounded to the nanosecond a Timestamp holds: 1 + 735_000_000 / 1e9 is one ulp short of
    # 1.735, which would read as the clock going back.
    return round(ts.seconds + ts.nanos / 1e9, 9)


def at(t: float) -> tuple[str, str]:
    return (AT_KEY, f"{t:.6f}")  # plain decimals, as the server takes them


def chat(**fields: Any) -> gateway_pb2.SubmitWorkRequest:
    return gateway_pb2.SubmitWorkRequest(work_stream_id="chat", **fields)


async def clock(conn: Connection) -> float:
    return secs((await conn.admin.GetClock(admin_pb2.GetClockRequest())).now)


async def settled_answer(call: Any) -> admin_pb2.AdvanceClockResponse | None:
    found = [v for k, v in await call.trailing_metadata() or () if k == SETTLED_KEY]
    return admin_pb2.AdvanceClockResponse.FromString(found[0]) if found else None


# --- real servers in child processes ------------------------------------------------------


def serve(
    tmp_path: Path, db: Path, name: str, config: str = QUEUED, **kwargs: Any
) -> tuple[subprocess.Popen, Path]:
    return serve_manual(tmp_path, db, name, config, log_level="error", **kwargs)


async def queue_many(conn: Connection) -> None:
    """1,000 queued conversations, submitted at 0.05 .. 50: their auto-closes fall due at
    100.05 .. 150, none of them yet."""
    for start in range(1, 1001, 250):
        times = [i * 0.05 for i in range(start, start + 250)]
        await asyncio.gather(*(conn.gateway.SubmitWork(chat(), metadata=(at(t),)) for t in times))


async def crash(process: subprocess.Popen, conn: Connection | None = None) -> None:
    process.kill()
    await asyncio.to_thread(process.wait, 10)
    if conn is not None:
        await conn.close()


# --- 1. the time a call was answered at survives a crash ----------------------------------


async def _refused_submit(conn: Connection, metadata: tuple) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(work_stream_id="no-such-stream"), metadata=metadata
        )
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def _health_check(conn: Connection, metadata: tuple) -> None:
    check = conn.channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )
    # Without switchboard-settle: settling commits the journal before answering.
    answer = await check(health_pb2.HealthCheckRequest(), metadata=metadata[:1])
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize(
    "answered", [_refused_submit, _health_check], ids=["refused SubmitWork", "Health.Check"]
)
async def test_a_simulated_call_is_not_answered_before_its_clock_move_is_committed(
    tmp_path, answered
) -> None:
    """A call carrying switchboard-at happens at that time "whatever its answer, so a refused
    call has still moved the clock" (README): it is answered at the new time, after the
    timers on the way fired. A crash right after the answer must not take the clock back.
    Two answers that skip the journal: a refusal (`errors.unary` aborts before `synced()`)
    and a service that is not Switchboard's own (the health check; the interceptor moves the
    clock for every unary call)."""
    db = tmp_path / "j.db"
    with children() as procs:
        first, port_file = serve(tmp_path, db, "first")
        procs.append(first)
        conn = await started(first, port_file)
        cid = (await conn.gateway.SubmitWork(chat())).conversation_id  # auto-closes at 100
        await answered(conn, (at(5000), (SETTLE_KEY, "1")))
        await crash(first, conn)  # nothing else was called: that answer was the last

        second, port_file = serve(tmp_path, db, "second")
        procs.append(second)
        conn = await started(second, port_file)
        try:
            closed = (
                await conn.gateway.GetConversation(
                    gateway_pb2.GetConversationRequest(conversation_id=cid)
                )
            ).conversation
            now = await clock(conn)
        finally:
            await conn.close()
        # The auto-close at 100, fired on the way to 5000, is in the journal ...
        assert closed.state == CLOSED and secs(closed.timeline[-1].at) == 100
        # ... but the time the call was answered at is not.
        assert now >= 5000, (
            f"the clock went back to {now} after the crash, although a call carrying "
            f"{AT_KEY}: 5000 was answered and the journal holds a conversation closed at 100 "
            "on the way there"
        )


async def test_a_call_answered_during_a_long_clock_move_is_not_undone_by_a_crash(
    tmp_path,
) -> None:
    """While one call moves the clock across many timers, other calls are answered at the
    times in between (they run while the engine settles after each timer). The journal only
    learns the new time once the move is over: a crash before that takes the clock back to
    before times already answered."""
    db = tmp_path / "j.db"
    with children() as procs:
        first, port_file = serve(tmp_path, db, "first")
        procs.append(first)
        conn = await started(first, port_file)
        await queue_many(conn)
        assert await clock(conn) == 50
        mover = asyncio.ensure_future(
            conn.admin.GetClock(admin_pb2.GetClockRequest(), metadata=(at(1_000_000),))
        )
        answered = 50.0
        while not mover.done() and answered <= 100:
            answered = await clock(conn)  # a plain call, answered between two timers
        assert not mover.done(), "the move ended before a call could be answered inside it"
        assert 100 < answered < 1_000_000
        await crash(first, conn)
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.CancelledError):
            await mover

        second, port_file = serve(tmp_path, db, "second")
        procs.append(second)
        conn = await started(second, port_file)
        try:
            now = await clock(conn)
        finally:
            await conn.close()
        assert now >= answered, (
            f"GetClock answered {answered} while a switchboard-at call was moving the clock; "
            f"after a crash the server's time is {now}"
        )


# --- 2. a failed commit, retried ---------------------------------------------------------


class FlakyDisk:
    """Wraps a Storage's commit (`_write`, on the loop or the writer thread) so that a test
    can make commits fail as a full disk does, and hold one commit on the writer thread
    until it says so (to decide what is handed over while that commit is in flight)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.real = storage._write
        self.loop = asyncio.get_running_loop()
        self.full = False
        self.failures = 0
        self.hold_if: Any = None  # a predicate on the batch: hold that commit on the thread
        self.held = asyncio.Event()  # set once a commit is held
        self.go_on = threading.Event()
        self.failed_after_hold = asyncio.Event()  # set once the held commit has failed
        storage._write = self.write  # this instance only; the class is untouched

    def write(self, batch: Any) -> int:
        on_thread = threading.current_thread() is not threading.main_thread()
        held = on_thread and self.hold_if is not None and self.hold_if(batch)
        if held:
            self.hold_if = None
            self.loop.call_soon_threadsafe(self.held.set)
            self.go_on.wait(10)
        if self.full:
            self.failures += 1
            if held:
                self.loop.call_soon_threadsafe(self.failed_after_hold.set)
            raise sqlite3.OperationalError("database or disk is full")
        return self.real(batch)


async def test_a_let_go_handed_over_during_a_retried_commit_is_not_undone(
    harness, tmp_path
) -> None:
    """The disk is full: an agent's accept is committed in a batch that fails and is retried
    on the writer thread. While that retry is in flight the agent releases the conversation
    (`let_go`, in the next batch). The retry fails too and the two batches are merged
    (`_Batch.then`); once the disk has room the merged batch is committed. The release must
    win: after a restart the conversation waits in its queue and the agent holds nothing."""
    db = tmp_path / "j.db"
    config = """
settings: {reconnect_grace_s: 600}
work_streams:
  - {id: chat, channel: chat, fallback_queue: q1, offer_timeout_s: 300, wrap_up: none}
queues:
  - {id: q1, members: [a1]}
agents:
  - {id: a1, capacity: 2}
"""
    centre = await Centre.start(harness, config, db=str(db))
    a1 = await centre.signin("a1")
    cid = (await centre.submit()).conversation_id
    assert offers(a1) == [cid]
    disk = FlakyDisk(harness.running.storage)
    disk.full = True
    # Hold the first retry that carries the accept (the agent's "I hold it" row). A retry,
    # not the first try: that one may go to the writer thread too (on a busy machine the
    # server does not look quiet), and must fail first.
    disk.hold_if = lambda batch: cid in batch.agent_work and disk.failures >= 1
    accepting = asyncio.create_task(a1.accept(cid))
    await asyncio.wait_for(disk.held.wait(), 10)
    assert disk.failures >= 1 and not accepting.done()  # not answered: nothing committed

    handed_over = asyncio.Event()
    let_go = harness.running.storage.let_go

    def let_go_seen(agent_id: str, conversation_id: str) -> None:
        let_go(agent_id, conversation_id)
        if conversation_id == cid:
            handed_over.set()

    harness.running.storage.let_go = let_go_seen
    releasing = asyncio.create_task(a1.release(cid))
    await asyncio.wait_for(handed_over.wait(), 10)
    disk.go_on.set()  # the held retry fails (the disk is still full): merged with the next
    await asyncio.wait_for(disk.failed_after_hold.wait(), 10)
    disk.full = False  # room again: the merged batch goes out at the next retry
    await asyncio.wait_for(asyncio.gather(accepting, releasing), 10)
    await centre.settle()
    status = await centre.agent("a1")
    assert list(status.conversation_ids) == [] and await centre.waiting("q1") == [cid]

    await harness.stop()
    centre = await Centre.start(harness, config, db=str(db))
    status = await centre.agent("a1")
    conversation = await centre.conversation(cid)
    waiting = await centre.waiting("q1")
    assert (list(status.conversation_ids), waiting) == ([], [cid]), (
        f"after the restart a1 holds {list(status.conversation_ids)} and q1 has {waiting} "
        f"waiting; the conversation says "
        f"{common_pb2.ConversationState.Name(conversation.state)} with "
        f"{conversation.agent_id!r}. a1 released {cid} before the restart, and the release "
        "was answered OK (so it was committed)"
    )


async def test_a_gateway_watch_hears_of_nothing_the_journal_could_not_commit(
    harness, tmp_path
) -> None:
    """storage.py: "Nothing a client is told goes out before the records behind it are
    committed". With the disk full a submit is not answered; a gateway watching the work
    stream must not be told of the conversation either (a crash now would undo it)."""
    centre = await Centre.start(harness, QUEUED, db=str(tmp_path / "j.db"))
    watch = centre.conn.gateway.WatchConversations(gateway_pb2.WatchConversationsRequest())
    assert (await watch.read()).kind == "watching"
    disk = FlakyDisk(harness.running.storage)
    disk.full = True
    submitting = asyncio.ensure_future(centre.conn.gateway.SubmitWork(chat()))
    hearing = asyncio.ensure_future(watch.read())
    done, _ = await asyncio.wait(
        {hearing, submitting}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED
    )
    told_while_full = hearing.result() if hearing in done else None
    assert submitting not in done  # not answered: nothing could be committed
    disk.full = False
    response = await asyncio.wait_for(submitting, 10)
    event = told_while_full or await asyncio.wait_for(hearing, 10)
    watch.cancel()
    assert event.conversation_id == response.conversation_id
    assert told_while_full is None, (
        f"the watch was told {told_while_full.kind!r} for {told_while_full.conversation_id} "
        f"while no commit could succeed ({disk.failures} failed); the submit itself was not "
        "answered until the disk had room"
    )


# --- 3. simulated calls racing each other and AdvanceClock --------------------------------


async def test_racing_simulated_calls_fire_each_timer_once_in_time_order(harness) -> None:
    """Calls at once (150, then 100 more), each moving the clock somewhere else
    (switchboard-at on submits, reads, refused calls, settled calls, and plain AdvanceClock),
    across 200 armed timers and the new ones the racing submits arm. Every timer due by the
    latest time fires once, at its own time, in time order; none after it fires; the clock
    ends at the latest time."""
    centre = await Centre.start(harness, QUEUED)
    conn = centre.conn
    cids = [
        (await conn.gateway.SubmitWork(chat(), metadata=(at(T0 + 1 + 0.45 * i),))).conversation_id
        for i in range(200)
    ]  # their auto-closes fall due at T0+101 .. T0+190.55: none has fired yet
    watch = conn.gateway.WatchConversations(
        gateway_pb2.WatchConversationsRequest(work_stream_ids=["chat"])
    )
    assert (await watch.read()).kind == "watching"

    rng = random.Random(20261203)
    # Two rounds: the second crosses the timers the first round's submits armed.
    targets = [round(T0 + rng.uniform(150, 400), 6) for _ in range(150)]
    targets += [round(T0 + rng.uniform(400, 700), 6) for _ in range(100)]

    async def one(i: int, target: float) -> tuple[str, Any]:
        kind = i % 5
        if kind == 0:
            r = await conn.gateway.SubmitWork(chat(), metadata=(at(target),))
            return "submitted", r.conversation_id
        if kind == 1:
            call = conn.admin.GetClock(
                admin_pb2.GetClockRequest(), metadata=(at(target), (SETTLE_KEY, "1"))
            )
            await call
            return "settled", await settled_answer(call)
        if kind == 2:
            seconds, fraction = divmod(target, 1)
            await conn.admin.AdvanceClock(
                admin_pb2.AdvanceClockRequest(
                    to=Timestamp(seconds=int(seconds), nanos=int(fraction * 1e9))
                )
            )
            return "advanced", None
        if kind == 3:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await conn.admin.UpsertAgent(
                    admin_pb2.UpsertAgentRequest(agent_id=""), metadata=(at(target),)
                )
            return "refused", info.value.code()
        r = await conn.admin.GetClock(admin_pb2.GetClockRequest(), metadata=(at(target),))
        return "read", secs(r.now)

    first = await asyncio.wait_for(
        asyncio.gather(*(one(i, t) for i, t in enumerate(targets[:150]))), 30
    )
    second = await asyncio.wait_for(
        asyncio.gather(*(one(i, t) for i, t in enumerate(targets[150:], 150))), 30
    )
    results = first + second
    latest = max(targets)
    assert await clock(conn) == pytest.approx(latest, abs=1e-6)
    for i, (what, value) in enumerate(results):
        if what == "settled":
            assert value is not None and secs(value.now) >= targets[i] - 1e-6
        if what == "refused":
            assert value == grpc.StatusCode.INVALID_ARGUMENT
        if what == "read":
            assert value >= targets[i] - 1e-6  # it happened at its time, or later
    cids += [value for what, value in results if what == "submitted"]

    due: dict[str, float] = {}
    for cid in cids:
        conversation = (
            await conn.gateway.GetConversation(
                gateway_pb2.GetConversationRequest(conversation_id=cid)
            )
        ).conversation
        submitted = [secs(e.at) for e in conversation.timeline if e.kind == "submitted"]
        closed = [secs(e.at) for e in conversation.timeline if e.kind == "closed"]
        assert len(submitted) == 1
        if submitted[0] + 100 <= latest + 1e-6:
            assert closed == [pytest.approx(submitted[0] + 100)], (cid, closed)
            assert conversation.close_reason == "auto_close_open"
            due[cid] = submitted[0] + 100
        else:
            assert closed == [] and conversation.state != CLOSED, (cid, submitted, latest)
    assert len(due) > 200  # some of the racing submits' timers fell due too

    # The gateway watch heard each closure once, in time order.
    heard: list[tuple[float, str]] = []
    while len(heard) < len(due):
        event = await asyncio.wait_for(watch.read(), 10)
        if event.kind == "closed":
            heard.append((secs(event.at), event.conversation_id))
    watch.cancel()
    assert sorted(cid for _, cid in heard) == sorted(due)
    times = [t for t, _ in heard]
    assert times == sorted(times), "timers fired out of time order"


# --- 4. odd metadata values ---------------------------------------------------------------


async def test_long_and_illegal_metadata_values_are_refused_and_change_nothing(harness) -> None:
    centre = await Centre.start(harness, QUEUED)
    conn = centre.conn
    refused = {
        "5,000 digits": ((AT_KEY, "1" * 5000),),
        "16 digits": ((AT_KEY, "1" * 16),),
        "10 decimals": ((AT_KEY, "2000.0123456789"),),
        "padded": ((AT_KEY, " 2000 "),),
        "past 9999-12-31": ((AT_KEY, "253402300800"),),
        "settle, 5,000 characters": ((SETTLE_KEY, "1" * 5000),),
    }
    for name, metadata in refused.items():
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await conn.gateway.SubmitWork(chat(), metadata=metadata)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
        assert len(info.value.details()) < 400, name  # the value is quoted, cut short
    # Over gRPC's own metadata limit: refused by the transport, the server carries on.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await conn.gateway.SubmitWork(chat(), metadata=((AT_KEY, "1" * 200_000),))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # A binary key of a similar name is not the key.
    await conn.gateway.SubmitWork(chat(), metadata=((AT_KEY + "-bin", b"5000"),))
    assert await clock(conn) == T0
    assert len(await centre.waiting("q1")) == 1  # only the last submit ran
    # And the server still works, with and without the keys.
    call = conn.gateway.SubmitWork(chat(), metadata=(at(T0 + 10), (SETTLE_KEY, "true")))
    await call
    assert secs((await settled_answer(call)).now) == T0 + 10


@pytest.mark.parametrize(
    "metadata",
    [((AT_KEY, "soon"), (AT_KEY, "2000")), ((SETTLE_KEY, "maybe"), (SETTLE_KEY, "1"))],
    ids=["a bad time, then a good one", "a bad settle, then a good one"],
)
async def test_a_bad_value_is_refused_even_beside_a_good_copy_of_the_key(harness, metadata) -> None:
    """README: "A bad value is INVALID_ARGUMENT". Metadata keys may repeat; the interceptor
    reads only the last copy (`_keys` in simulation.py), so a bad value followed by a good one
    is silently ignored and the call runs."""
    centre = await Centre.start(harness, QUEUED)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await centre.conn.gateway.SubmitWork(chat(), metadata=metadata)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await centre.waiting("q1") == []
    assert await clock(centre.conn) == T0


async def test_a_clock_moved_near_9999_12_31_does_not_stop_the_journal(tmp_path) -> None:
    """switchboard-at takes any time up to 9999-12-31T23:59:59. Moved 10 s short of it, an
    offer is made that expires 30 s later, past what a protobuf Timestamp holds: the server
    must keep answering (refuse the work, or the time, but not stop)."""
    config = """
work_streams:
  - {id: chat, channel: chat, fallback_queue: q1, offer_timeout_s: 30}
queues:
  - {id: q1, members: [a1]}
agents:
  - {id: a1, capacity: 1}
"""
    db = tmp_path / "j.db"
    with children() as procs:
        process, port_file = serve(tmp_path, db, "far", config)
        procs.append(process)
        conn = await started(process, port_file)
        try:
            a1 = Desktop(conn, "a1")
            await a1.connect(AVAILABLE)
            late = 253_402_300_789  # 9999-12-31T23:59:49
            await conn.admin.GetClock(admin_pb2.GetClockRequest(), metadata=((AT_KEY, str(late)),))
            with contextlib.suppress(grpc.aio.AioRpcError):  # refusing it would be fine
                await conn.gateway.SubmitWork(chat(), timeout=3)
            try:
                now = secs((await conn.admin.GetClock(admin_pb2.GetClockRequest(), timeout=3)).now)
            except grpc.aio.AioRpcError as exc:
                pytest.fail(
                    f"after an offer at {late} the server stopped answering: GetClock got "
                    f"{exc.code().name}; its log says: {await _last_error(process)}"
                )
            assert now >= late - 1
        finally:
            await conn.close()


async def _last_error(process: subprocess.Popen) -> str:
    process.kill()
    await asyncio.to_thread(process.wait, 10)
    lines = [line for line in process.stderr.read().splitlines() if "write_failed" in line]
    return f"{len(lines)} x {lines[-1].strip()}" if lines else "(nothing)"


# --- 5. one call crossing thousands of timers ---------------------------------------------


async def test_a_call_crossing_thousands_of_timers_leaves_the_server_responsive(harness) -> None:
    """4,000 queued conversations, each with its auto-close timer; one settled call jumps
    past all of them. Meanwhile other calls (plain submits and reads) keep being answered
    promptly, the call fires every timer once, and the server ends where it should."""
    centre = await Centre.start(harness, QUEUED)
    conn = centre.conn
    engine = harness.running.centre
    cids = [engine.submit("chat")[0] for _ in range(4000)]  # all at T0: due at T0+100
    await harness.running.dispatcher.settled()
    await harness.running.storage.synced()

    jump = conn.admin.GetClock(
        admin_pb2.GetClockRequest(), metadata=(at(T0 + 86_400), (SETTLE_KEY, "1"))
    )
    jumping = asyncio.ensure_future(jump)
    slowest, answered = 0.0, 0
    while not jumping.done():
        started_at = time.perf_counter()
        await asyncio.wait_for(conn.gateway.SubmitWork(chat()), 5)
        await asyncio.wait_for(clock(conn), 5)
        slowest = max(slowest, time.perf_counter() - started_at)
        answered += 1
    await asyncio.wait_for(jumping, 30)
    answer = await settled_answer(jump)
    assert answer is not None and secs(answer.now) == T0 + 86_400
    assert answered > 0 and slowest < 2.0, (answered, slowest)
    # Everything queued before the jump closed itself, once, at its own time.
    assert answer.timers_fired >= len(cids)
    waiting = set(await centre.waiting("q1"))
    assert not waiting & set(cids)
    for cid in cids[:: len(cids) // 20]:
        conversation = (
            await conn.gateway.GetConversation(
                gateway_pb2.GetConversationRequest(conversation_id=cid)
            )
        ).conversation
        assert [secs(e.at) for e in conversation.timeline if e.kind == "closed"] == [T0 + 100]
    assert await clock(conn) == T0 + 86_400


async def test_sigterm_during_a_long_simulated_call_stops_cleanly_and_keeps_the_time(
    tmp_path,
) -> None:
    """SIGTERM while a settled call is moving the clock across 1,000 timers: the server
    finishes (or refuses) the call within its grace, exits 0, and restarts at a time no
    earlier than any it answered at."""
    db = tmp_path / "j.db"
    with children() as procs:
        first, port_file = serve(tmp_path, db, "first")
        procs.append(first)
        conn = await started(first, port_file)
        await queue_many(conn)
        mover = asyncio.ensure_future(
            conn.admin.GetClock(
                admin_pb2.GetClockRequest(), metadata=(at(1_000_000), (SETTLE_KEY, "1"))
            )
        )
        answered = 50.0
        while not mover.done() and answered <= 100:
            answered = await clock(conn)
        first.send_signal(signal.SIGTERM)  # in the middle of the move
        try:
            await asyncio.wait_for(mover, 15)
            moved = True
        except grpc.aio.AioRpcError as exc:
            assert exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), exc
            moved = False
        code = await asyncio.to_thread(first.wait, 15)
        assert code == 0, first.stderr.read()[-2000:]
        await conn.close()

        second, port_file = serve(tmp_path, db, "second")
        procs.append(second)
        conn = await started(second, port_file)
        try:
            now = await clock(conn)
            queue = await conn.supervisor.GetQueue(supervisor_pb2.GetQueueRequest(queue_id="q1"))
        finally:
            await conn.close()
        assert now >= answered
        if moved:
            assert now == 1_000_000 and list(queue.queue.waiting_ids) == []


# --- 6. SIGKILL at random moments during bursts -------------------------------------------


async def test_sigkill_during_bursts_of_simulated_submits_loses_nothing_acknowledged(
    tmp_path,
) -> None:
    """Bursts of 500 concurrent submits (large batches, committed on the writer thread)
    beside a steady stream of single ones (small batches, committed on the loop), each with
    a client key and a switchboard-at time, some settled; SIGKILL at a random moment, three
    times. Every submit answered OK is there after the restart (once, under its key), and
    the clock is never earlier than a time a call was answered at."""
    rng = random.Random(31337)
    db = tmp_path / "j.db"
    acked: dict[str, str] = {}  # client key -> conversation id
    requests: dict[str, gateway_pb2.SubmitWorkRequest] = {}
    answered_at = 0.0  # the latest time a submit was answered at
    n = 0

    async def submit(conn: Connection, settle: bool) -> None:
        nonlocal n, answered_at
        n += 1
        key, t = f"k{n}", round(1 + n * 0.001, 3)  # no auto-close falls due (100 s)
        requests[key] = chat(client_key=key, customer=common_pb2.Customer(id=f"c{n}"))
        metadata = (at(t), (SETTLE_KEY, "1")) if settle else (at(t),)
        r = await conn.gateway.SubmitWork(requests[key], metadata=metadata, timeout=10)
        acked[key] = r.conversation_id
        answered_at = max(answered_at, t)

    async def steady(conn: Connection) -> None:
        while True:
            await submit(conn, rng.random() < 0.3)

    async def check(conn: Connection) -> None:
        assert await clock(conn) >= answered_at, "the clock went back to before an answer"
        waiting = list((await conn.supervisor.GetQueue(
            supervisor_pb2.GetQueueRequest(queue_id="q1"))).queue.waiting_ids)  # fmt: skip
        missing = set(acked.values()) - set(waiting)
        assert not missing, f"{len(missing)} acknowledged submits lost, e.g. {sorted(missing)[:3]}"
        # Those whose answer the crash lost are retried under their key: created at most once.
        lost = [k for k in requests if k not in acked]
        retried = await asyncio.gather(*(conn.gateway.SubmitWork(requests[k]) for k in lost))
        acked.update((k, r.conversation_id) for k, r in zip(lost, retried, strict=True))
        sample = rng.sample(sorted(acked), min(300, len(acked)))
        again = await asyncio.gather(*(conn.gateway.SubmitWork(requests[k]) for k in sample))
        assert [r.conversation_id for r in again] == [acked[k] for k in sample]
        waiting = list((await conn.supervisor.GetQueue(
            supervisor_pb2.GetQueueRequest(queue_id="q1"))).queue.waiting_ids)  # fmt: skip
        assert sorted(waiting) == sorted(acked.values()), "a key made two conversations"

    with children() as procs:
        for cycle in range(4):
            process, port_file = serve(tmp_path, db, f"run{cycle}")
            procs.append(process)
            conn = await started(process, port_file)
            if cycle:
                await check(conn)
            if cycle == 3:
                await conn.close()
                break
            tasks = [asyncio.create_task(steady(conn)) for _ in range(8)]
            burst = asyncio.gather(
                *(submit(conn, False) for _ in range(500)), return_exceptions=True
            )
            await asyncio.sleep(rng.uniform(0.05, 0.6))  # a random moment: SIGKILL
            await crash(process)
            await asyncio.gather(burst, *tasks, return_exceptions=True)
            await conn.close()
    assert len(acked) > 1000


# --- 7. a full disk under simulated calls -------------------------------------------------


async def test_a_full_disk_answers_no_simulated_call_until_its_time_is_committed(
    tmp_path,
) -> None:
    """RLIMIT_FSIZE on the child: the journal's files cannot grow past 1 MB. Submits with
    switchboard-at (small batches: committed on the loop) go through until the limit; from
    then on nothing is answered, neither a submit nor a call that only moves the clock.
    Once the limit is lifted both are answered, and after a SIGKILL everything answered is
    there, at a time no earlier than it was answered at."""
    limit = 1_000_000
    db = tmp_path / "full.db"
    config = """
work_streams:
  - {id: chat, channel: chat, fallback_queue: q1}
queues:
  - {id: q1, members: [a1]}
agents:
  - {id: a1, capacity: 1}
"""

    acked: dict[str, str] = {}
    with children() as procs:
        process, port_file = serve(tmp_path, db, "full", config, file_size_limit=limit)
        procs.append(process)
        conn = await started(process, port_file)
        stuck = None
        for i in range(3000):
            request = chat(context={"k": "x" * 1000}, client_key=f"k{i}")
            try:
                r = await conn.gateway.SubmitWork(
                    request, metadata=(at(1 + i * 0.01), (SETTLE_KEY, "1")), timeout=1.0
                )
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED, exc
                stuck = request
                break
            acked[request.client_key] = r.conversation_id
        assert stuck is not None, "the journal never reached the limit"
        assert len(acked) > 10
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await conn.admin.GetClock(admin_pb2.GetClockRequest(), metadata=(at(500),), timeout=1.0)
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # 500 is not on disk
        try:
            resource.prlimit(
                process.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
            )
        except (PermissionError, AttributeError):
            pytest.skip("cannot lift the file size limit of the child here")
        r = await conn.gateway.SubmitWork(stuck, timeout=10)
        acked[stuck.client_key] = r.conversation_id
        call = conn.admin.GetClock(
            admin_pb2.GetClockRequest(), metadata=(at(600), (SETTLE_KEY, "1")), timeout=10
        )
        assert secs((await call).now) == 600
        assert secs((await settled_answer(call)).now) == 600
        await crash(process, conn)

        second, port_file = serve(tmp_path, db, "again", config)
        procs.append(second)
        conn = await started(second, port_file)
        try:
            assert await clock(conn) >= 600
            waiting = (
                await conn.supervisor.GetQueue(supervisor_pb2.GetQueueRequest(queue_id="q1"))
            ).queue.waiting_ids
            assert sorted(waiting) == sorted(acked.values())  # each once, nothing more
        finally:
            await conn.close()


# --- 8. checkpoints keep the WAL bounded --------------------------------------------------


async def test_many_small_commits_keep_the_wal_file_bounded(tmp_path) -> None:
    """Automatic checkpoints are off; a checkpoint runs every CHECKPOINT_ROWS rows instead.
    Over a long run of small commits (one timeline row and the clock each, on the loop, as a
    replay makes them), with now and then a large batch (on the writer thread), the WAL file
    must stop growing once checkpoints run: it is reused from its start, not appended to
    for ever. Measured from outside: the file's size, every 100 commits."""
    storage = Storage(tmp_path / "wal.db")
    await storage.open()
    wal = tmp_path / "wal.db-wal"
    sizes: list[tuple[int, int]] = []  # (rows handed over so far, WAL size)
    rows = 0
    i = 0
    try:
        while rows < 5 * storage_module.CHECKPOINT_ROWS:
            i += 1
            if i % 500 == 0:  # a large batch, past INLINE_RECORDS
                for j in range(storage_module.INLINE_RECORDS * 2):
                    storage.record(f"big{i}", TimelineEntry(T0 + i, "note", f"{j}", "q1", ""))
                rows += storage_module.INLINE_RECORDS * 2
            storage.record(f"c{i}", TimelineEntry(T0 + i, "submitted", "", "q1", ""))
            storage.clock_moved(T0 + i)
            rows += 2
            await storage.synced()
            if i % 100 == 0:
                sizes.append((rows, wal.stat().st_size))
    finally:
        await storage.close()
    # Up to the first checkpoint the WAL only grows; after it, it must not outgrow that.
    first = max(size for n, size in sizes if n <= storage_module.CHECKPOINT_ROWS)
    later = [(n, size) for n, size in sizes if n > 2 * storage_module.CHECKPOINT_ROWS]
    largest = max(size for _, size in later)
    assert largest <= first * 1.5, (
        f"the WAL keeps growing: {first} bytes after {storage_module.CHECKPOINT_ROWS} rows, "
        f"{largest} bytes by {later[-1][0]} rows; every 2,000 rows: "
        f"{[size for n, size in sizes[:: max(1, len(sizes) // 10)]]}"
    )


async def test_commits_go_on_while_a_checkpoint_copies_the_wal(tmp_path, monkeypatch) -> None:
    """The checkpoint runs on a thread and connection of its own: while it copies the WAL
    (held here, mid-copy, by an event the test sets), commits and their answers go on. Its
    last pass then runs where the commits run, and the WAL starts again from its beginning:
    the rows written after it go to the start of the file, which stops growing."""
    monkeypatch.setattr(storage_module, "CHECKPOINT_ROWS", 200)
    copying, may_finish = threading.Event(), threading.Event()
    beside = Storage._checkpoint

    def held_checkpoint(self: Storage) -> None:
        copying.set()
        assert may_finish.wait(30), "the test never let the checkpoint finish"
        beside(self)

    monkeypatch.setattr(Storage, "_checkpoint", held_checkpoint)
    storage = Storage(tmp_path / "held.db")
    await storage.open()
    wal = tmp_path / "held.db-wal"
    try:
        i = 0
        while not copying.is_set():
            i += 1
            storage.record(f"c{i}", TimelineEntry(T0 + i, "submitted", "", "q1", ""))
            await storage.synced()
            assert i < 1_000, "no checkpoint started"
        # The checkpoint is mid-copy: commits are not held up behind it.
        for j in range(150):
            storage.record(f"during{j}", TimelineEntry(T0 + i, "submitted", "", "q1", ""))
            await asyncio.wait_for(storage.synced(), 5)
        grown = wal.stat().st_size
        may_finish.set()
        while storage._checkpointing is not None:  # the passes beside, then the last one
            await asyncio.wait({storage._checkpointing})
            await asyncio.sleep(0)  # its done-callback runs first, and starts the next
        for j in range(20):
            storage.record(f"after{j}", TimelineEntry(T0 + i, "submitted", "", "q1", ""))
            await storage.synced()
        assert wal.stat().st_size == grown  # reused from its start, not appended to
    finally:
        may_finish.set()
        await storage.close()
    db = sqlite3.connect(tmp_path / "held.db")
    try:
        (count,) = db.execute("SELECT COUNT(*) FROM timeline").fetchone()
    finally:
        db.close()
    assert count == i + 150 + 20  # nothing lost on the way


# --- 9. desktop streams over burst and single commits, resumed, settled -------------------

MANY_DESKTOPS = """
settings: {reconnect_grace_s: 600, decline_limit: 1000}
work_streams:
  - {id: chat, channel: chat, fallback_queue: q1, offer_timeout_s: 30}
queues:
  - {id: q1, members: [a1, a2, a3, a4, a5, a6]}
agents:
  - {id: a1, capacity: 150}
  - {id: a2, capacity: 150}
  - {id: a3, capacity: 150}
  - {id: a4, capacity: 150}
  - {id: a5, capacity: 150}
  - {id: a6, capacity: 150}
"""


async def test_desktop_streams_stay_gapless_over_burst_and_single_commits_and_resumes(
    harness, tmp_path
) -> None:
    """Bursts of concurrent submits (large batches, writer thread) alternate with single
    settled submits (small batches, on the loop), and a jump past the offer timeouts
    withdraws and re-offers hundreds at once; meanwhile two desktops keep hanging up and
    resuming their streams. Every desktop's messages are numbered 1, 2, 3, ... with no gap
    and no repeat (resumed ones included), and no settled answer ever reports a sequence
    the desktop then does not receive."""
    centre = await Centre.start(harness, MANY_DESKTOPS, db=str(tmp_path / "j.db"))
    conn = centre.conn
    # The two that hang up and resume have a connection each (to wait on what they read).
    own = {"a5": harness.connect(), "a6": harness.connect()}
    desktops = {a: Desktop(own.get(a, conn), a) for a in ("a1", "a2", "a3", "a4", "a5", "a6")}
    for desktop in desktops.values():
        await desktop.connect(AVAILABLE)
    reported: dict[str, int] = {}
    stop = asyncio.Event()

    async def churn(desktop: Desktop) -> None:
        """Hang up once caught up with what the server says it pushed, then resume. (One
        that hangs up behind falls more than the 1,000 kept messages behind, which is
        refused as documented.)"""
        mine = desktop.connection
        while not stop.is_set():
            barrier = await mine.admin.AdvanceClock(admin_pb2.AdvanceClockRequest())
            while desktop.last_sequence < barrier.last_sequences.get(desktop.agent_id, 0):
                mine.delivered.clear()
                await mine.delivered.wait()
            await desktop.disconnect()
            await desktop.connect(AVAILABLE, resume=True)
            assert desktop.ended is None, desktop.ended

    async def settled_submit(t: float) -> None:
        call = conn.gateway.SubmitWork(chat(), metadata=(at(t), (SETTLE_KEY, "1")))
        await call
        answer = await settled_answer(call)
        assert answer is not None
        for agent, sequence in answer.last_sequences.items():
            reported[agent] = max(reported.get(agent, 0), sequence)

    churning = [asyncio.create_task(churn(desktops[a])) for a in ("a5", "a6")]
    t = T0
    for burst in (500, 100, 200):
        singles = []
        for _ in range(15):
            t += 0.1
            singles.append(settled_submit(t))
        await asyncio.gather(*(conn.gateway.SubmitWork(chat()) for _ in range(burst)))
        for single in singles:  # one at a time: each its own small commit
            await single
    # Past every offer's timeout: hundreds withdrawn and offered again, in one move.
    for jump in (31, 62):
        call = conn.admin.GetClock(
            admin_pb2.GetClockRequest(), metadata=(at(T0 + jump), (SETTLE_KEY, "1"))
        )
        await call
        answer = await settled_answer(call)
        assert answer is not None and answer.timers_fired > 0
        for agent, sequence in answer.last_sequences.items():
            reported[agent] = max(reported.get(agent, 0), sequence)
    stop.set()
    await asyncio.gather(*churning)

    # Every sequence a settled answer reported arrives (each connection wakes its own).
    for connection in {d.connection for d in desktops.values()}:
        mine = [d for d in desktops.values() if d.connection is connection]
        connection.expected = {d.agent_id: reported.get(d.agent_id, 0) for d in mine}
        await caught_up(connection, mine, timeout=10)
    barrier = await conn.admin.AdvanceClock(admin_pb2.AdvanceClockRequest())
    for connection in {d.connection for d in desktops.values()}:
        mine = [d for d in desktops.values() if d.connection is connection]
        connection.expected = {d.agent_id: barrier.last_sequences[d.agent_id] for d in mine}
        await caught_up(connection, mine, timeout=10)
    for agent, desktop in desktops.items():
        got = [m.sequence for m in desktop.messages]
        assert got == list(range(1, len(got) + 1)), (
            agent,
            [(a, b) for a, b in itertools.pairwise(got) if b != a + 1][:5],
        )
        assert desktop.last_sequence == barrier.last_sequences[agent], agent
        assert reported.get(agent, 0) <= desktop.last_sequence, agent
    assert sum(len(d.messages) for d in desktops.values()) > 2000
