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
