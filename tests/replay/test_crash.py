"""The crash test: a real server, killed with SIGKILL several times while it replays the
bank's real calls, restarted on the same journal each time.

It proves that every submission the gateway had an answer for is there after the crashes, in
a state consistent with what happened to it, and that the day still completes with every
call accounted for and no conversation ever with two agents.

By default it plays a morning (a few hundred calls, 3 kills). `CRASH_TEST_DAY=full` plays the
whole day; `CRASH_TEST_KILLS=N` kills N times (the closing figures of issue 5 come from
`CRASH_TEST_DAY=full CRASH_TEST_KILLS=8 pytest tests/replay/test_crash.py -s`).
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

from switchboard.clients.connection import Connection
from switchboard.clients.replay.bankday import load_day
from switchboard.clients.replay.command import slice_day
from switchboard.clients.replay.driver import Replay
from switchboard.clients.replay.figures import figures_of
from switchboard.clients.server_process import ServerProcess
from switchboard.v1 import common_pb2, gateway_pb2

REPO = Path(__file__).resolve().parents[2]
DAY = REPO / "examples" / "bank" / "anonbank-1999-08-01.csv"
CONFIG = REPO / "examples" / "bank" / "switchboard.yaml"

CLOSED = common_pb2.CONVERSATION_STATE_CLOSED


async def test_sigkill_during_a_real_day_loses_no_acknowledged_call(tmp_path) -> None:
    day = load_day(DAY)
    if os.environ.get("CRASH_TEST_DAY") != "full":
        day = slice_day(day, "07:00:00", "10:00:00")
    kills_wanted = int(os.environ.get("CRASH_TEST_KILLS", "3"))
    server = ServerProcess(
        str(CONFIG), db=str(tmp_path / "journal.db"), log_file=str(tmp_path / "server.log")
    )
    connections: list[Connection] = []

    async def connect() -> Connection:
        address = await asyncio.to_thread(server.start)
        connection = Connection(address)
        await connection.wait_ready()
        connections.append(connection)
        return connection

    async def restart() -> Connection:
        server.kill()  # it is dead already; make sure of it before reusing the journal
        return await connect()

    kills = 0
    replay = Replay(await connect(), day, on_server_lost=restart)
    events = 2 * len(day.calls) + 2 * len(day.shifts)  # roughly: submit and end or abandon
    chance = random.Random(5)

    async def killer() -> None:
        nonlocal kills
        for k in range(1, kills_wanted + 1):
            target = events * k // (kills_wanted + 1)
            while replay.events_run < target:
                await asyncio.sleep(0.002)  # a test watching a child process
            await asyncio.sleep(chance.uniform(0, 0.02))  # land inside an event, not between
            server.process.kill()  # SIGKILL: no flush, no goodbye
            kills += 1

    try:
        killing = asyncio.create_task(killer())
        result = await replay.run()
        await killing
        acknowledged = [s for s in replay.calls.values() if s.conversation_id]
        lost, inconsistent = [], []
        connection = replay.connection
        for state in acknowledged:
            response = await connection.gateway.GetConversation(
                gateway_pb2.GetConversationRequest(conversation_id=state.conversation_id)
            )
            conversation = response.conversation
            expected = "abandoned" if state.abandoned_at is not None else "closed_by_agent"
            if conversation.state != CLOSED:
                lost.append(state.call.key)
            elif conversation.close_reason != expected:
                inconsistent.append((state.call.key, conversation.close_reason, expected))
        figures = figures_of(result.results, submitted=len(day.calls))
        print(
            f"\ncrash test: {len(day.calls)} calls, {kills} SIGKILLs, {replay.restarts} "
            f"restarts, {len(acknowledged)} acknowledged submits, lost {len(lost)}, "
            f"inconsistent {len(inconsistent)}; served {figures.served}, abandoned "
            f"{figures.abandoned}, unserved {figures.unserved}"
        )
        assert kills == kills_wanted and replay.restarts >= kills
        assert result.errors == [], result.errors  # first: an error here explains what follows
        assert len(acknowledged) == len(day.calls)  # every call was submitted in the end
        assert lost == [] and inconsistent == []
        assert figures.submitted == figures.served + figures.abandoned
        assert figures.unserved == 0
        assert result.violations == [], result.violations
    finally:
        for connection in connections:
            await connection.close()
        server.kill()
        server.clean_up()  # its work folder (the journal and log live in tmp_path)
