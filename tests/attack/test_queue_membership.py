"""An agent who leaves a queue and joins it again while the queue's proposal to them is in
flight: the queue's books of what it has proposed to that agent must stay right.

Three UpsertAgent calls for one agent (join q1, leave q1, join q1 again) whose handlers run in
the same turn of the event loop, as concurrent admin calls do on a busy server, reach the agent
before the queue's first proposal does. Found by this attack (fixed in b390754): the queue
forgot the in-flight proposal with the old member and settled it against the new one, its
count went negative, and with cost-2 work queue and agent bounced one proposal for ever, so
AdvanceClock never answered and the whole server stopped responding.

The server runs in a child process so that the test can kill it if it hangs.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import grpc
import pytest
from switchboard.clients.connection import Connection, Desktop, settle
from switchboard.v1 import admin_pb2, common_pb2, gateway_pb2, supervisor_pb2

from tests.attack.checks import check_invariants
from tests.attack.procs import children, spawn, wait_for_file

CONFIG = """
work_streams:
  - id: chat
    channel: chat
    cost: 2
    fallback_queue: q1
    offer_timeout_s: 30
queues:
  - {id: q1, members: []}
  - {id: q2, members: [a1]}
agents:
  - {id: a1, capacity: 3}
"""


async def test_leave_and_rejoin_while_a_proposal_is_in_flight_keeps_the_engine_settling(
    tmp_path,
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG)
    port_file = tmp_path / "port"
    with children() as procs:
        server = spawn(
            [
                sys.executable,
                "-m",
                "tests.attack._server_proc",
                str(config),
                str(tmp_path / "s.db"),
                str(port_file),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(server)
        port = wait_for_file(port_file, server)
        conn = Connection(f"127.0.0.1:{port}")
        try:
            await conn.wait_ready()
            desktop = Desktop(conn, "a1")
            await desktop.connect(common_pb2.PRESENCE_AVAILABLE)
            cids = []
            for _ in range(2):
                r = await conn.gateway.SubmitWork(
                    gateway_pb2.SubmitWorkRequest(work_stream_id="chat")
                )
                cids.append(r.conversation_id)
            await settle(conn, [desktop], timeout=5)

            # Join q1, leave it, join it again: three admin calls in one turn of the loop.
            server.stdin.write("upsert a1 3 q1;upsert a1 3 q2;upsert a1 3 q1\n")
            server.stdin.flush()
            assert await asyncio.to_thread(server.stdout.readline) == "ok\n"

            # The engine must settle (one of the two conversations offered to a1, the other
            # waiting: a1 has 1 unit left, each needs 2), and keep answering.
            try:
                await asyncio.wait_for(settle(conn, [desktop], timeout=5), 5)
            except (TimeoutError, grpc.aio.AioRpcError) as exc:
                clock = None
                try:
                    await conn.admin.GetClock(admin_pb2.GetClockRequest(), timeout=2)
                    clock = "answers"
                except grpc.aio.AioRpcError as e:
                    clock = e.code().name
                pytest.fail(f"the engine never settled ({exc!r}); GetClock: {clock}")
            await check_invariants(conn, cids, cost=2)
            request = supervisor_pb2.GetAgentRequest(agent_id="a1")
            agent = (await conn.supervisor.GetAgent(request)).agent
            assert agent.capacity_used == 2 and len(agent.offered_ids) == 1
        finally:
            await conn.close()
