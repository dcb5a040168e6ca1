"""Queue-side selection, decided by a `QueueBook` alone (no actors, no threads): custom
selection rules, widening rings, prioritisation buckets and the closest skill match."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
from switchboard.actors.domain.eligibility import why_not_eligible
from switchboard.actors.domain.model import (
    AgentView,
    AssignmentMethod,
    Channel,
    Presence,
    SkillMatching,
    Ticket,
    Work,
    frozen_map,
)
from switchboard.actors.domain.ordering import backlog_key
from switchboard.actors.domain.prioritisation import Bucket, BucketOrder, placement
from switchboard.actors.domain.rings import (
    Ring,
    RingSkills,
    next_widening,
    ring_in_force,
    why_not_in_ring,
)
from switchboard.actors.domain.routing import compile_condition
from switchboard.actors.domain.selection import AGENT_VARIABLES, SelectionRule, rules_matched
from switchboard.actors.queue_book import QueueBook

M = AssignmentMethod
RECEIVING = frozenset({Presence.AVAILABLE, Presence.BUSY})


def view(
    agent_id: str,
    *,
    free: int = 1,
    capacity: int | None = None,
    presence: Presence = Presence.AVAILABLE,
    skills: dict | None = None,
    attributes: dict | None = None,
    assigned: float = -math.inf,
    released: float = -math.inf,
    version: int = 0,
) -> AgentView:
    return AgentView(
        agent_id,
        presence,
        free,
        free if capacity is None else capacity,
        frozen_map(skills),
        assigned,
        released,
        version,
        name=agent_id.upper(),
        attributes=frozen_map(attributes),
    )


def ticket(
    cid: str = "c1",
    *,
    at: float = 0.0,
    seq: int = 1,
    priority: int = 0,
    severity: int = 0,
    skills: dict | None = None,
    matching: SkillMatching = SkillMatching.NONE,
    context: dict | None = None,
    declined_by: str = "",
) -> Ticket:
    work = Work(
        cid,
        "chat",
        Channel.CHAT,
        "cust",
        frozen_map(),
        frozen_map(context),
        priority,
        frozen_map(skills),
        "q1",
        at,
        severity=severity,
    )
    declines = {declined_by: 3} if declined_by else {}
    return Ticket(work, at, seq, 1, RECEIVING, matching, False, 30.0, declines)


def rule(name: str, when: str, order: M = M.HIGHEST_CAPACITY) -> SelectionRule:
    return SelectionRule(name, compile_condition(when, AGENT_VARIABLES), order)


# --- custom selection rules ------------------------------------------------------------

SENIORS_THEN_LEEDS = (
    rule("seniors", 'agent.attributes.level == "senior"', M.MOST_IDLE),
    rule("leeds", 'has(agent.attributes.site) && agent.attributes.site == "leeds"'),
)

SENIOR = {"level": "senior"}
LEEDS = {"level": "junior", "site": "leeds"}
YORK = {"level": "junior", "site": "york"}


@pytest.mark.parametrize(
    ("members", "work", "chosen"),
    [
        # The first rule wins over a better-placed agent of a later rule.
        ([view("s1", attributes=SENIOR), view("l1", free=5, attributes=LEEDS)], ticket(), "s1"),
        # A senior without room: the next rule's best (most free capacity first).
        (
            [
                view("s1", free=0, capacity=1, attributes=SENIOR),
                view("l1", free=2, capacity=5, attributes=LEEDS),
                view("l2", free=4, capacity=5, attributes=LEEDS),
            ],
            ticket(),
            "l2",
        ),
        # Nobody any rule picks has room: the work stays queued, however free York is.
        (
            [view("s1", presence=Presence.AWAY, attributes=SENIOR), view("y1", attributes=YORK)],
            ticket(),
            None,
        ),
        # Among seniors, most idle first (released longest ago).
        (
            [
                view("s1", attributes=SENIOR, released=50.0),
                view("s2", attributes=SENIOR, released=10.0),
                view("s3", attributes=SENIOR, released=30.0),
            ],
            ticket(),
            "s2",
        ),
        # A senior who declined it too often is passed over, within the rule and then the next.
        (
            [view("s1", attributes=SENIOR), view("l1", attributes=LEEDS)],
            ticket(declined_by="s1"),
            "l1",
        ),
        # An agent without the attribute a rule tests is simply not matched by it.
        ([view("x1", attributes={})], ticket(), None),
    ],
)
def test_custom_selection_takes_the_first_rule_that_yields_an_agent(
    members: list[AgentView], work: Ticket, chosen: str | None
) -> None:
    book = QueueBook("q1", M.CUSTOM, RECEIVING, selection=SENIORS_THEN_LEEDS)
    for member in members:
        book.join(member)
    book.add(work)
    assert book.agent_for_new(work, 0.0) == chosen


def test_round_robin_inside_a_rule_is_kept_per_queue() -> None:
    book = QueueBook("q1", M.CUSTOM, RECEIVING, selection=(rule("all", "true", M.ROUND_ROBIN),))
    for agent_id in ("a1", "a2", "a3"):
        book.join(view(agent_id, free=3))
    chosen = []
    for n in range(5):
        work = ticket(f"c{n}", seq=n)
        book.add(work)
        agent_id = book.agent_for_new(work, 0.0)
        book.taken(work.conversation_id, agent_id, float(n))
        chosen.append(agent_id)
    assert chosen == ["a1", "a2", "a3", "a1", "a2"]


@dataclass
class CountingCondition:
    """Stands in for a compiled condition and counts how often it is evaluated."""

    attribute: str
    calls: list[str] = field(default_factory=list)

    def holds(self, variables: object) -> bool:
        agent = variables.variables["agent"]  # type: ignore[attr-defined]
        self.calls.append(agent["id"])
        return self.attribute in agent["attributes"]


def test_rules_are_evaluated_when_a_member_joins_or_its_facts_change_never_per_decision() -> None:
    condition = CountingCondition("vip")
    selection = (SelectionRule("vip", condition, M.HIGHEST_CAPACITY),)  # type: ignore[arg-type]
    book = QueueBook("q1", M.CUSTOM, RECEIVING, selection=selection)
    for n in range(3):
        book.join(view(f"a{n}", free=5, attributes={"vip": "yes"} if n else {}))
    assert condition.calls == ["a0", "a1", "a2"]
    for n in range(20):  # decisions, takes and load changes: no evaluation
        work = ticket(f"c{n}", seq=n)
        book.add(work)
        agent_id = book.agent_for_new(work, 0.0)
        book.taken(work.conversation_id, agent_id, 0.0)
        book.update(view(agent_id, free=5 - (n % 5), capacity=5, attributes={"vip": "yes"}))
    assert condition.calls == ["a0", "a1", "a2"]
    # Its attributes change: evaluated again, and it now counts for the rule.
    book.update(view("a0", free=5, attributes={"vip": "since today"}, version=1))
    assert condition.calls == ["a0", "a1", "a2", "a0"]
    assert [agent_id for _, agent_id in book.rule_indexes[0]].count("a0") == 1


def test_an_agent_no_rule_picks_never_asks_work_of_the_queue() -> None:
    book = QueueBook("q1", M.CUSTOM, RECEIVING, selection=SENIORS_THEN_LEEDS)
    book.join(view("y1", attributes=YORK))
    book.join(view("s1", attributes=SENIOR))
    book.add(ticket())
    assert book.best_work_for("y1", 0.0) is None
    assert book.best_work_for("s1", 0.0).conversation_id == "c1"


def test_new_selection_rules_on_reload_are_evaluated_for_every_member() -> None:
    book = QueueBook("q1", M.CUSTOM, RECEIVING, selection=SENIORS_THEN_LEEDS)
    book.join(view("y1", attributes=YORK))
    book.add(work := ticket())
    assert book.agent_for_new(work, 0.0) is None
    york = (rule("york", 'agent.attributes.site == "york"'),)
    book.reconfigure(M.CUSTOM, RECEIVING, selection=york)
    assert [list(book.assignable(0.0))] == [[(work, "y1")]]


def test_rules_matched_lists_positions_and_skips_undecidable_rules() -> None:
    rules = (
        rule("skilled", "has(agent.skills.billing) && agent.skills.billing >= 5"),
        rule("named", 'agent.name.startsWith("A")'),
        rule("missing", 'agent.attributes.team == "x"'),  # no such attribute: cannot decide
    )
    assert rules_matched(rules, view("a1", skills={"billing": 7})) == (0, 1)
    assert rules_matched(rules, view("b1", skills={"billing": 3})) == ()


# --- widening rings ----------------------------------------------------------------------

EXPERTS = Ring(0, RingSkills.MIN_RATING, 8)
ANY_RATING = Ring(30, RingSkills.ANY_RATING)
ANYONE = Ring(60, RingSkills.ANY_MEMBER)
BULLSEYE = (EXPERTS, ANY_RATING, ANYONE)


@pytest.mark.parametrize(
    ("waited", "ring"),
    [
        (0, EXPERTS),
        (29.9, EXPERTS),
        (30, ANY_RATING),
        (59, ANY_RATING),
        (60, ANYONE),
        (1e6, ANYONE),
    ],
)
def test_the_ring_in_force_is_the_last_one_reached(waited: float, ring: Ring) -> None:
    assert ring_in_force(BULLSEYE, 1000.1, 1000.1 + waited) is ring


def test_no_rings_no_ring_and_no_widening() -> None:
    assert ring_in_force((), 0.0, 100.0) is None
    assert next_widening((), 0.0, 100.0) is None


@pytest.mark.parametrize(
    ("now", "expected"),
    [(1000.1, 1030.1), (1030.0, 1030.1), (1030.1, 1060.1), (1060.1, None)],
)
def test_the_next_widening_is_strictly_after_now(now: float, expected: float | None) -> None:
    assert next_widening(BULLSEYE, 1000.1, now) == expected


@pytest.mark.parametrize(
    ("ring", "skills", "required", "ok"),
    [
        # min_rating: every required skill at max(min_rating, the required rating)
        (EXPERTS, {"billing": 8}, {"billing": 3}, True),
        (EXPERTS, {"billing": 7}, {"billing": 3}, False),
        (EXPERTS, {"billing": 8}, {"billing": 9}, False),  # the work's own rating is higher
        (EXPERTS, {"billing": 9, "fr": 8}, {"billing": 9, "fr": 2}, True),
        (EXPERTS, {"billing": 10}, {"billing": 2, "fr": 2}, False),  # fr missing
        (EXPERTS, {}, {}, True),  # work needing no skill
        (Ring(0, RingSkills.MIN_RATING, 0), {"fr": 2}, {"fr": 2}, True),  # plain exact match
        (Ring(0, RingSkills.MIN_RATING, 0), {"fr": 1}, {"fr": 2}, False),
        # any_rating: each required skill held, whatever its rating (0 included)
        (ANY_RATING, {"billing": 0}, {"billing": 9}, True),
        (ANY_RATING, {"fr": 10}, {"billing": 1}, False),
        # any_member: no skill needed
        (ANYONE, {}, {"billing": 9, "fr": 9}, True),
    ],
)
def test_what_each_ring_asks_of_an_agents_skills(
    ring: Ring, skills: dict, required: dict, ok: bool
) -> None:
    reason = why_not_in_ring(ring, skills, required)
    assert (reason is None) == ok, reason


def test_a_ring_overrides_exact_matching_but_not_capacity_presence_or_declines() -> None:
    novice = view("n1", skills={"billing": 1})
    work = ticket(skills={"billing": 5}, matching=SkillMatching.EXACT)
    assert why_not_eligible(novice, work) is not None  # exact matching alone refuses
    assert why_not_eligible(novice, work, ANYONE) is None
    assert why_not_eligible(view("n1", free=0, capacity=1), work, ANYONE) is not None
    assert why_not_eligible(view("n1", presence=Presence.AWAY), work, ANYONE) is not None
    assert why_not_eligible(novice, ticket(declined_by="n1"), ANYONE) is not None


def test_rings_keep_the_method_order_among_the_agents_they_admit() -> None:
    book = ring_book()  # highest capacity
    book.join(view("novice", free=5, skills={"billing": 1}))
    book.join(view("expert", free=1, skills={"billing": 9}))
    work = ticket(at=0.0, skills={"billing": 3}, matching=SkillMatching.EXACT)
    book.add(work)
    assert book.best_agent_for(work, 29.0) == "expert"  # only experts yet
    assert book.best_agent_for(work, 30.0) == "novice"  # both admitted: most free first


def ring_book() -> QueueBook:
    return QueueBook("q1", M.HIGHEST_CAPACITY, RECEIVING, rings=BULLSEYE)


@pytest.mark.parametrize(
    ("members", "waited", "chosen"),
    [
        ([("novice", {"billing": 1}), ("nobody", {})], 0, None),
        ([("novice", {"billing": 1}), ("nobody", {})], 29.9, None),
        ([("novice", {"billing": 1}), ("nobody", {})], 30, "novice"),
        ([("nobody", {})], 59, None),
        ([("nobody", {})], 60, "nobody"),
        ([("expert", {"billing": 8}), ("novice", {"billing": 1})], 0, "expert"),
        ([("good", {"billing": 5})], 0, None),  # above the work's rating, below the ring's
        ([("good", {"billing": 5})], 30, "good"),
    ],
)
def test_a_ticket_is_matched_by_the_ring_in_force_for_how_long_it_waited(
    members: list[tuple[str, dict]], waited: float, chosen: str | None
) -> None:
    book = ring_book()
    for agent_id, skills in members:
        book.join(view(agent_id, skills=skills))
    work = ticket(at=100.0, skills={"billing": 3}, matching=SkillMatching.EXACT)
    book.add(work)
    assert book.agent_for_new(work, 100.0 + waited) == chosen


def test_an_agent_asking_for_work_gets_the_oldest_its_ring_admits() -> None:
    book = ring_book()
    book.join(view("novice", skills={"billing": 1}))
    older = ticket("older", at=0.0, seq=1, skills={"billing": 3})
    newer = ticket("newer", at=20.0, seq=2, skills={"billing": 3})
    book.add(older)
    book.add(newer)
    assert book.best_work_for("novice", 29.0) is None
    assert book.best_work_for("novice", 30.0) is older
    assert book.best_work_for("novice", 45.0) is older  # newer only widens at 50


# --- prioritisation buckets ----------------------------------------------------------------


def bucket(name: str, when: str, order: BucketOrder) -> Bucket:
    return Bucket(name, compile_condition(when), order)


BUCKETS = (
    bucket("gold", 'has(context.tier) && context.tier == "gold"', BucketOrder.PRIORITY_THEN_AGE),
    bucket("incidents", "outputs.severity >= 3", BucketOrder.SEVERITY_THEN_AGE),
    bucket("leads", 'context.tier == "lead"', BucketOrder.NEWEST),  # undecidable without tier
    bucket("returns", 'work_stream == "returns"', BucketOrder.AGE),
)


@pytest.mark.parametrize(
    ("work", "expected"),
    [
        (ticket(context={"tier": "gold"}, severity=5), (0, BucketOrder.PRIORITY_THEN_AGE)),
        (ticket(severity=3), (1, BucketOrder.SEVERITY_THEN_AGE)),  # gold's has() is false
        (ticket(context={"tier": "lead"}), (2, BucketOrder.NEWEST)),
        (ticket(), (4, BucketOrder.AGE)),  # leads fails (no tier): unmatched, oldest first
        (ticket(context={"tier": "silver"}, severity=1), (4, BucketOrder.AGE)),
    ],
)
def test_work_goes_to_the_first_bucket_whose_condition_holds(
    work: Ticket, expected: tuple[int, BucketOrder]
) -> None:
    assert placement(BUCKETS, work.work) == expected


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (BucketOrder.PRIORITY_THEN_AGE, ["p9-late", "p1-early", "p1-late", "p1-late-2"]),
        (BucketOrder.AGE, ["p1-early", "p9-late", "p1-late", "p1-late-2"]),
        (BucketOrder.SEVERITY_THEN_AGE, ["p1-late", "p1-early", "p9-late", "p1-late-2"]),
        (BucketOrder.NEWEST, ["p1-late-2", "p1-late", "p9-late", "p1-early"]),
    ],
)
def test_each_bucket_order(order: BucketOrder, expected: list[str]) -> None:
    tickets = [
        ticket("p1-late", at=20.0, seq=3, priority=1, severity=5),
        ticket("p9-late", at=20.0, seq=2, priority=9),
        ticket("p1-early", at=10.0, seq=1, priority=1, severity=1),
        ticket("p1-late-2", at=20.0, seq=4, priority=1),
    ]
    ranked = sorted(tickets, key=lambda t: backlog_key(t, 0, order))
    assert [t.conversation_id for t in ranked] == expected


def test_without_buckets_the_order_is_priority_then_age() -> None:
    book = QueueBook("q1", M.HIGHEST_CAPACITY, RECEIVING)
    for work in [
        ticket("old-low", at=1.0, seq=1, priority=0),
        ticket("new-high", at=5.0, seq=2, priority=3, context={"tier": "gold"}),
        ticket("old-high", at=2.0, seq=3, priority=3),
    ]:
        book.add(work)
    assert [t.conversation_id for t in book.waiting()] == ["old-high", "new-high", "old-low"]


def test_buckets_are_served_in_order_each_with_its_own_sort_unmatched_last_oldest_first() -> None:
    book = QueueBook("q1", M.HIGHEST_CAPACITY, RECEIVING, prioritisation=BUCKETS)
    for work in [
        ticket("plain-old", at=1.0, seq=1, priority=9, context={"tier": "x"}),
        ticket("lead-old", at=2.0, seq=2, context={"tier": "lead"}),
        ticket("sev3", at=3.0, seq=3, severity=3),
        ticket("gold-low", at=4.0, seq=4, priority=1, context={"tier": "gold"}),
        ticket("lead-new", at=5.0, seq=5, context={"tier": "lead"}),
        ticket("sev7", at=6.0, seq=6, severity=7),
        ticket("gold-high", at=7.0, seq=7, priority=5, context={"tier": "gold"}),
        ticket("plain-new", at=8.0, seq=8, priority=0),
    ]:
        book.add(work)
    assert [t.conversation_id for t in book.waiting()] == [
        "gold-high",
        "gold-low",
        "sev7",
        "sev3",
        "lead-new",
        "lead-old",
        "plain-old",  # unmatched: oldest first, whatever its priority
        "plain-new",
    ]
    # An agent with room takes from the first bucket first.
    book.join(view("a1"))
    assert book.best_work_for("a1", 10.0).conversation_id == "gold-high"


def test_declined_work_keeps_its_place_and_a_reload_reorders_what_waits() -> None:
    book = QueueBook("q1", M.HIGHEST_CAPACITY, RECEIVING, prioritisation=BUCKETS)
    book.join(view("a1"))
    early = ticket("early", at=1.0, seq=1)
    gold = ticket("gold", at=2.0, seq=2, context={"tier": "gold"})
    for work in (early, gold):
        book.add(work)
    (pair,) = book.assignable(3.0)
    assert pair == (gold, "a1")
    assert book.returned(gold, view("a1", version=1))
    assert [t.conversation_id for t in book.waiting()] == ["gold", "early"]
    book.reconfigure(M.HIGHEST_CAPACITY, RECEIVING, prioritisation=())
    assert [t.conversation_id for t in book.waiting()] == ["early", "gold"]
