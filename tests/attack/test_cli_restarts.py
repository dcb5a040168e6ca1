"""The real `switchboard serve` command: stopping with open streams and queued work, starting
again on the same journal, two servers on one journal, and journals it must refuse.

Every server here is a child process killed at the end of its test, whatever happens.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import grpc
import pytest
from switchboard.clients.connection import Connection, Desktop, settle
from switchboard.v1 import admin_pb2, common_pb2, desktop_pb2, gateway_pb2

from tests.attack.checks import CLOSED
from tests.attack.procs import SWITCHBOARD, children, serve_manual, spawn, started, wait_for_file

CONFIG = """
work_streams:
  - id: chat
    channel: chat
    fallback_queue: q1
    offer_timeout_s: 30
queues:
  - {id: q1, members: [a1, a2]}
agents:
  - {id: a1, capacity: 1}
  - {id: a2, capacity: 1}
"""


def serve(tmp_path: Path, db: Path, name: str, listen: str = "127.0.0.1:0") -> tuple:
    return serve_manual(tmp_path, db, name, CONFIG, listen=listen, stdout=subprocess.PIPE)


def refused(process, timeout: float = 30.0) -> tuple[int, str]:
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("the server started on a journal it should have refused")
    return process.returncode, err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def submit(conn: Connection) -> str:
    r = await conn.gateway.SubmitWork(gateway_pb2.SubmitWorkRequest(work_stream_id="chat"))
    return r.conversation_id


async def get(conn: Connection, cid: str):
    r = await conn.gateway.GetConversation(gateway_pb2.GetConversationRequest(conversation_id=cid))
    return r.conversation


async def test_sigterm_with_open_streams_and_queued_work_then_restart_on_the_same_journal(
    tmp_path,
) -> None:
    db = tmp_path / "j.db"
    with children() as procs:
        first, port_file = serve(tmp_path, db, "first")
        procs.append(first)
        conn = await started(first, port_file)
        a1 = Desktop(conn, "a1")
        await a1.connect(common_pb2.PRESENCE_AVAILABLE)
        closed = []
        for _ in range(3):
            cid = await submit(conn)
            await settle(conn, [a1])
            await a1.accept(cid)
            await a1.end(cid)
            await a1.close(cid)
            closed.append(cid)
        abandoned = await submit(conn)
        await conn.gateway.AbandonConversation(
            gateway_pb2.AbandonConversationRequest(conversation_id=abandoned, reason="hung up")
        )
        ringing = await submit(conn)  # offered to a1, not answered
        queued = [await submit(conn) for _ in range(5)]  # waiting: nobody else signed in
        await settle(conn, [a1])

        began = time.monotonic()
        first.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(first.wait, 20)
        assert code == 0, first.stderr.read()
        assert time.monotonic() - began < 10
        await asyncio.wait_for(a1._reader, 5)
        assert a1.ended is not None and a1.ended.code() == grpc.StatusCode.UNAVAILABLE
        await conn.close()

        second, port_file = serve(tmp_path, db, "second")
        procs.append(second)
        conn = await started(second, port_file)
        try:
            for cid in [*closed, abandoned]:
                conversation = await get(conn, cid)
                assert conversation.state == CLOSED
                assert next(e.kind for e in conversation.timeline) == "submitted"
            assert (await get(conn, abandoned)).close_reason == "abandoned"
            assert (await get(conn, closed[0])).close_reason == "closed_by_agent"
            # Open work came back: the ringing call first (its place), then the queue in
            # order, then new work.
            for cid in [ringing, *queued]:
                conversation = await get(conn, cid)
                assert conversation.state == common_pb2.CONVERSATION_STATE_OPEN
                assert conversation.timeline[-1].kind == "recovered"
            a2 = Desktop(conn, "a2")
            await a2.connect(common_pb2.PRESENCE_AVAILABLE)
            cid = await submit(conn)
            await settle(conn, [a2])
            assert [m.offer.conversation.id for m in a2.messages if m.HasField("offer")] == [
                ringing
            ]
            await a2.disconnect()
        finally:
            await conn.close()
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait, 20) == 0


async def test_restart_after_sigkill_starts_and_keeps_what_was_committed(tmp_path) -> None:
    db = tmp_path / "j.db"
    with children() as procs:
        first, port_file = serve(tmp_path, db, "first")
        procs.append(first)
        conn = await started(first, port_file)
        abandoned = []
        for _ in range(5):
            cid = await submit(conn)
            await conn.gateway.AbandonConversation(
                gateway_pb2.AbandonConversationRequest(conversation_id=cid)
            )
            abandoned.append(cid)
        # Reading one back waits until the journal has committed everything so far.
        assert (await get(conn, abandoned[0])).state == CLOSED
        await settle(conn, [])
        await conn.close()
        first.kill()
        first.wait(10)
        second, port_file = serve(tmp_path, db, "second")
        procs.append(second)
        conn = await started(second, port_file)
        try:
            for cid in abandoned:
                assert (await get(conn, cid)).close_reason == "abandoned"
        finally:
            await conn.close()


async def test_a_second_server_on_the_same_journal_is_refused_and_the_first_keeps_working(
    tmp_path,
) -> None:
    db = tmp_path / "j.db"
    with children() as procs:
        first, port_file = serve(tmp_path, db, "first")
        procs.append(first)
        conn = await started(first, port_file)
        try:
            cid = await submit(conn)
            await conn.gateway.AbandonConversation(
                gateway_pb2.AbandonConversationRequest(conversation_id=cid)
            )
            second, _ = serve(tmp_path, db, "second")
            procs.append(second)
            code, err = await asyncio.to_thread(refused, second)
            assert code == 2
            assert "locked by another process" in err and str(db) in err
            assert "Traceback" not in err
            # The first server still answers, reads its journal and takes work.
            assert (await get(conn, cid)).state == CLOSED
            other = await submit(conn)
            await conn.gateway.AbandonConversation(
                gateway_pb2.AbandonConversationRequest(conversation_id=other)
            )
            assert (await get(conn, other)).close_reason == "abandoned"
            assert first.poll() is None
        finally:
            await conn.close()


def make_directory(db: Path) -> None:
    db.mkdir()


def make_garbage(db: Path) -> None:
    db.write_bytes(bytes(range(256)) * 40)


def make_future(db: Path) -> None:
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (x)")
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()


def make_text(db: Path) -> None:
    db.write_text("work_streams: []\n" * 100)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (make_directory, "is a directory"),
        (make_garbage, "not a SQLite database"),
        (make_text, "not a SQLite database"),
        (make_future, "newer Switchboard"),
    ],
)
async def test_journals_that_cannot_be_used_are_refused_clearly_and_left_untouched(
    tmp_path, make, says
) -> None:
    db = tmp_path / "j.db"
    make(db)
    before = None if db.is_dir() else digest(db)
    with children() as procs:
        process, _ = serve(tmp_path, db, "bad")
        procs.append(process)
        code, err = await asyncio.to_thread(refused, process)
    assert code == 2
    assert says in err and str(db) in err, err
    assert "Traceback" not in err
    if before is not None:
        assert digest(db) == before
        assert not Path(f"{db}-wal").exists()


async def test_a_listen_address_in_use_is_refused_with_a_clear_message(tmp_path) -> None:
    with children() as procs:
        first, port_file = serve(tmp_path, tmp_path / "a.db", "first")
        procs.append(first)
        address = await asyncio.to_thread(wait_for_file, port_file, first)
        second, _ = serve(tmp_path, tmp_path / "b.db", "second", listen=address)
        procs.append(second)
        code, err = await asyncio.to_thread(refused, second)
        assert "Traceback" not in err, err[-400:]
        assert code == 2 and f"cannot listen on {address}" in err
        # Refused before the journal was opened: no file left behind.
        assert not (tmp_path / "b.db").exists()
        assert first.poll() is None


async def test_a_listen_port_out_of_range_is_refused(tmp_path) -> None:
    with children() as procs:
        process, port_file = serve(tmp_path, tmp_path / "a.db", "bad", listen="127.0.0.1:99999")
        procs.append(process)
        code, err = await asyncio.to_thread(refused, process)
        assert not port_file.exists()
        assert code == 2 and "99999" in err and "Traceback" not in err


FLOOD_CONFIG = """
settings:
  decline_limit: 1000
  after_reject: keep
work_streams:
  - id: chat
    channel: chat
    fallback_queue: q1
queues:
  - {id: q1, members: [a1]}
agents:
  - {id: a1, capacity: 1}
"""


async def test_sigterm_is_not_held_up_by_a_desktop_that_stopped_reading(tmp_path) -> None:
    import os
    import sys

    config = tmp_path / "flood.yaml"
    config.write_text(FLOOD_CONFIG)
    port_file = tmp_path / "flood.port"
    with children() as procs:
        server = spawn(
            [
                SWITCHBOARD,
                "serve",
                "--config",
                str(config),
                "--listen",
                "127.0.0.1:0",
                "--port-file",
                str(port_file),
                "--db",
                str(tmp_path / "f.db"),
                "--clock",
                "manual",
                "--log-level",
                "warning",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(server)
        conn = await started(server, port_file)
        desktop = spawn(
            [sys.executable, "-m", "tests.attack._desktop_proc", conn.address, "a1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(desktop)
        while (await asyncio.to_thread(desktop.stdout.readline)).strip() != "connected":
            pass
        os.kill(desktop.pid, signal.SIGSTOP)
        big = {f"k{i}": "x" * 4000 for i in range(64)}
        r = await conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(work_stream_id="chat", context=big)
        )
        for _ in range(40):  # ~10 MB of offers the frozen desktop will never read
            await conn.admin.AdvanceClock(admin_pb2.AdvanceClockRequest())
            await conn.desktop.RejectOffer(
                desktop_pb2.RejectOfferRequest(agent_id="a1", conversation_id=r.conversation_id)
            )
        await conn.admin.AdvanceClock(admin_pb2.AdvanceClockRequest())
        await conn.close()
        began = time.monotonic()
        server.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(server.wait, 10)
        except subprocess.TimeoutExpired:
            code = None
        took = time.monotonic() - began
        assert code == 0 and took < 8, f"exit {code} after {took:.1f} s (grace is 5 s)"


async def test_sigterm_ends_gateway_watch_streams_promptly(tmp_path) -> None:
    with children() as procs:
        server, port_file = serve(tmp_path, tmp_path / "w.db", "watch")
        procs.append(server)
        conn = await started(server, port_file)
        try:
            watch = conn.gateway.WatchConversations(gateway_pb2.WatchConversationsRequest())
            assert (await watch.read()).kind == "watching"
            desktop = Desktop(conn, "a1")
            await desktop.connect(common_pb2.PRESENCE_AVAILABLE)
            began = time.monotonic()
            server.send_signal(signal.SIGTERM)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await asyncio.wait_for(watch.read(), 10)
            ended_after = time.monotonic() - began
            code = await asyncio.to_thread(server.wait, 20)
            took = time.monotonic() - began
        finally:
            await conn.close()
        assert code == 0
        # Before the fix the watch held shutdown for the whole 5 s grace; allow a loaded
        # machine plenty of room below that.
        assert ended_after < 4 and took < 4.5, (
            f"watch ended after {ended_after:.1f} s, exit {took:.1f} s"
        )
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "shutting down" in (info.value.details() or ""), info.value.details()
