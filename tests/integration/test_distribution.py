"""Distribution beyond offers, over real gRPC on a manual clock: pick mode, capacity
profiles, force-assign, release, transfers, parking, affinity and preferred agents.
"""

from __future__ import annotations

import grpc
from switchboard.v1 import desktop_pb2, gateway_pb2, supervisor_pb2

from tests.integration.support import (
    ACTIVE,
    AVAILABLE,
    AWAY,
    OPEN,
    Centre,
    kinds,
    offers,
    refused,
)

WAITING = 3  # CONVERSATION_STATE_WAITING
FAILED = grpc.StatusCode.FAILED_PRECONDITION
DAY = 86_400.0


def centre_yaml(
    *,
    streams: str = "",
    profiles: str = "",
    agents: str = "",
    queues: str = "",
) -> str:
    """Queues q1 and q2 (messaging) and v1 (voice); agents a1, a2, a3 in q1."""
    return f"""
capacity_profiles:
  - {{id: total, limit: 3, reset: end_of_day}}
  - {{id: hot, limit: 1, reset: immediate}}
  - {{id: soft, limit: 1, reset: immediate, blocking: false}}
{profiles}
work_streams:
  - {{id: chat, channel: chat, fallback_queue: q1, offer_timeout_s: 30}}
  - {{id: email, channel: email, mode: pick, fallback_queue: r1}}
  - {{id: voice, channel: voice, fallback_queue: v1, auto_accept: true}}
{streams}
queues:
  - {{id: q1, members: [a1, a2, a3]}}
  - {{id: q2, members: [a3]}}
  - {{id: r1, type: record, members: [a1, a2]}}
  - {{id: v1, type: voice, members: [a1]}}
{queues}
agents:
  - {{id: a1, capacity: 2}}
  - {{id: a2, capacity: 2}}
  - {{id: a3, capacity: 1}}
{agents}
"""


async def assign(centre: Centre, cid: str, agent_id: str):
    return await centre.conn.supervisor.AssignConversation(
        supervisor_pb2.AssignConversationRequest(conversation_id=cid, agent_id=agent_id)
    )


async def customer_writes(centre: Centre, cid: str) -> int:
    response = await centre.conn.gateway.RecordCustomerMessage(
        gateway_pb2.RecordCustomerMessageRequest(conversation_id=cid)
    )
    await centre.settle()
    return response.state


# --- pick mode -----------------------------------------------------------------------


async def test_pick_work_is_listed_never_offered_and_taken_by_the_first_agent(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2")
    old = (await centre.submit("email")).conversation_id
    await centre.settle(5)
    urgent = (await centre.submit("email", priority=5)).conversation_id
    assert offers(a1) == offers(a2) == []
    assert await a1.pickable() == [urgent, old]  # priority first, then age

    await a1.take(old)
    await centre.settle()
    assert (await centre.conversation(old)).state == ACTIVE
    assert f"assignment {old}" in kinds(a1)
    error = await refused(a2.take(old), FAILED, "already taken", "agent a1")
    assert old in error.details()
    assert await a2.pickable() == [urgent]
    conversation = await centre.conversation(old)
    assert conversation.agent_id == "a1"
    assert "picked from the queue by a1" in conversation.timeline[-1].detail


async def test_taking_push_work_or_another_queues_work_is_refused(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    await centre.signin("a1")
    a3 = await centre.signin("a3")
    email = (await centre.submit("email")).conversation_id
    await refused(a3.take(email), FAILED, "not a member of queue r1")
    await centre.signin("a1", presence=5)  # offline: only a3 serves q1 now
    first = (await centre.submit("chat")).conversation_id
    second = (await centre.submit("chat")).conversation_id
    await a3.accept(first)
    await centre.settle()
    assert await centre.waiting("q1") == [second]
    snapshot = await centre.snapshot()
    await refused(a3.take(second), FAILED, "push mode", "offered to agents, not taken")
    assert await centre.snapshot() == snapshot
    assert await a3.pickable() == []


async def test_taking_needs_room_and_a_full_agent_is_refused(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    ids = [(await centre.submit("email")).conversation_id for _ in range(3)]
    await a1.take(ids[0])
    await a1.take(ids[1])
    await refused(a1.take(ids[2]), FAILED, "0 free capacity units")
    await centre.settle()
    assert await centre.waiting("r1") == [ids[2]]  # still there, in its place


# --- supervisor force-assign ---------------------------------------------------------


async def test_a_supervisor_may_assign_past_capacity_and_it_is_reported(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a3 = await centre.signin("a3")
    first = (await centre.submit("chat")).conversation_id
    await a3.accept(first)
    await centre.settle()
    second = (await centre.submit("chat")).conversation_id
    assert await centre.waiting("q1") == [second]

    response = await assign(centre, second, "a3")
    await centre.settle()
    assert response.over_capacity == "over capacity: 2 of 1 capacity units"
    assert response.conversation.state == ACTIVE
    assert "force-assigned by a supervisor to a3" in response.conversation.timeline[-1].detail
    status = await centre.agent("a3")
    assert status.over_capacity and status.capacity_used == 2
    assert f"assignment {second}" in kinds(a3)
    # Once done with both, a3 is back within capacity and takes work again.
    for cid in (first, second):
        await a3.end(cid)
        await a3.close(cid)
    await centre.settle()
    assert not (await centre.agent("a3")).over_capacity


async def test_force_assign_needs_waiting_work_and_a_connected_agent(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    cid = (await centre.submit("chat")).conversation_id
    await refused(assign(centre, cid, "a1"), FAILED, "no desktop is connected")
    assert await centre.waiting("q1") == [cid]
    await refused(assign(centre, "nope", "a1"), grpc.StatusCode.NOT_FOUND, "nope")
    await refused(assign(centre, cid, "zz"), grpc.StatusCode.NOT_FOUND, "zz")
    await centre.signin("a1")
    await refused(assign(centre, cid, "a1"), FAILED, "offered to agent a1")


# --- capacity profiles ---------------------------------------------------------------


async def test_an_end_of_day_profile_starts_over_at_midnight(harness) -> None:
    centre = await Centre.start(
        harness,
        centre_yaml(
            streams="  - {id: case, channel: record, capacity_profile: total, "
            "auto_accept: true, wrap_up: none, fallback_queue: r1, mode: push}",
            agents="  - {id: a4, capacity: 10, capacity_profiles: [total], queues: [r1]}",
        ),
    )
    a4 = await centre.signin("a4")
    ids = [(await centre.submit("case")).conversation_id for _ in range(4)]
    held = (await centre.agent("a4")).conversation_ids
    assert list(held) == ids[:3]
    for cid in ids[:3]:
        await a4.end(cid)
        await a4.close(cid)
    await centre.settle()
    assert await centre.waiting("r1") == [ids[3]]  # the day's three are used up
    assert dict((await centre.agent("a4")).capacity_profiles_used) == {"total": 3}
    await centre.settle(DAY)  # midnight UTC (the test clock starts at 00:16:40)
    assert list((await centre.agent("a4")).conversation_ids) == [ids[3]]
    assert dict((await centre.agent("a4")).capacity_profiles_used) == {"total": 1}


async def test_an_immediate_profile_frees_its_place_at_close_and_overrides_apply(harness) -> None:
    centre = await Centre.start(
        harness,
        centre_yaml(
            streams="  - {id: hot, channel: chat, capacity_profile: hot, auto_accept: true, "
            "wrap_up: always, fallback_queue: q2}",
            agents="  - {id: a5, capacity: 5, capacity_profiles: [{id: hot, limit: 2}], "
            "queues: [q2]}",
        ),
    )
    a5 = await centre.signin("a5")
    ids = [(await centre.submit("hot")).conversation_id for _ in range(3)]
    status = await centre.agent("a5")
    assert list(status.conversation_ids) == ids[:2]  # a5's own limit is 2
    assert dict(status.capacity_profile_limits) == {"hot": 2}
    await a5.end(ids[0])
    await centre.settle()
    assert await centre.waiting("q2") == [ids[2]]  # wrap-up still holds its place
    await a5.close(ids[0])
    await centre.settle()
    assert list((await centre.agent("a5")).conversation_ids) == ids[1:]


async def test_a_profile_that_does_not_block_stops_pushes_but_not_picks(harness) -> None:
    centre = await Centre.start(
        harness,
        centre_yaml(
            streams="  - {id: note, channel: email, mode: pick, capacity_profile: soft, "
            "fallback_queue: r2}\n"
            "  - {id: memo, channel: email, capacity_profile: soft, auto_accept: true, "
            "fallback_queue: r2}",
            queues="  - {id: r2, type: record, members: [a6]}",
            agents="  - {id: a6, capacity: 5, capacity_profiles: [soft]}",
        ),
    )
    a6 = await centre.signin("a6")
    memo1 = (await centre.submit("memo")).conversation_id
    memo2 = (await centre.submit("memo")).conversation_id
    assert list((await centre.agent("a6")).conversation_ids) == [memo1]
    assert await centre.waiting("r2") == [memo2]
    note = (await centre.submit("note")).conversation_id
    await a6.take(note)  # past the soft limit, by the agent's own choice
    conversation = await centre.conversation(note)
    assert conversation.state == ACTIVE
    assert "capacity profile soft 2 of 1" in conversation.timeline[-1].detail


async def test_work_of_a_profile_the_agent_lacks_is_never_offered_to_them(harness) -> None:
    centre = await Centre.start(
        harness,
        centre_yaml(
            streams="  - {id: hot, channel: chat, capacity_profile: hot, fallback_queue: q1}"
        ),
    )
    a1 = await centre.signin("a1")
    cid = (await centre.submit("hot")).conversation_id
    assert offers(a1) == []
    assert await centre.waiting("q1") == [cid]


# --- release, transfers, parking -----------------------------------------------------


async def test_released_work_goes_to_someone_else_not_back(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    cid = (await centre.submit("chat")).conversation_id
    await a1.accept(cid)
    await a1.release(cid)
    await centre.settle()
    assert (await centre.conversation(cid)).state == OPEN
    assert offers(a1) == [cid]  # never offered again
    assert await centre.waiting("q1") == [cid]
    a2 = await centre.signin("a2")
    assert offers(a2) == [cid]
    assert (await centre.agent("a1")).capacity_used == 0


async def test_transfer_to_an_agent_moves_the_capacity(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    a3 = await centre.signin("a3")
    cid = (await centre.submit("chat")).conversation_id
    holder, other = (a1, a3) if offers(a1) else (a3, a1)
    await holder.accept(cid)
    await centre.settle()
    response = await holder.transfer(cid, to_agent=other.agent_id)
    await centre.settle()
    assert response.agent_id == other.agent_id
    conversation = await centre.conversation(cid)
    assert (conversation.state, conversation.agent_id) == (ACTIVE, other.agent_id)
    assert (await centre.agent(holder.agent_id)).capacity_used == 0
    assert (await centre.agent(other.agent_id)).capacity_used == 1
    assert f"assignment {cid}" in kinds(other)
    assert conversation.timeline[-1].kind == "transferred"
    await other.end(cid)  # the new holder carries on with it


async def test_a_refused_transfer_leaves_the_work_where_it_was(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    a3 = await centre.signin("a3")
    first = (await centre.submit("chat")).conversation_id
    second = (await centre.submit("chat")).conversation_id
    for desktop in (a1, a3):
        for cid in (first, second):
            if cid in offers(desktop):
                await desktop.accept(cid)
    third = (await centre.submit("chat")).conversation_id
    await a1.accept(third)
    await centre.settle()
    a1_work = list((await centre.agent("a1")).conversation_ids)
    before = await centre.snapshot()
    await refused(a1.transfer(a1_work[0], to_agent="a3"), FAILED, "0 free capacity units")
    await refused(a1.transfer(a1_work[0], to_agent="a1"), grpc.StatusCode.INVALID_ARGUMENT)
    await refused(a1.transfer(a1_work[0]), grpc.StatusCode.INVALID_ARGUMENT, "to_agent_id")
    await refused(a1.transfer(a1_work[0], to_queue="v1"), FAILED, "voice queue")
    await refused(a1.transfer(a1_work[0], to_queue="zz"), grpc.StatusCode.NOT_FOUND)
    await centre.settle()
    assert await centre.snapshot() == before
    await a1.end(a1_work[0])  # still theirs, still active


async def test_transfer_to_a_queue_routes_it_there(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    cid = (await centre.submit("chat")).conversation_id
    await a1.accept(cid)
    response = await a1.transfer(cid, to_queue="q2")
    await centre.settle()
    assert response.state == OPEN
    conversation = await centre.conversation(cid)
    assert conversation.queue_id == "q2"
    assert await centre.waiting("q2") == [cid]
    a3 = await centre.signin("a3")
    assert offers(a3) == [cid]


async def test_parked_work_releases_capacity_and_comes_back_with_affinity(harness) -> None:
    centre = await Centre.start(
        harness,
        centre_yaml(
            streams="  - {id: sms, channel: sms, affinity: true, fallback_queue: q1, "
            "auto_close: {waiting: 3600}}"
        ),
    )
    a1 = await centre.signin("a1")
    cid = (await centre.submit("sms")).conversation_id
    await a1.accept(cid)
    await a1.park(cid)
    await centre.settle()
    assert (await centre.conversation(cid)).state == WAITING
    assert (await centre.agent("a1")).capacity_used == 0
    a2 = await centre.signin("a2")
    other = (await centre.submit("sms")).conversation_id  # a1 has room again
    assert other in offers(a1) or other in offers(a2)
    assert await customer_writes(centre, cid) == OPEN
    # Back to a1 who parked it, although a2 is free and a1 is not idle.
    assert offers(a1)[-1] == cid
    conversation = await centre.conversation(cid)
    assert "affinity: a1 first" in " ".join(e.detail for e in conversation.timeline)


async def test_resume_needs_room_and_voice_cannot_be_parked(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a3 = await centre.signin("a3")
    cid = (await centre.submit("chat")).conversation_id
    await a3.accept(cid)
    await a3.park(cid)
    other = (await centre.submit("chat")).conversation_id
    await a3.accept(other)
    await refused(a3.resume(cid), FAILED, "0 free capacity units")
    await a3.end(other)
    await a3.close(other)
    await a3.resume(cid)
    await centre.settle()
    assert (await centre.conversation(cid)).state == ACTIVE
    a1 = await centre.signin("a1")
    call = (await centre.submit("voice")).conversation_id
    await refused(a1.park(call), FAILED, "voice call")


async def test_parked_work_closes_after_the_waiting_timeout(harness) -> None:
    centre = await Centre.start(
        harness,
        centre_yaml(
            streams="  - {id: sms, channel: sms, fallback_queue: q1, auto_close: {waiting: 600}}"
        ),
    )
    a1 = await centre.signin("a1")
    cid = (await centre.submit("sms")).conversation_id
    await a1.accept(cid)
    await a1.park(cid)
    await centre.settle(601)
    conversation = await centre.conversation(cid)
    assert conversation.close_reason == "auto_close_waiting"
    assert list((await centre.agent("a1")).conversation_ids) == []
    await refused(customer_writes(centre, cid), FAILED, "closed")


# --- preferred agents ----------------------------------------------------------------


async def test_preferred_agents_are_tried_first_in_rank(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2")
    cid = (await centre.submit("chat", preferred_agent_ids=["a3", "a2", "a1"])).conversation_id
    assert offers(a2) == [cid] and offers(a1) == []  # a3 is not signed in
    await refused(
        centre.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(
                work_stream_id="chat", preferred_agent_ids=["a1", "a2", "a3", "a1"]
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "at most 3",
    )
    await refused(
        centre.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(work_stream_id="chat", preferred_agent_ids=["zz"])
        ),
        grpc.StatusCode.NOT_FOUND,
        "zz",
    )


async def test_the_desktop_rpcs_refuse_work_the_agent_does_not_hold(harness) -> None:
    centre = await Centre.start(harness, centre_yaml())
    a1 = await centre.signin("a1")
    a2 = await centre.signin("a2")
    cid = (await centre.submit("chat")).conversation_id
    holder, other = (a1, a2) if offers(a1) else (a2, a1)
    for call in (other.release, other.park, other.resume, holder.release, holder.park):
        await refused(call(cid), FAILED)
    await refused(other.transfer(cid, to_queue="q2"), FAILED, "does not hold")
    request = desktop_pb2.ReleaseConversationRequest(agent_id="a1", conversation_id="nope")
    await refused(centre.conn.desktop.ReleaseConversation(request), grpc.StatusCode.NOT_FOUND)


# --- custom presences ----------------------------------------------------------------


async def test_a_custom_presence_routes_as_its_base_and_is_shown_by_name(harness) -> None:
    yaml_text = "settings:\n  custom_presences: {lunch: away, backoffice: busy}\n" + centre_yaml()
    centre = await Centre.start(harness, yaml_text)
    a1 = await centre.signin("a1")
    response = await centre.conn.desktop.SetPresence(
        desktop_pb2.SetPresenceRequest(agent_id="a1", custom_presence="lunch")
    )
    await centre.settle()
    assert (response.presence, response.custom_presence) == (AWAY, "lunch")
    status = await centre.agent("a1")
    assert (status.presence, status.custom_presence) == (AWAY, "lunch")
    assert a1.messages[-1].agent_update.custom_presence == "lunch"
    cid = (await centre.submit("chat")).conversation_id
    assert offers(a1) == []  # away: nothing offered
    await centre.conn.desktop.SetPresence(
        desktop_pb2.SetPresenceRequest(agent_id="a1", custom_presence="backoffice")
    )
    await centre.settle()
    assert offers(a1) == [cid]  # busy receives work by default

    await refused(
        centre.conn.desktop.SetPresence(
            desktop_pb2.SetPresenceRequest(agent_id="a1", custom_presence="nap")
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "'nap' is not configured",
        "backoffice, lunch",
    )
    await refused(
        centre.conn.desktop.SetPresence(
            desktop_pb2.SetPresenceRequest(
                agent_id="a1", custom_presence="lunch", presence=AVAILABLE
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "'lunch' is away",
    )


async def test_classification_may_choose_the_capacity_profile(harness) -> None:
    centre = await Centre.start(
        harness,
        centre_yaml(
            streams="""  - id: cases
    channel: chat
    fallback_queue: q1
    classify:
      - ruleset: kind
        rules:
          - {name: escalation, when: 'context.kind == "escalation"', set: {capacity_profile: hot}}
"""
        ),
    )
    a2 = await centre.signin("a2")  # a2 has no capacity profiles
    hot = (await centre.submit("cases", context={"kind": "escalation"})).conversation_id
    plain = (await centre.submit("cases", context={"kind": "question"})).conversation_id
    assert offers(a2) == [plain]
    assert await centre.waiting("q1") == [hot]
    conversation = await centre.conversation(hot)
    assert "capacity profiles hot" in conversation.timeline[1].detail


async def test_a_preferred_agent_no_selection_rule_takes_is_not_offered_the_work(harness) -> None:
    centre = await Centre.start(
        harness,
        centre_yaml(
            streams="  - {id: stocks, channel: chat, fallback_queue: s1}",
            queues="  - id: s1\n    method: custom\n    members: [a1, a2]\n    selection:\n"
            "      - {name: seniors, when: 'agent.attributes.level == \"senior\"'}",
            agents="  - {id: x, capacity: 1}",
        ).replace(
            "  - {id: a1, capacity: 2}", "  - {id: a1, capacity: 2, attributes: {level: senior}}"
        ),
    )
    a1 = await centre.signin("a1", presence=5)  # offline: the senior is away
    a2 = await centre.signin("a2")
    cid = (await centre.submit("stocks", preferred_agent_ids=["a2"])).conversation_id
    assert offers(a2) == [] and await centre.waiting("s1") == [cid]
    await a1.set_presence(AVAILABLE)
    await centre.settle()
    assert offers(a1) == [cid]


async def test_a_force_assign_past_a_profile_limit_is_reported_as_over_capacity(harness) -> None:
    centre = await Centre.start(
        harness,
        centre_yaml(
            streams="  - {id: hot, channel: chat, capacity_profile: hot, auto_accept: true, "
            "fallback_queue: q2}",
            agents="  - {id: a5, capacity: 5, capacity_profiles: [hot], queues: [q2]}",
        ),
    )
    await centre.signin("a5")
    first = (await centre.submit("hot")).conversation_id
    second = (await centre.submit("hot")).conversation_id
    assert list((await centre.agent("a5")).conversation_ids) == [first]
    response = await assign(centre, second, "a5")
    assert response.over_capacity == "over capacity: capacity profile hot 2 of 1"
    status = await centre.agent("a5")
    assert status.over_capacity and dict(status.capacity_profiles_used) == {"hot": 2}
