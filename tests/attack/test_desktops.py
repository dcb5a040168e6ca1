"""Desktops that stop reading, vanish, or drop and come back: over real gRPC, with desktops in
child processes where the test must kill or freeze them (SIGKILL, SIGSTOP).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from switchboard.clients.connection import Desktop
from switchboard.v1 import admin_pb2, common_pb2, desktop_pb2, gateway_pb2

from tests.attack.checks import ACTIVE, CLOSED, OPEN, WRAP_UP, check_invariants
from tests.attack.procs import children, spawn
from tests.integration.support import (
    AVAILABLE,
    BUSY_DND,
    OFFLINE,
    Centre,
    eventually,
    offers,
)

CONFIG = """
settings:
  decline_limit: 1000
  after_reject: keep
work_streams:
  - id: chat
    channel: chat
    fallback_queue: q1
    offer_timeout_s: 30
    wrap_up: always
queues:
  - {id: q1, members: [a1, a2]}
agents:
  - {id: a1, capacity: 1}
  - {id: a2, capacity: 1}
"""


async def desktop_process(centre: Centre, procs: list, agent_id: str) -> subprocess.Popen:
    """A desktop for `agent_id` in a child process, signed in Available."""
    process = spawn(
        [sys.executable, "-m", "tests.attack._desktop_proc", centre.conn.address, agent_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    procs.append(process)
    while True:
        line = await asyncio.to_thread(process.stdout.readline)
        assert line, f"the desktop process ended: {process.stderr.read()}"
        if line.strip() == "connected":
            break

    async def connected() -> bool:
        return (await centre.agent(agent_id)).connected

    await eventually(connected, f"{agent_id} is connected")
    return process


async def gone(centre: Centre, agent_id: str) -> None:
    async def disconnected() -> bool:
        return not (await centre.agent(agent_id)).connected

    await eventually(disconnected, f"the server notices {agent_id}'s desktop is gone")


async def engine_settled(centre: Centre) -> None:
    """Let the engine settle without waiting for deliveries: a desktop in another process (or
    a frozen one) is not counted by `Centre.settle`."""
    await centre.conn.admin.AdvanceClock(admin_pb2.AdvanceClockRequest())


async def submit(centre: Centre, **fields) -> str:
    r = await centre.conn.gateway.SubmitWork(
        gateway_pb2.SubmitWorkRequest(work_stream_id="chat", **fields)
    )
    await engine_settled(centre)
    return r.conversation_id


async def signin(centre: Centre, agent_id: str) -> Desktop:
    desktop = Desktop(centre.conn, agent_id)
    await desktop.connect(AVAILABLE)
    await engine_settled(centre)
    return desktop


async def received(desktop: Desktop, cid: str) -> None:
    async def offered() -> bool:
        return cid in offers(desktop)

    await eventually(offered, f"{desktop.agent_id} receives the offer of {cid}")


def rss_mib() -> int:
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0]) // 1024


async def test_a_frozen_desktop_flooded_with_offers_does_not_hold_up_anyone_else(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    with children() as procs:
        frozen = await desktop_process(centre, procs, "a1")
        os.kill(frozen.pid, signal.SIGSTOP)  # never reads again
        big = {f"k{i}": "x" * 4000 for i in range(64)}  # ~256 KiB of context per offer
        cid = await submit(centre, context=big)
        before = rss_mib()
        # 300 offers of the same big conversation pushed at a1, rejected on its behalf.
        for _ in range(300):
            await centre.conn.admin.AdvanceClock(admin_pb2.AdvanceClockRequest())
            await centre.conn.desktop.RejectOffer(
                desktop_pb2.RejectOfferRequest(agent_id="a1", conversation_id=cid)
            )
        await centre.conn.admin.AdvanceClock(admin_pb2.AdvanceClockRequest())
        assert rss_mib() - before < 100, "the server buffers every offer for the frozen desktop"
        # Another agent signing in is served at once: a2 gets the conversation next time
        # a1 lets go of it.
        a2 = await signin(centre, "a2")
        await centre.conn.desktop.RejectOffer(
            desktop_pb2.RejectOfferRequest(agent_id="a1", conversation_id=cid)
        )
        await engine_settled(centre)
        await received(a2, cid)
        # The frozen desktop's process dies: the server notices and a1 goes offline.
        frozen.kill()
        await gone(centre, "a1")
        agent = await centre.agent("a1")
        assert (agent.presence, agent.capacity_used) == (OFFLINE, 0)
        await engine_settled(centre)
        await check_invariants(centre.conn, [cid], decline_limit=1000)


async def test_sigkill_of_a_desktop_with_an_offer_ringing_gives_the_offer_to_another(
    harness,
) -> None:
    centre = await Centre.start(harness, CONFIG)
    with children() as procs:
        await desktop_process(centre, procs, "a1")
        a2 = await signin(centre, "a2")
        await a2.set_presence(common_pb2.PRESENCE_AWAY)
        cid = await submit(centre)
        assert (await centre.conversation(cid)).agent_id == "a1"
        await a2.set_presence(AVAILABLE)
        procs[0].kill()
        await gone(centre, "a1")
        await engine_settled(centre)
        conversation = await centre.conversation(cid)
        assert (conversation.state, conversation.agent_id, conversation.offer_pending) == (
            OPEN,
            "a2",
            True,
        )
        await received(a2, cid)
        assert offers(a2) == [cid]
        agent = await centre.agent("a1")
        assert (agent.presence, agent.capacity_used, list(agent.offered_ids)) == (OFFLINE, 0, [])
        await check_invariants(centre.conn, [cid])


async def test_sigkill_mid_active_then_reconnect_gives_the_work_back_to_the_new_desktop(
    harness,
) -> None:
    centre = await Centre.start(harness, CONFIG)
    with children() as procs:
        await desktop_process(centre, procs, "a1")
        cid = await submit(centre)
        await centre.conn.desktop.AcceptOffer(
            desktop_pb2.AcceptOfferRequest(agent_id="a1", conversation_id=cid)
        )
        procs[0].kill()
        await gone(centre, "a1")
        await engine_settled(centre)
        assert (await centre.conversation(cid)).state == ACTIVE
        again = await signin(centre, "a1")
        first = again.messages[0].agent_update
        assert list(first.conversation_ids) == [cid]
        assert (first.capacity_used, first.presence) == (1, BUSY_DND)
        await again.end(cid)
        await again.close(cid)
        await engine_settled(centre)
        assert (await centre.conversation(cid)).state == CLOSED
        await check_invariants(centre.conn, [cid])


async def test_disconnect_and_reconnect_mid_offer_mid_active_and_mid_wrap_up(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    a1 = await centre.signin("a1")
    cid = (await centre.submit()).conversation_id

    async def reconnect() -> Desktop:
        # Everything pushed so far reaches the old desktop first: a message still on the wire
        # when it hangs up is lost, and `settle` would wait for it for ever.
        await centre.settle()
        old = centre.desktops.pop("a1")
        await old.disconnect()
        await gone(centre, "a1")
        centre.desktops[f"a1-old-{len(centre.desktops)}"] = old
        return await centre.signin("a1")

    # Mid-offer: the offer is withdrawn, and offered again to the reconnected desktop (the
    # disconnect does not count as a decline).
    a1 = await reconnect()
    assert offers(a1) == [cid]
    await check_invariants(centre.conn, [cid])
    await a1.accept(cid)
    # Mid-active: the work stays with a1 and the new desktop is told it holds it.
    a1 = await reconnect()
    assert list(a1.messages[0].agent_update.conversation_ids) == [cid]
    assert (await centre.conversation(cid)).state == ACTIVE
    await a1.end(cid)
    await centre.settle()
    # Mid-wrap-up: same, and closing from the new desktop releases the capacity.
    a1 = await reconnect()
    assert list(a1.messages[0].agent_update.conversation_ids) == [cid]
    assert (await centre.conversation(cid)).state == WRAP_UP
    await a1.close(cid)
    await centre.settle()
    assert (await centre.conversation(cid)).state == CLOSED
    agent = await centre.agent("a1")
    assert (agent.capacity_used, agent.presence) == (0, AVAILABLE)
    await check_invariants(centre.conn, [cid])
    timeline = [(e.kind, e.detail) for e in (await centre.conversation(cid)).timeline]
    assert (
        "withdrawn",
        "offer to a1 withdrawn (agent disconnected; not counted as a decline); back to its "
        "place in the queue",
    ) in timeline
