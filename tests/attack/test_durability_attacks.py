"""Durability attacks: restarts (graceful and SIGKILL) at awkward moments, on the same journal.

Each in-process test starts a server on a journal file, stops it, and starts a new one on the
same file; the subprocess tests kill a real `switchboard serve` with SIGKILL.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest
from switchboard.clients.connection import Desktop
from switchboard.v1 import admin_pb2, common_pb2, desktop_pb2, gateway_pb2, supervisor_pb2

from tests.attack.checks import check_invariants
from tests.integration.support import (
    ACTIVE,
    AVAILABLE,
    CLOSED,
    OFFLINE,
    OPEN,
    WRAP_UP,
    Centre,
    kinds,
    offers,
    refused,
)

WAITING = common_pb2.CONVERSATION_STATE_WAITING

CONFIG = """
settings: {reconnect_grace_s: 100}
work_streams:
  - {id: chat, channel: chat, fallback_queue: q1, offer_timeout_s: 60, wrap_up: always}
  - {id: sms, channel: sms, fallback_queue: q1, affinity: true}
  - {id: pick, channel: chat, fallback_queue: q1, mode: pick}
queues:
  - {id: q1, members: [a1, a2, a3]}
  - {id: q2, members: [a3]}
agents:
  - {id: a1, capacity: 3}
  - {id: a2, capacity: 2}
  - {id: a3, capacity: 1}
"""


async def restart(harness, db, config: str = CONFIG) -> Centre:
    await harness.stop()
    return await Centre.start(harness, config, db=str(db))


async def test_transfer_to_agent_survives_a_restart(harness, tmp_path) -> None:
    db = tmp_path / "j.db"
    centre = await Centre.start(harness, CONFIG, db=str(db))
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2")
    cid = (await centre.submit("chat")).conversation_id
    holder = a1 if cid in offers(a1) else a2
    other = a2 if holder is a1 else a1
    await holder.accept(cid)
    await holder.transfer(cid, to_agent=other.agent_id)
    await centre.settle()
    conv = await centre.conversation(cid)
    assert (conv.state, conv.agent_id) == (ACTIVE, other.agent_id)

    centre = await restart(harness, db)
    conv = await centre.conversation(cid)
    status = await centre.agent(other.agent_id)
    assert (conv.state, conv.agent_id) == (ACTIVE, other.agent_id), kinds_of(conv)
    assert list(status.conversation_ids) == [cid]
    assert status.capacity_used == 1


def kinds_of(conv) -> list[str]:
    return [f"{e.kind}:{e.agent_id}:{e.detail}" for e in conv.timeline]


PROFILE_CONFIG = """
settings: {reconnect_grace_s: 100}
capacity_profiles:
  - {id: cases, limit: 2, reset: end_of_day}
work_streams:
  - {id: chat, channel: chat, fallback_queue: q1, capacity_profile: [cases], wrap_up: none}
queues:
  - {id: q1, members: [a1]}
agents:
  - {id: a1, capacity: 5, capacity_profiles: [cases]}
"""


async def test_end_of_day_profile_counts_survive_a_restart(harness, tmp_path) -> None:
    db = tmp_path / "j.db"
    centre = await Centre.start(harness, PROFILE_CONFIG, db=str(db))
    a1 = await centre.signin("a1")
    held = (await centre.submit("chat")).conversation_id
    await a1.accept(held)
    done = (await centre.submit("chat")).conversation_id
    await a1.accept(done)
    await a1.end(done)
    await a1.close(done)
    await centre.settle()
    assert dict((await centre.agent("a1")).capacity_profiles_used) == {"cases": 2}

    centre = await restart(harness, db, PROFILE_CONFIG)
    status = await centre.agent("a1")
    assert list(status.conversation_ids) == [held]
    # Two items were counted today (one still held); a restart must not hand the day back.
    assert dict(status.capacity_profiles_used) == {"cases": 2}
    a1 = await centre.signin("a1")
    third = (await centre.submit("chat")).conversation_id
    await centre.settle()
    assert third not in offers(a1)
    assert await centre.waiting("q1") == [third]


async def test_a_released_conversation_is_not_offered_back_to_its_agent_after_a_restart(
    harness, tmp_path
) -> None:
    db = tmp_path / "j.db"
    centre = await Centre.start(harness, CONFIG, db=str(db))
    a1 = await centre.signin("a1")
    cid = (await centre.submit("chat")).conversation_id
    await a1.accept(cid)
    await a1.release(cid)
    await centre.settle()
    assert await centre.waiting("q1") == [cid]
    centre = await restart(harness, db)
    a1 = await centre.signin("a1")
    await centre.settle()
    assert cid not in offers(a1)
    assert await centre.waiting("q1") == [cid]


async def test_force_assigned_and_picked_work_stay_with_their_agent_over_a_restart(
    harness, tmp_path
) -> None:
    db = tmp_path / "j.db"
    centre = await Centre.start(harness, CONFIG, db=str(db))
    a3 = await centre.signin("a3")
    picked = (await centre.submit("pick")).conversation_id
    await a3.take(picked)
    queued = (await centre.submit("chat")).conversation_id
    await centre.settle()
    response = await centre.conn.supervisor.AssignConversation(
        supervisor_pb2.AssignConversationRequest(conversation_id=queued, agent_id="a3")
    )
    await a3.accept(queued) if queued in offers(a3) else None
    await centre.settle()
    before = await centre.agent("a3")
    assert set(before.conversation_ids) == {picked, queued}, response
    assert before.capacity_used == 2 and before.over_capacity

    centre = await restart(harness, db)
    after = await centre.agent("a3")
    assert set(after.conversation_ids) == {picked, queued}
    assert after.capacity_used == 2
    for cid in (picked, queued):
        conv = await centre.conversation(cid)
        assert (conv.state, conv.agent_id) == (ACTIVE, "a3")
    assert after.over_capacity


async def test_parked_work_resumed_after_a_restart_takes_capacity_again(harness, tmp_path) -> None:
    db = tmp_path / "j.db"
    centre = await Centre.start(harness, CONFIG, db=str(db))
    a2 = await centre.signin("a2")
    cid = (await centre.submit("sms")).conversation_id
    await a2.accept(cid)
    await a2.park(cid)
    await centre.settle()
    centre = await restart(harness, db)
    assert (await centre.agent("a2")).capacity_used == 0
    a2 = await centre.signin("a2")
    await a2.resume(cid)
    await centre.settle()
    status = await centre.agent("a2")
    conv = await centre.conversation(cid)
    assert (conv.state, conv.agent_id) == (ACTIVE, "a2")
    assert status.capacity_used == 1 and list(status.conversation_ids) == [cid]


TIMED = """
settings: {reconnect_grace_s: 1000}
work_streams:
  - {id: chat, channel: chat, fallback_queue: q1, offer_timeout_s: 20, wrap_up: 30,
     auto_close: {active: 500, wrap_up: 0}}
queues:
  - {id: q1, members: [a1, a2]}
agents:
  - {id: a1, capacity: 1}
  - {id: a2, capacity: 1}
"""


async def test_wrap_up_block_and_auto_close_run_from_before_the_restart(harness, tmp_path) -> None:
    db = tmp_path / "j.db"
    centre = await Centre.start(harness, TIMED, db=str(db))
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2")
    first = (await centre.submit("chat")).conversation_id
    second = (await centre.submit("chat")).conversation_id
    one = a1 if first in offers(a1) else a2
    two = a2 if one is a1 else a1
    await one.accept(first)
    await two.accept(second)
    await centre.settle(10)
    await one.end(first)  # wrap-up blocks until 40
    await centre.settle(20)
    centre = await restart(harness, db, TIMED)
    assert (await centre.agent(one.agent_id)).capacity_used == 1
    await centre.settle(39)
    assert (await centre.agent(one.agent_id)).capacity_used == 1
    await centre.settle(41)
    assert (await centre.agent(one.agent_id)).capacity_used == 0
    # Auto-close of the active one runs from when it was accepted (0), not from the restart.
    await centre.settle(499)
    assert (await centre.conversation(second)).state == ACTIVE
    await centre.settle(501)
    assert (await centre.conversation(second)).state == CLOSED


# --- real servers killed with SIGKILL -------------------------------------------------------

KILL_CONFIG = """
settings: {reconnect_grace_s: 600, decline_limit: 100}
work_streams:
  - {id: chat, channel: chat, fallback_queue: q1, offer_timeout_s: 300, wrap_up: always}
  - {id: sms, channel: sms, fallback_queue: q1, offer_timeout_s: 300, wrap_up: always}
queues:
  - {id: q1, members: [a1, a2, a3, a4]}
agents:
  - {id: a1, capacity: 2}
  - {id: a2, capacity: 2}
  - {id: a3, capacity: 3}
  - {id: a4, capacity: 1}
"""
AGENTS = ["a1", "a2", "a3", "a4"]


def serve_proc(tmp_path, db, name: str, config: str = KILL_CONFIG):
    from tests.attack.procs import serve_manual

    return serve_manual(tmp_path, db, name, config)


async def connect_to(process, port_file):
    from tests.attack.procs import started

    return await started(process, port_file)


def last_words(desktop: Desktop) -> dict[str, str]:
    """What this desktop was last told about each conversation: offered, held or gone."""
    told: dict[str, str] = {}
    for message in desktop.messages:
        kind = message.WhichOneof("event")
        if kind == "offer":
            told[message.offer.conversation.id] = "offered"
        elif kind == "assignment":
            told[message.assignment.conversation.id] = "held"
        elif kind == "offer_withdrawn":
            told[message.offer_withdrawn.conversation_id] = "gone"
        elif kind == "conversation_update":
            u = message.conversation_update
            if u.state in (ACTIVE, WRAP_UP, WAITING):
                if told.get(u.conversation_id) != "gone" or "transferred" not in u.reason:
                    told[u.conversation_id] = "held"
            else:
                told[u.conversation_id] = "gone"
    return told


class Workload:
    """Gateways submitting with client keys; desktops accepting, ending, closing, parking."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.acked: dict[str, str] = {}  # client key -> conversation id
        self.unanswered: dict[str, gateway_pb2.SubmitWorkRequest] = {}  # lost in the crash
        self.desktops: dict[str, Desktop] = {}
        self.stop = asyncio.Event()
        self.n = 0
        self.rng = __import__("random").Random(7)

    async def submitter(self, gw: int) -> None:
        while not self.stop.is_set():
            self.n += 1
            key = f"gw{gw}/{self.n}"
            stream = "sms" if self.n % 3 == 0 else "chat"
            request = gateway_pb2.SubmitWorkRequest(
                work_stream_id=stream, client_key=key,
                customer=common_pb2.Customer(id=f"c{self.n}"),
            )
            self.unanswered[key] = request
            try:
                r = await self.conn.gateway.SubmitWork(request, timeout=5)
            except grpc.aio.AioRpcError:
                return
            del self.unanswered[key]
            self.acked[key] = r.conversation_id
            await asyncio.sleep(0.002)

    async def agent_loop(self, desktop: Desktop) -> None:
        rng = self.rng
        while not self.stop.is_set():
            await asyncio.sleep(0.003)
            told = last_words(desktop)
            try:
                for cid, word in list(told.items()):
                    if word == "offered":
                        if rng.random() < 0.85:
                            await desktop.accept(cid)
                        else:
                            await desktop.reject(cid)
                    elif word == "held":
                        roll = rng.random()
                        if roll < 0.3:
                            await desktop.end(cid)
                            await desktop.close(cid)
                        elif roll < 0.4:
                            await desktop.park(cid)
                        elif roll < 0.5:
                            await desktop.resume(cid)
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                    return

    async def run_for(self, seconds: float, kill) -> None:
        self.stop.clear()
        tasks = [asyncio.create_task(self.submitter(g)) for g in (1, 2)]
        tasks += [asyncio.create_task(self.agent_loop(d)) for d in self.desktops.values()]
        await asyncio.sleep(seconds)
        kill()  # SIGKILL while calls are in flight
        self.stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


async def check_after_crash(conn, work: Workload) -> None:
    from tests.attack.checks import conversations, snapshot

    convs = await conversations(conn, work.acked.values())  # every acknowledged one exists
    # Submits whose answer the crash lost are retried with their key: each is created once.
    for key, request in list(work.unanswered.items()):
        r = await conn.gateway.SubmitWork(request)
        work.acked[key] = r.conversation_id
        del work.unanswered[key]
    retried_again = [
        (await conn.gateway.SubmitWork(gateway_pb2.SubmitWorkRequest(
            work_stream_id="sms" if int(k.split("/")[1]) % 3 == 0 else "chat",
            client_key=k, customer=common_pb2.Customer(id=f"c{k.split('/')[1]}"),
        ))).conversation_id
        for k in list(work.acked)[-5:]
    ]
    assert retried_again == list(work.acked.values())[-5:]
    convs = await conversations(conn, work.acked.values())
    await check_invariants(conn, work.acked.values())
    agents, _ = await snapshot(conn)
    by_id = {a.agent_id: a for a in agents}
    problems = []
    for agent_id, status in by_id.items():
        held_cost = sum(
            1 for cid in status.conversation_ids if convs[cid].state != WAITING
        )
        if status.capacity_used != held_cost:
            problems.append(f"{agent_id}: capacity_used {status.capacity_used} != {held_cost}")
    assert not problems, "\n".join(problems)


async def heard_up_to(desktop: Desktop, sequence: int, timeout: float = 10.0) -> None:
    """Wait until the resumed desktop has read every message up to `sequence`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while desktop.last_sequence < sequence:
        assert asyncio.get_running_loop().time() < deadline, (desktop.agent_id, sequence)
        await asyncio.sleep(0.01)


async def check_desktops_agree(conn, work: Workload) -> None:
    """After resuming, each desktop has been told what the crash kept from it: what it
    last heard it holds, it holds. (Before resuming it may lag: a close committed just
    before the kill whose message to the desktop never left the server.)"""
    from tests.attack.checks import conversations, snapshot

    convs = await conversations(conn, work.acked.values())
    agents, _ = await snapshot(conn)
    by_id = {a.agent_id: a for a in agents}
    problems = []
    for agent_id, desktop in work.desktops.items():
        status = by_id[agent_id]
        for cid, word in last_words(desktop).items():
            conv = convs.get(cid)
            if word == "held" and cid not in status.conversation_ids:
                problems.append(
                    f"{agent_id}'s desktop holds {cid} but after the restart it is "
                    f"{common_pb2.ConversationState.Name(conv.state)} with {conv.agent_id!r}"
                )
    assert not problems, "\n".join(problems)


async def test_sigkill_during_a_busy_workload_twice_loses_nothing_acknowledged(tmp_path) -> None:
    import contextlib

    from tests.attack.procs import children

    db = tmp_path / "j.db"
    with children() as procs:
        conn = None
        work: Workload | None = None
        for cycle in range(3):
            process, port_file = serve_proc(tmp_path, db, f"s{cycle}")
            procs.append(process)
            new = await connect_to(process, port_file)
            if work is None:
                work = Workload(new)
                for agent_id in AGENTS:
                    d = Desktop(new, agent_id)
                    await d.connect(AVAILABLE)
                    work.desktops[agent_id] = d
            else:
                await check_after_crash(new, work)
                work.conn = new
                for d in work.desktops.values():
                    with contextlib.suppress(Exception):
                        await d.disconnect()
                    d.connection = new
                    await d.connect(AVAILABLE, resume=True)
                told = await new.admin.AdvanceClock(admin_pb2.AdvanceClockRequest())
                for d in work.desktops.values():
                    await heard_up_to(d, told.last_sequences[d.agent_id])
                    seqs = [m.sequence for m in d.messages]
                    assert seqs == list(range(1, len(seqs) + 1)), (d.agent_id, seqs[-20:])
                await check_desktops_agree(new, work)
            if conn is not None:
                await conn.close()
            conn = new
            if cycle == 2:
                break
            await work.run_for(1.0 + 0.3 * cycle, process.kill)
            await asyncio.to_thread(process.wait, 10)
        assert len(work.acked) > 50
        for d in work.desktops.values():
            with contextlib.suppress(Exception):
                await d.disconnect()
        await conn.close()


# --- resumed desktop streams ------------------------------------------------------------------

def sequences(desktop: Desktop) -> list[int]:
    return [m.sequence for m in desktop.messages]


async def test_resume_from_zero_replays_everything_once_then_the_live_stream(
    harness, tmp_path
) -> None:
    centre = await Centre.start(harness, CONFIG, db=str(tmp_path / "j.db"))
    a1 = await centre.signin("a1")
    cid = (await centre.submit("chat")).conversation_id
    await a1.accept(cid)
    await centre.settle()
    first = [m.SerializeToString() for m in a1.messages]
    await a1.disconnect()
    again = Desktop(centre.conn, "a1")
    await again.connect(resume=True)  # resume_after_sequence = 0
    centre.desktops["a1"] = again
    await centre.settle()
    assert [m.SerializeToString() for m in again.messages[: len(first)]] == first
    assert sequences(again) == list(range(1, len(again.messages) + 1))
    # And the stream is live afterwards.
    other = (await centre.submit("chat")).conversation_id
    assert offers(again)[-1] == other
    assert sequences(again) == list(range(1, len(again.messages) + 1))


async def test_resume_at_the_last_sequence_gets_no_repeat(harness, tmp_path) -> None:
    centre = await Centre.start(harness, CONFIG, db=str(tmp_path / "j.db"))
    a1 = await centre.signin("a1")
    await centre.submit("chat")
    await a1.disconnect()
    seen = len(a1.messages)
    await a1.connect(resume=True)
    await centre.settle()
    assert sequences(a1) == list(range(1, len(a1.messages) + 1))
    assert len(a1.messages) > seen  # the agent's current state follows


async def test_resume_after_more_than_a_thousand_missed_messages_is_refused_clearly(
    harness, tmp_path
) -> None:
    centre = await Centre.start(harness, CONFIG, db=str(tmp_path / "j.db"))
    a1 = await centre.signin("a1")
    away = common_pb2.PRESENCE_AWAY
    for i in range(1_080):
        await centre.conn.desktop.SetPresence(
            desktop_pb2.SetPresenceRequest(agent_id="a1", presence=away if i % 2 == 0 else AVAILABLE)
        )
    last = (await centre.conn.admin.AdvanceClock(admin_pb2.AdvanceClockRequest()))
    assert last.last_sequences["a1"] > 1_050
    await a1.disconnect()
    ghost = Desktop(centre.conn, "a1")
    ghost.last_sequence = 2
    await refused(
        ghost.connect(resume=True),
        grpc.StatusCode.FAILED_PRECONDITION,
        "no longer kept",
        "connect without resume_after_sequence",
    )
    # Resuming inside the kept window works and is gapless.
    fresh = Desktop(centre.conn, "a1")
    start = last.last_sequences["a1"] - 900
    fresh.last_sequence = start  # inside the kept part
    await fresh.connect(resume=True)
    centre.desktops["a1"] = fresh
    await centre.settle()
    got = sequences(fresh)
    assert got == list(range(start + 1, start + 1 + len(got))), got[:3]
    assert got[-1] > last.last_sequences["a1"]


async def test_resume_across_two_restarts_numbers_on(harness, tmp_path) -> None:
    db = tmp_path / "j.db"
    centre = await Centre.start(harness, CONFIG, db=str(db))
    a1 = await centre.signin("a1")
    cid = (await centre.submit("chat")).conversation_id
    for round_ in range(2):
        await a1.disconnect()
        centre = await restart(harness, db)
        a1.connection = centre.conn
        await a1.connect(AVAILABLE, resume=True)
        centre.desktops["a1"] = a1
        await centre.settle()
        assert sequences(a1) == list(range(1, len(a1.messages) + 1)), round_
    # Every offer of it was answered on the desktop by exactly one withdrawal.
    told = [k for k in kinds(a1) if cid in k]
    assert told.count(f"offer {cid}") == len([k for k in told if k.startswith("withdrawn")]) + 1
    assert told[-1] == f"offer {cid}"  # ringing now


async def test_two_desktops_resuming_one_agent_at_once_leave_one_gapless_stream(
    harness, tmp_path
) -> None:
    centre = await Centre.start(harness, CONFIG, db=str(tmp_path / "j.db"))
    a1 = await centre.signin("a1")
    for _ in range(3):
        await centre.submit("chat")
    await a1.disconnect()
    one, two = Desktop(centre.conn, "a1"), Desktop(centre.conn, "a1")
    one.last_sequence = two.last_sequence = 2
    await asyncio.gather(one.connect(resume=True), two.connect(resume=True))
    await asyncio.sleep(0.2)
    alive = [d for d in (one, two) if d.reading]
    assert len(alive) == 1, [d.ended for d in (one, two)]
    winner = alive[0]
    loser = two if winner is one else one
    assert loser.ended is not None and loser.ended.code() == grpc.StatusCode.ABORTED
    centre.desktops["a1"] = winner
    await centre.submit("chat")
    got = sequences(winner)
    assert got == list(range(3, 3 + len(got))), got


# --- client keys --------------------------------------------------------------------------

async def test_one_client_key_from_two_gateways_at_once_creates_one_conversation(
    harness, tmp_path
) -> None:
    db = tmp_path / "j.db"
    centre = await Centre.start(harness, CONFIG, db=str(db))
    other = harness.connect()
    request = gateway_pb2.SubmitWorkRequest(
        work_stream_id="chat", client_key="k-1", customer=common_pb2.Customer(id="c1")
    )
    answers = await asyncio.gather(
        *(conn.gateway.SubmitWork(request) for conn in [centre.conn, other] * 10)
    )
    assert len({a.conversation_id for a in answers}) == 1
    assert await centre.waiting("q1") == [answers[0].conversation_id]
    centre = await restart(harness, db)
    # After the restart: the same answer, and a different customer under the key is refused.
    again = await centre.conn.gateway.SubmitWork(request)
    assert again.conversation_id == answers[0].conversation_id
    await refused(
        centre.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(
                work_stream_id="chat", client_key="k-1", customer=common_pb2.Customer(id="c2")
            )
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "client_key 'k-1'",
        "customer 'c1'",
    )
    assert await centre.waiting("q1") == [answers[0].conversation_id]


# --- journal files that must be refused ---------------------------------------------------

def _serve_once(tmp_path, db):
    from tests.attack.procs import children

    with children() as procs:
        process, _ = serve_proc(tmp_path, db, "bad")
        procs.append(process)
        try:
            process.wait(timeout=6)
        except Exception:
            return None, "still running: it started on the file"
        return process.returncode, process.stderr.read()


def _digest(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _real_journal(tmp_path):
    """A journal with a few hundred queued conversations, written by a real server."""
    import subprocess

    from switchboard.clients.connection import Connection

    db = tmp_path / "real.db"

    async def fill() -> None:
        from tests.attack.procs import children

        with children() as procs:
            process, port_file = serve_proc(tmp_path, db, "fill")
            procs.append(process)
            conn: Connection = await connect_to(process, port_file)
            for i in range(300):
                await conn.gateway.SubmitWork(
                    gateway_pb2.SubmitWorkRequest(
                        work_stream_id="chat", context={"note": "x" * 500}, client_key=f"k{i}"
                    )
                )
            await conn.close()
            process.send_signal(__import__("signal").SIGTERM)
            assert process.wait(10) == 0

    return db, fill, subprocess


async def test_a_journal_with_a_damaged_page_is_refused_clearly_and_left_untouched(
    tmp_path,
) -> None:
    db, fill, _ = _real_journal(tmp_path)
    await fill()
    with open(db, "r+b") as f:  # a damaged page well past the header
        f.seek(300_000)
        f.write(b"\xff" * 3000)
    before = _digest(db)
    code, err = await asyncio.to_thread(_serve_once, tmp_path, db)
    assert "Traceback" not in err, err[-600:]
    assert code == 2 and str(db) in err and "malformed" in err, err[-600:]
    assert _digest(db) == before


async def test_a_truncated_journal_is_refused_clearly_and_left_untouched(tmp_path) -> None:
    db, fill, _ = _real_journal(tmp_path)
    await fill()
    with open(db, "r+b") as f:
        f.truncate(50_000)
    before = _digest(db)
    code, err = await asyncio.to_thread(_serve_once, tmp_path, db)
    assert "Traceback" not in err, err[-600:]
    assert code == 2 and str(db) in err and "left untouched" in err
    assert _digest(db) == before


async def test_a_record_that_does_not_read_back_is_refused_clearly_and_left_untouched(
    tmp_path,
) -> None:
    import sqlite3

    db, fill, _ = _real_journal(tmp_path)
    await fill()
    con = sqlite3.connect(db)  # a hand edit, or another tool, leaves a ticket we cannot read
    (cid,) = con.execute("SELECT conversation_id FROM open_work LIMIT 1").fetchone()
    con.execute("UPDATE open_work SET ticket = ? WHERE conversation_id = ?", ('{"x": 1}', cid))
    con.commit()
    con.close()
    before = _digest(db)
    code, err = await asyncio.to_thread(_serve_once, tmp_path, db)
    assert "Traceback" not in err, err[-600:]
    assert code == 2 and str(db) in err and "does not read back" in err, err[-600:]
    assert _digest(db) == before


async def test_another_applications_sqlite_database_is_refused_and_left_untouched(
    tmp_path,
) -> None:
    import sqlite3

    db = tmp_path / "crm.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE conversations (ticket INTEGER, body TEXT)")
    con.execute("INSERT INTO conversations VALUES (1, 'hello')")
    con.commit()
    con.close()
    before = _digest(db)
    code, err = await asyncio.to_thread(_serve_once, tmp_path, db)
    assert code == 2 and str(db) in err, err[-600:]
    assert _digest(db) == before
    con = sqlite3.connect(db)
    assert [r[1] for r in con.execute("PRAGMA table_info(conversations)")] == ["ticket", "body"]
    con.close()


# --- a full disk (simulated with RLIMIT_FSIZE on the server process) --------------------------

async def test_a_full_disk_acknowledges_nothing_and_recovers_when_space_returns(tmp_path) -> None:
    import resource
    import subprocess

    from tests.attack.procs import SWITCHBOARD, children, spawn

    limit = 400_000
    db = tmp_path / "full.db"
    config = tmp_path / "full.yaml"
    config.write_text(KILL_CONFIG)
    port_file = tmp_path / "full.port"

    with children() as procs:
        process = spawn(
            [SWITCHBOARD, "serve", "--config", str(config), "--listen", "127.0.0.1:0",
             "--port-file", str(port_file), "--db", str(db), "--clock", "manual",
             "--log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            file_size_limit=limit,
        )
        procs.append(process)
        conn = await connect_to(process, port_file)
        acked: dict[str, str] = {}
        stuck = None
        for i in range(2_000):
            request = gateway_pb2.SubmitWorkRequest(
                work_stream_id="chat", context={"k": "x" * 1000}, client_key=f"k{i}"
            )
            try:
                r = await conn.gateway.SubmitWork(request, timeout=1.5)
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED
                stuck = request
                break
            acked[request.client_key] = r.conversation_id
        assert stuck is not None, "the file never reached the limit"
        try:
            resource.prlimit(
                process.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
            )
        except (PermissionError, AttributeError):
            pytest.skip("cannot lift the file size limit of the child here")
        # Space is back: the retried submit goes through once, and so does new work.
        r = await conn.gateway.SubmitWork(stuck, timeout=10)
        acked[stuck.client_key] = r.conversation_id
        await conn.close()
        process.kill()
        await asyncio.to_thread(process.wait, 10)
        second = spawn(
            [SWITCHBOARD, "serve", "--config", str(config), "--listen", "127.0.0.1:0",
             "--port-file", str(tmp_path / "full2.port"), "--db", str(db), "--clock", "manual",
             "--log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        procs.append(second)
        conn = await connect_to(second, tmp_path / "full2.port")
        try:
            convs = await check_invariants(conn, acked.values())
            assert len(convs) == len(acked)
            waiting = (await conn.supervisor.GetQueue(
                supervisor_pb2.GetQueueRequest(queue_id="q1"))).queue.waiting_ids
            assert sorted(waiting) == sorted(acked.values())  # each once, nothing extra
        finally:
            await conn.close()


async def test_sigkill_right_after_a_submit_and_right_after_an_accept_keeps_both(tmp_path) -> None:
    from tests.attack.procs import children

    db = tmp_path / "j.db"
    with children() as procs:
        process, port_file = serve_proc(tmp_path, db, "one")
        procs.append(process)
        conn = await connect_to(process, port_file)
        a4 = Desktop(conn, "a4")
        await a4.connect(AVAILABLE)
        accepted = (await conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(work_stream_id="chat"))).conversation_id
        while accepted not in offers(a4):
            await asyncio.sleep(0.005)
        await a4.accept(accepted)
        process.kill()  # the accept was answered: nothing after it ran
        await asyncio.to_thread(process.wait, 10)
        await conn.close()

        process, port_file = serve_proc(tmp_path, db, "two")
        procs.append(process)
        conn = await connect_to(process, port_file)
        submitted = (await conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(work_stream_id="sms"))).conversation_id
        process.kill()  # the submit was answered
        await asyncio.to_thread(process.wait, 10)
        await conn.close()

        process, port_file = serve_proc(tmp_path, db, "three")
        procs.append(process)
        conn = await connect_to(process, port_file)
        try:
            convs = await check_invariants(conn, [accepted, submitted])
            assert (convs[accepted].state, convs[accepted].agent_id) == (ACTIVE, "a4")
            assert convs[submitted].state == OPEN
            status = (await conn.supervisor.GetAgent(
                supervisor_pb2.GetAgentRequest(agent_id="a4"))).agent
            assert (status.presence, status.capacity_used) == (OFFLINE, 1)
        finally:
            await conn.close()
