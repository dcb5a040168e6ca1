"""Queue-side selection, decided by a `QueueBook` alone (no actors, no threads): custom
selection rules, widening rings, prioritisation buckets and the closest skill match."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sortedcontainers import SortedList
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
from switchboard.actors.domain.ordering import backlog_key, skill_fit
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
from switchboard.actors.skill_index import SkillIndex, closest_member

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


# --- closest skill match from the skill index ------------------------------------------------


def reference_closest(book: QueueBook, work: Ticket, now: float) -> str | None:
    """What the queue chose before the skill index: every member with room scored by
    `skill_fit`, ties by position in the index."""
    ring = book.ring_for(work, now)
    best = None
    for position, (_, agent_id) in enumerate(book.index):
        believed = book.members[agent_id].believed()
        if why_not_eligible(believed, work, ring) is None:
            rank = (skill_fit(believed.skills, work.work.required_skills), position)
            best = min(best or rank, rank)
    return None if best is None else book.index[best[1]][1]


def closest_book(*members: AgentView, rings: tuple[Ring, ...] = ()) -> QueueBook:
    book = QueueBook("q1", M.CLOSEST_SKILL_MATCH, RECEIVING, rings=rings)
    for member in members:
        book.join(member)
    return book


def test_one_skill_ratings_are_walked_exact_then_over_then_under() -> None:
    book = closest_book(
        view("none", free=9, skills={}),
        view("zero", free=1, skills={"billing": 0}),
        view("four", free=1, skills={"billing": 4}),
        view("seven", free=1, skills={"billing": 7}),
        view("six", free=1, skills={"billing": 6}),
        view("five-a", free=1, skills={"billing": 5}),
        view("five-b", free=2, skills={"billing": 5}),  # more room: first among exact fits
    )
    chosen = []
    for n in range(8):
        work = ticket(f"c{n}", seq=n, skills={"billing": 5}, matching=SkillMatching.CLOSEST)
        agent_id = book.agent_for_new(work, 0.0)
        if agent_id is None:
            break
        book.taken(work.conversation_id, agent_id, 0.0)
        book.update(view(agent_id, free=0, capacity=1, version=1))  # now full
        chosen.append(agent_id)
    # "none" and "zero" fit alike (a missing skill counts as 0): index order, more room first.
    assert chosen == ["five-b", "five-a", "six", "seven", "four", "none", "zero"]


@pytest.mark.parametrize(
    ("matching", "ring", "chosen"),
    [
        (SkillMatching.CLOSEST, None, "under"),  # under-qualified by 1 beats missing a skill
        (SkillMatching.EXACT, None, None),
        (SkillMatching.EXACT, Ring(0, RingSkills.ANY_RATING), "under"),
        (SkillMatching.EXACT, Ring(0, RingSkills.ANY_MEMBER), "under"),
        (SkillMatching.NONE, Ring(0, RingSkills.MIN_RATING, 9), None),
    ],
)
def test_closest_match_respects_exact_matching_and_rings(
    matching: SkillMatching, ring: Ring | None, chosen: str | None
) -> None:
    book = closest_book(
        view("under", skills={"billing": 3, "fr": 2}),
        view("partial", free=5, skills={"billing": 3}),
        rings=(ring,) if ring else (),
    )
    work = ticket(skills={"billing": 3, "fr": 3}, matching=matching)
    assert book.best_agent_for(work, 0.0) == chosen == reference_closest(book, work, 0.0)


def test_the_closest_skills_scenario_fits() -> None:
    need = {"product-x": 2, "spanish": 3, "billing": 3}
    book = closest_book(
        view("a1", free=10, skills={"product-x": 2, "spanish": 3, "billing": 3}),
        view("a2", free=10, skills={"product-x": 5, "spanish": 4, "billing": 1}),
        view("a3", free=10, skills={"product-x": 1, "spanish": 2, "billing": 1}),
    )
    chosen = []
    for n in range(3):
        work = ticket(f"c{n}", seq=n, skills=need, matching=SkillMatching.CLOSEST)
        chosen.append(book.agent_for_new(work, 0.0))
        book.update(view(chosen[-1], free=0, capacity=10, version=1))
    assert chosen == ["a1", "a2", "a3"]


def test_an_exact_fit_is_found_without_reading_the_whole_queue(monkeypatch) -> None:
    members = [
        view(f"a{n:04}", free=1 + n % 3, skills={"billing": n % 11, "fr": (n // 11) % 11})
        for n in range(5000)
    ]
    book = closest_book(*members)
    looked_at: list[str] = []
    judge = QueueBook._eligible

    def counting(self: QueueBook, agent_id: str, work: Ticket, ring: Ring | None) -> bool:
        looked_at.append(agent_id)
        return judge(self, agent_id, work, ring)

    monkeypatch.setattr(QueueBook, "_eligible", counting)
    # One skill: the first member of the exact rating. Two: members of one skill's rating are
    # read until one also fits the other (here 1 in 11 does), from both sides.
    for required, most in [({"billing": 4}, 1), ({"billing": 4, "fr": 7}, 40), ({"fr": 10}, 1)]:
        work = ticket(skills=required, matching=SkillMatching.CLOSEST)
        looked_at.clear()
        chosen = book.best_agent_for(work, 0.0)
        assert chosen == reference_closest(book, work, 0.0)
        assert len(looked_at) <= most, (required, len(looked_at))


SKILLS = ("billing", "fr", "de")
# Few ratings, so that different agents often fit equally well and ties must go by the index.
ratings = st.dictionaries(st.sampled_from(SKILLS), st.integers(0, 4), max_size=3)
members_st = st.lists(
    st.tuples(
        ratings,
        st.integers(0, 3),  # free units
        st.sampled_from([Presence.AVAILABLE, Presence.BUSY, Presence.AWAY]),
        st.floats(0, 100),  # last assigned
    ),
    min_size=0,
    max_size=25,
)
rings_st = st.sampled_from(
    [
        (),
        (Ring(0, RingSkills.MIN_RATING, 6),),
        (Ring(0, RingSkills.ANY_RATING),),
        (Ring(0, RingSkills.ANY_MEMBER),),
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    members=members_st,
    changes=st.lists(st.tuples(st.integers(0, 24), ratings, st.integers(0, 3)), max_size=10),
    required=ratings,
    matching=st.sampled_from(list(SkillMatching)),
    rings=rings_st,
    cost=st.integers(1, 2),
    declined=st.integers(0, 24),
)
def test_the_skill_index_chooses_as_a_full_scan_would(
    members, changes, required, matching, rings, cost, declined
) -> None:
    book = QueueBook("q1", M.CLOSEST_SKILL_MATCH, RECEIVING, rings=rings)
    for n, (skills, free, presence, assigned) in enumerate(members):
        book.join(
            view(
                f"a{n}", free=free, capacity=3, skills=skills, presence=presence, assigned=assigned
            )
        )
    for n, skills, free in changes:  # members' skills and room change: reindexed
        if n < len(members):
            book.update(view(f"a{n}", free=free, capacity=3, skills=skills, version=1))
    work = ticket(skills=required, matching=matching, declined_by=f"a{declined}")
    work.cost = cost
    assert book.best_agent_for(work, 0.0) == reference_closest(book, work, 0.0)


@settings(max_examples=800, deadline=None)
@given(
    members=st.lists(st.tuples(ratings, st.floats(0, 1)), min_size=2, max_size=10),
    # Several skills: agents then often fit equally well with different shortfalls per skill.
    required=st.dictionaries(st.sampled_from(SKILLS), st.integers(0, 4), min_size=2),
    floors=st.sampled_from([None, "required", "zero"]),
)
def test_the_threshold_search_finds_the_best_fit_and_breaks_ties_by_index_order(
    members, required, floors
) -> None:
    skills = {f"m{n}": held for n, (held, _) in enumerate(members)}
    everyone = SortedList(((key,), f"m{n}") for n, (_, key) in enumerate(members))
    index = SkillIndex()
    for entry in everyone:
        index.add(entry, skills[entry[1]])
    floor = {None: None, "required": required, "zero": dict.fromkeys(required, 0)}[floors]

    def eligible(agent_id: str) -> bool:
        return floor is None or all(skills[agent_id].get(s, -1) >= r for s, r in floor.items())

    candidates = [e for e in everyone if eligible(e[1])]
    expected = min(
        candidates, key=lambda e: (skill_fit(skills[e[1]], required), e), default=(0, None)
    )[1]
    assert closest_member(required, floor, index, everyone, skills.get, eligible) == expected


@pytest.mark.parametrize(
    ("members", "required", "expected"),
    [
        # Equal fits reached through different skills: the earlier in the index wins, though
        # the later one is met first (it heads the `b` stream as an exact fit on b).
        ([("m1", {"a": 1, "b": 3}), ("m0", {"a": 0, "b": 4})], {"a": 3, "b": 4}, "m1"),
        ([("m0", {"a": 0, "b": 4}), ("m1", {"a": 1, "b": 3})], {"a": 3, "b": 4}, "m0"),
        # Over-qualified on one skill beats under-qualified on another.
        ([("under", {"a": 2, "b": 2}), ("over", {"a": 9, "b": 2})], {"a": 3, "b": 2}, "over"),
        # Least total surplus among the over-qualified.
        ([("x", {"a": 5, "b": 5}), ("y", {"a": 3, "b": 8})], {"a": 3, "b": 3}, "x"),
        # A missing skill is rating 0: equal to holding it at 0, index order decides.
        ([("lacks", {"b": 2}), ("zero", {"a": 0, "b": 2})], {"a": 2, "b": 2}, "lacks"),
        ([], {"a": 1}, None),
    ],
)
def test_threshold_search_cases(
    members: list[tuple[str, dict]], required: dict, expected: str | None
) -> None:
    skills = dict(members)
    everyone = SortedList(((n,), agent_id) for n, (agent_id, _) in enumerate(members))
    index = SkillIndex()
    for entry in everyone:
        index.add(entry, skills[entry[1]])
    assert closest_member(required, None, index, everyone, skills.get, lambda _: True) == expected
