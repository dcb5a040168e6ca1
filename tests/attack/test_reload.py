"""Reloading the configuration (AdminService.ReloadConfig) while work is in flight: the README
promises that queued and active work stays where it is and new work follows the new rules."""

from __future__ import annotations

import grpc
from switchboard.v1 import admin_pb2, gateway_pb2

from tests.attack.checks import ACTIVE, CLOSED, WRAP_UP, check_invariants
from tests.integration.support import Centre, refused

BEFORE = """
work_streams:
  - id: chat
    channel: chat
    fallback_queue: chats
    offer_timeout_s: 30
  - id: mail
    channel: email
    fallback_queue: mails
    wrap_up: none
queues:
  - {id: chats, members: [a1, a2]}
  - {id: mails, type: record, members: [a1, a2]}
agents:
  - {id: a1, capacity: 2}
  - {id: a2, capacity: 2}
"""
# The mail work stream is withdrawn; its queue stays (dropping a queue needs a restart).
WITHOUT_MAIL = BEFORE.replace(
    """  - id: mail
    channel: email
    fallback_queue: mails
    wrap_up: none
""",
    "",
)


async def reload(harness, centre: Centre, text: str) -> list[str]:
    harness.config_path.write_text(text)
    response = await centre.conn.admin.ReloadConfig(admin_pb2.ReloadConfigRequest())
    await centre.settle()
    return list(response.changes)


async def test_work_of_a_removed_work_stream_still_ends_and_closes(harness) -> None:
    centre = await Centre.start(harness, BEFORE)
    a1 = await centre.signin("a1")
    by_agent = (await centre.submit("mail")).conversation_id
    by_customer = (await centre.submit("mail")).conversation_id
    for cid in (by_agent, by_customer):
        await a1.accept(cid)
    await centre.settle()
    changes = await reload(harness, centre, WITHOUT_MAIL)
    assert "work stream mail: removed (new work is refused)" in changes
    for cid in (by_agent, by_customer):
        assert (await centre.conversation(cid)).state == ACTIVE  # it stays where it is

    await refused(
        centre.conn.gateway.SubmitWork(gateway_pb2.SubmitWorkRequest(work_stream_id="mail")),
        grpc.StatusCode.NOT_FOUND,
    )
    await a1.end(by_agent)
    await centre.conn.gateway.EndConversation(
        gateway_pb2.GatewayEndConversationRequest(conversation_id=by_customer)
    )
    await centre.settle()
    for cid in (by_agent, by_customer):
        assert (await centre.conversation(cid)).state == WRAP_UP
        await a1.close(cid)
    await centre.settle()
    for cid in (by_agent, by_customer):
        assert (await centre.conversation(cid)).state == CLOSED
    agent = await centre.agent("a1")
    assert (agent.capacity_used, list(agent.conversation_ids)) == (0, [])
    await check_invariants(centre.conn, [by_agent, by_customer])


async def test_reload_in_the_middle_of_a_burst_keeps_every_invariant(harness) -> None:
    centre = await Centre.start(harness, BEFORE)
    desks = {a: await centre.signin(a) for a in ("a1", "a2")}
    submitted = [(await centre.submit("chat")).conversation_id for _ in range(10)]
    # Swap the assignment method and shrink a2 while ten chats are offered and waiting.
    changed = BEFORE.replace(
        "  - {id: chats, members: [a1, a2]}",
        "  - {id: chats, method: round_robin, members: [a1, a2]}",
    ).replace("  - {id: a2, capacity: 2}", "  - {id: a2, capacity: 1}")
    changes = await reload(harness, centre, changed)
    assert "queue chats: changed" in changes and "agent a2: changed" in changes
    submitted += [(await centre.submit("chat")).conversation_id for _ in range(5)]
    for _ in range(20):
        offered = [(a, c) for a in desks for c in (await centre.agent(a)).offered_ids]
        if not offered:
            break
        for a, c in offered:
            await desks[a].accept(c)
            await desks[a].end(c)
            await desks[a].close(c)
        await centre.settle()
        await check_invariants(centre.conn, submitted)
    conversations = await check_invariants(centre.conn, submitted)
    assert all(c.state == CLOSED for c in conversations.values())
    assert (await centre.agent("a2")).capacity_total == 1
