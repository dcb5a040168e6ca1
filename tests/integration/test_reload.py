"""Reloading the configuration while the server runs: RPC and SIGHUP, with work in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from switchboard.clients.connection import Connection
from switchboard.v1 import admin_pb2, gateway_pb2

from tests.integration.support import ACTIVE, Centre

BEFORE = """
work_streams:
  - id: chat
    channel: chat
    route:
      - {name: sales, when: 'context.topic == "sales"', queue: sales}
    fallback_queue: support
queues:
  - {id: sales, members: [a1]}
  - {id: support}
agents: [{id: a1, capacity: 1}]
"""
# Sales now goes to a new queue; a2 joins.
AFTER = (
    BEFORE.replace("queue: sales}", "queue: deals}")
    .replace("  - {id: support}", "  - {id: support}\n  - {id: deals, members: [a2]}")
    .replace("agents: [{id: a1, capacity: 1}]", "agents: [{id: a1, capacity: 1}, {id: a2}]")
)


async def reload(centre: Centre) -> list[str]:
    response = await centre.conn.admin.ReloadConfig(admin_pb2.ReloadConfigRequest())
    return list(response.changes)


async def test_new_work_follows_the_new_rules_and_old_work_stays(harness) -> None:
    centre = await Centre.start(harness, BEFORE)
    a1 = await centre.signin("a1")
    held = (await centre.submit(context={"topic": "sales"})).conversation_id
    await centre.settle()
    await a1.accept(held)
    queued = (await centre.submit(context={"topic": "sales"})).conversation_id
    await centre.settle()
    harness.config_path.write_text(AFTER)
    changes = await reload(centre)
    assert "queue deals: added" in changes and "agent a2: added" in changes
    assert "work stream chat: changed" in changes
    after = await centre.submit(context={"topic": "sales"})
    assert after.queue_id == "deals"
    assert await centre.waiting("sales") == [queued]  # still in its old queue, in its place
    assert (await centre.conversation(held)).state == ACTIVE
    a2 = await centre.signin("a2")
    await centre.settle()
    assert a2 is not None and (await centre.conversation(after.conversation_id)).agent_id == "a2"


async def test_a_bad_file_is_refused_and_changes_nothing(harness) -> None:
    centre = await Centre.start(harness, BEFORE)
    harness.config_path.write_text(BEFORE.replace("channel: chat", "channel: chta"))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await reload(centre)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "centre.yaml:4: work_streams[0].channel" in info.value.details()
    assert (await centre.submit(context={"topic": "sales"})).queue_id == "sales"


async def test_dropping_a_queue_needs_a_restart(harness) -> None:
    centre = await Centre.start(harness, BEFORE)
    harness.config_path.write_text(
        BEFORE.replace("  - {id: support}\n", "").replace(
            "fallback_queue: support", "fallback_queue: sales"
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await reload(centre)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "support" in info.value.details()
    assert (await centre.submit(context={"topic": "x"})).queue_id == "support"


async def test_after_a_restart_without_a_queue_its_provisioned_agents_stay_in_the_others(
    harness, tmp_path
) -> None:
    db = str(tmp_path / "journal.db")
    centre = await Centre.start(harness, BEFORE, db=db)
    await centre.conn.admin.UpsertAgent(
        admin_pb2.UpsertAgentRequest(agent_id="p1", capacity=1, queue_ids=["sales", "support"])
    )
    await centre.conn.admin.UpsertAgent(
        admin_pb2.UpsertAgentRequest(agent_id="p2", capacity=1, queue_ids=["support"])
    )
    await harness.stop()
    without_support = BEFORE.replace("  - {id: support}\n", "").replace(
        "fallback_queue: support", "fallback_queue: sales"
    )
    centre = await Centre.start(harness, without_support, db=db)  # it used to crash here
    assert list((await centre.agent("p1")).queue_ids) == ["sales"]
    assert list((await centre.agent("p2")).queue_ids) == []  # kept, in no queue
    p1 = await centre.signin("p1")
    cid = (await centre.submit(context={"topic": "sales"})).conversation_id
    await centre.settle()
    assert cid in [m.offer.conversation.id for m in p1.messages if m.HasField("offer")]
    # And so it stays: the journal now holds the agents as they came back.
    await harness.stop()
    centre = await Centre.start(harness, without_support, db=db)
    assert list((await centre.agent("p1")).queue_ids) == ["sales"]


async def test_reload_under_load_loses_nothing(harness) -> None:
    centre = await Centre.start(harness, BEFORE)
    submitted: list[str] = []

    async def submit_many() -> None:
        for _ in range(200):
            response = await centre.submit(context={"topic": "sales"})
            submitted.append(response.conversation_id)

    async def flip() -> None:
        # Back and forth between two files that keep every queue (dropping one is refused).
        other = AFTER.replace("queue: deals}", "queue: sales}").replace(
            "{id: sales, members: [a1]}", "{id: sales, members: [a1], method: round_robin}"
        )
        for text in (AFTER, other) * 5:
            harness.config_path.write_text(text)
            await reload(centre)
            await asyncio.sleep(0)

    await asyncio.gather(submit_many(), submit_many(), flip())
    await centre.settle()
    # Both files were applied in turn: some work went to each queue.
    assert await centre.waiting("deals") and await centre.waiting("sales")
    waiting = set()
    for queue in ("sales", "deals", "support"):
        waiting |= set(await centre.waiting(queue))
    assert len(submitted) == 400
    assert waiting == set(submitted)


def test_sighup_reloads_the_file(tmp_path: Path) -> None:
    config = tmp_path / "centre.yaml"
    config.write_text(BEFORE)
    port_file = tmp_path / "address"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "switchboard.server.cli",
            "serve",
            "--config",
            str(config),
            "--listen",
            "127.0.0.1:0",
            "--db",
            str(tmp_path / "s.db"),
            "--port-file",
            str(port_file),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        address = _wait_for(port_file, process)

        async def route() -> str:
            async with Connection(address) as connection:
                response = await connection.gateway.SubmitWork(
                    gateway_pb2.SubmitWorkRequest(work_stream_id="chat", context={"topic": "sales"})
                )
                return response.queue_id

        assert asyncio.run(route()) == "sales"
        config.write_text(AFTER)
        os.kill(process.pid, signal.SIGHUP)
        deadline = 100
        while asyncio.run(route()) != "deals" and deadline:
            deadline -= 1
        assert deadline, "the reload never took effect"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0


def _wait_for(path: Path, process: subprocess.Popen) -> str:
    import time

    deadline = time.monotonic() + 20
    while not path.exists() or not path.read_text():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)  # waiting on a child process
    return path.read_text().strip()
