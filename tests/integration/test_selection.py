"""Queue-side selection over real gRPC on a manual clock: custom selection rules, widening
rings, prioritisation buckets and the closest skill match."""

from __future__ import annotations

from switchboard.v1 import admin_pb2, common_pb2

from tests.integration.support import AVAILABLE, AWAY, Centre, offers, seconds

CUSTOM = """
work_streams:
  - {id: chat, channel: chat, fallback_queue: q1}
queues:
  - id: q1
    method: custom
    members: [s1, l1, y1]
    selection:
      - {name: seniors, when: 'agent.attributes.level == "senior"', order: most_idle}
      - name: leeds
        when: 'has(agent.attributes.site) && agent.attributes.site == "leeds"'
        order: highest_capacity
agents:
  - {id: s1, capacity: 1, attributes: {level: senior}}
  - {id: l1, capacity: 2, attributes: {level: junior, site: leeds}}
  - {id: y1, capacity: 5, attributes: {level: junior, site: york}}
"""


async def test_custom_rules_pick_seniors_then_leeds_and_never_york(harness) -> None:
    centre = await Centre.start(harness, CUSTOM)
    s1, l1, y1 = [await centre.signin(agent_id) for agent_id in ("s1", "l1", "y1")]
    c1, c2, c3, c4 = [(await centre.submit()).conversation_id for _ in range(4)]
    assert offers(s1) == [c1]  # the seniors rule first, though l1 and y1 have more room
    assert offers(l1) == [c2, c3]  # then leeds
    assert offers(y1) == []  # no rule picks york: the work stays queued
    assert await centre.waiting("q1") == [c4]
    # A reload that moves y1 to Leeds re-evaluates the rules for it: the waiting work goes.
    harness.config_path.write_text(CUSTOM.replace("site: york", "site: leeds"))
    response = await centre.conn.admin.ReloadConfig(admin_pb2.ReloadConfigRequest())
    assert "agent y1: changed" in response.changes
    await centre.settle()
    assert offers(y1) == [c4]
    assert await centre.waiting("q1") == []


RINGS = """
work_streams:
  - {id: chat, channel: chat, fallback_queue: q1, skill_matching: exact, offer_timeout_s: 300}
queues:
  - id: q1
    members: [expert, novice, stranger]
    rings:
      - {after_s: 0, min_rating: 8}      # experts only at first
      - {after_s: 30, any_rating: true}  # then anyone holding the skills
      - {after_s: 60, any_member: true}  # then anyone at all
agents:
  - {id: expert, skills: {billing: 9}}
  - {id: novice, skills: {billing: 2}}
  - {id: stranger}
"""


async def offered_at(centre: Centre, cid: str) -> float:
    conversation = await centre.conversation(cid)
    (offered,) = [e for e in conversation.timeline if e.kind == "offered"]
    return seconds(offered.at)


async def test_work_widens_ring_by_ring_at_the_moment_each_ring_starts(harness) -> None:
    centre = await Centre.start(harness, RINGS)
    expert, novice, stranger = [await centre.signin(a) for a in ("expert", "novice", "stranger")]
    first = (await centre.submit(required_skills={"billing": 3})).conversation_id
    assert offers(expert) == [first]  # an expert is free: ring 1 admits them at once
    c1 = (await centre.submit(required_skills={"billing": 3})).conversation_id
    await centre.settle(29.5)
    assert (offers(novice), offers(stranger)) == ([], [])
    await centre.settle(45)  # nothing else happens: the ring's own timer offers it at 30 s
    assert offers(novice) == [c1]
    assert await offered_at(centre, c1) == 30
    c2 = (await centre.submit(required_skills={"billing": 3})).conversation_id  # at 45
    await centre.settle(104.9)
    assert offers(stranger) == []  # lacks billing until c2 has waited 60 s
    await centre.settle(200)
    assert offers(stranger) == [c2]
    assert await offered_at(centre, c2) == 105
    assert await centre.waiting("q1") == []


BUCKETS = """
work_streams:
  - id: chat
    channel: chat
    fallback_queue: q1
    classify:
      - ruleset: incidents
        rules: [{name: outage, when: 'context.topic == "outage"', set: {severity: 4}}]
queues:
  - id: q1
    members: [a1]
    prioritisation:
      - {name: gold, when: 'has(customer.attributes.tier) && customer.attributes.tier == "gold"'}
      - {name: incidents, when: 'outputs.severity >= 3', order: severity_then_age}
      - {name: leads, when: 'has(context.topic) && context.topic == "lead"', order: newest}
agents: [{id: a1, capacity: 1}]
"""


async def test_prioritisation_buckets_order_the_queue_and_what_an_agent_gets(harness) -> None:
    centre = await Centre.start(harness, BUCKETS)
    gold = common_pb2.Customer(id="c9", attributes={"tier": "gold"})
    submitted = {}
    for name, fields in [
        ("plain-high", {"priority": 9}),
        ("lead-old", {"context": {"topic": "lead"}}),
        ("outage", {"context": {"topic": "outage"}}),
        ("gold-low", {"customer": gold, "priority": 1}),
        ("lead-new", {"context": {"topic": "lead"}}),
        ("gold-high", {"customer": gold, "priority": 5}),
        ("plain-low", {}),
    ]:
        submitted[(await centre.submit(**fields)).conversation_id] = name
        await centre.settle(len(submitted))  # one second apart
    waiting = [submitted[cid] for cid in await centre.waiting("q1")]
    assert waiting == [
        "gold-high",
        "gold-low",
        "outage",
        "lead-new",
        "lead-old",
        "plain-high",  # unmatched work last, oldest first: not by priority
        "plain-low",
    ]
    a1 = await centre.signin("a1")
    assert [submitted[cid] for cid in offers(a1)] == ["gold-high"]


def closest_yaml() -> str:
    """A queue of 40 agents whose billing and french ratings run through 0..9 (agent bNfM
    holds billing N and french M; every tenth agent lacks french), capacity 1 each."""
    agents = []
    for n in range(40):
        billing, french = n % 10, (n * 3) % 10
        skills = f"billing: {billing}" + ("" if n % 10 == 9 else f", french: {french}")
        agents.append(f"  - {{id: a{n:02}, skills: {{{skills}}}}}")
    members = ", ".join(f"a{n:02}" for n in range(40))
    head = f"""
work_streams:
  - {{id: chat, channel: chat, fallback_queue: q1, skill_matching: closest}}
queues:
  - {{id: q1, method: closest_skill_match, members: [{members}]}}
agents:
"""
    return head + "\n".join(agents)


async def test_closest_match_offers_the_best_fit_among_many(harness) -> None:
    centre = await Centre.start(harness, closest_yaml())
    desktops = {f"a{n:02}": await centre.signin(f"a{n:02}") for n in range(40)}

    async def offered_to(**skills: int) -> str:
        cid = (await centre.submit(required_skills=skills)).conversation_id
        (agent,) = [a for a, d in desktops.items() if cid in offers(d)]
        return agent

    # Exact fits, earliest in the index first (all have equal room, never assigned).
    assert await offered_to(billing=4, french=2) == "a04"  # 4*3 % 10 == 2
    assert await offered_to(billing=4, french=2) == "a14"
    assert await offered_to(billing=4, french=2) == "a24"
    assert await offered_to(billing=4, french=2) == "a34"
    # No exact fit left: over-qualified by the least surplus (billing 5, french 5 -> 1 + 3;
    # billing 6, french 8 is 2 + 6), before anyone under-qualified.
    assert await offered_to(billing=4, french=2) == "a05"
    # Needing one skill: the closest rating, over before under.
    assert await offered_to(billing=9) == "a09"  # lacks french, which is not asked
    assert await offered_to(billing=9) == "a19"
    assert await offered_to(billing=9) == "a29"
    assert await offered_to(billing=9) == "a39"
    assert await offered_to(billing=9) == "a08"  # none left at 9 or above: 8, under by one


async def test_ring_timers_and_overflow_timers_share_the_queue_check(harness) -> None:
    config = RINGS.replace(
        "      - {after_s: 60, any_member: true}  # then anyone at all\n",
        "      - {after_s: 60, any_member: true}  # then anyone at all\n"
        "    overflow: [{when: {wait_more_than_s: 90}, then: {transfer_to: q2}}]\n"
        "  - {id: q2}\n",
    )
    centre = await Centre.start(harness, config)
    stranger = await centre.signin("stranger", AWAY)
    late = (await centre.submit(required_skills={"billing": 3})).conversation_id
    await centre.settle(50)
    early = (await centre.submit(required_skills={"billing": 3})).conversation_id  # at 50
    await centre.settle(70)  # `late` has reached any_member, but its only taker is away
    assert await centre.waiting("q1") == [late, early]
    await centre.settle(90.5)  # waited more than 90 s: transferred
    assert await centre.waiting("q2") == [late]
    await stranger.set_presence(AVAILABLE)  # asks for work: `early` is not for it yet
    await centre.settle(109.9)
    assert offers(stranger) == []
    await centre.settle(120)
    assert offers(stranger) == [early]
    assert await offered_at(centre, early) == 110  # 60 s after it arrived
