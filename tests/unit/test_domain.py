"""The pure decisions: presence, eligibility, orderings, lifecycle, routing."""

from __future__ import annotations

import math

import pytest
from switchboard.actors.domain.eligibility import has_skills, why_not_eligible
from switchboard.actors.domain.lifecycle import Event, IllegalTransition, transition
from switchboard.actors.domain.model import (
    AgentView,
    AssignmentMethod,
    Channel,
    ConversationState,
    DistributionMode,
    Presence,
    RouteRule,
    SkillMatching,
    Ticket,
    Work,
    WorkStream,
    WrapUp,
    frozen_map,
)
from switchboard.actors.domain.ordering import agent_key, backlog_key, cross_queue_key
from switchboard.actors.domain.presence import next_presence, presence_for_load
from switchboard.actors.domain.routing import (
    ConditionError,
    compile_condition,
    decide_queue,
    route_variables,
)

P = Presence
S = ConversationState


def view(
    agent_id: str = "a1",
    *,
    presence: Presence = P.AVAILABLE,
    free: int = 1,
    capacity: int = 1,
    skills: dict | None = None,
    assigned: float = -math.inf,
    released: float = -math.inf,
) -> AgentView:
    return AgentView(agent_id, presence, free, capacity, frozen_map(skills), assigned, released, 0)


def ticket(
    cid: str = "c1",
    *,
    priority: int = 0,
    at: float = 0.0,
    seq: int = 1,
    cost: int = 1,
    skills: dict | None = None,
    matching: SkillMatching = SkillMatching.NONE,
) -> Ticket:
    work = Work(
        cid,
        "chat",
        Channel.CHAT,
        "",
        frozen_map(),
        frozen_map(),
        priority,
        frozen_map(skills),
        "q1",
        at,
    )
    return Ticket(work, at, seq, cost, frozenset({P.AVAILABLE, P.BUSY}), matching, False, 30.0)


@pytest.mark.parametrize(
    ("used", "capacity", "expected"),
    [(0, 3, P.AVAILABLE), (1, 3, P.BUSY), (2, 3, P.BUSY), (3, 3, P.BUSY_DND), (4, 3, P.BUSY_DND)],
)
def test_presence_follows_load(used: int, capacity: int, expected: Presence) -> None:
    assert presence_for_load(used, capacity) is expected
    assert next_presence(P.AVAILABLE, used, capacity) is expected
    assert next_presence(P.BUSY, used, capacity) is expected


@pytest.mark.parametrize("chosen", [P.OFFLINE, P.AWAY, P.BUSY_DND, P.INACTIVE])
def test_presence_chosen_by_hand_sticks(chosen: Presence) -> None:
    for used in (0, 1, 2):
        assert next_presence(chosen, used, 2) is chosen


def test_eligibility_reasons() -> None:
    t = ticket(cost=2)
    assert why_not_eligible(view(free=2), t) is None
    assert "presence away" in why_not_eligible(view(presence=P.AWAY, free=2), t)
    assert "free capacity" in why_not_eligible(view(free=1), t)
    t.declines["a1"] = 3
    assert "declined it 3 times" in why_not_eligible(view(free=2), t)
    assert why_not_eligible(view("a2", free=2), t) is None


def test_exact_skills_need_every_skill_at_rating() -> None:
    t = ticket(skills={"px": 2, "es": 3}, matching=SkillMatching.EXACT)
    assert why_not_eligible(view(skills={"px": 3, "es": 3}), t) is None
    assert why_not_eligible(view(skills={"px": 1, "es": 9}), t) is not None
    assert why_not_eligible(view(skills={"px": 5}), t) is not None
    # Without exact matching, skills do not filter.
    assert why_not_eligible(view(), ticket(skills={"px": 9})) is None
    assert has_skills({"a": 1}, {}) is True


def test_backlog_order_is_priority_then_age_then_arrival() -> None:
    tickets = [
        ticket("old", at=1, seq=1),
        ticket("urgent", priority=5, at=9, seq=3),
        ticket("new", at=5, seq=2),
        ticket("tie", at=5, seq=4),
    ]
    assert [t.conversation_id for t in sorted(tickets, key=backlog_key)] == [
        "urgent",
        "old",
        "new",
        "tie",
    ]


def test_cross_queue_order_is_queue_priority_first() -> None:
    general_old = cross_queue_key(2, ticket("g", at=1))
    vip_new = cross_queue_key(1, ticket("v", at=9))
    assert vip_new < general_old


def test_agent_keys_per_method() -> None:
    hc = AssignmentMethod.HIGHEST_CAPACITY
    assert agent_key(hc, view(), 5, 0, 2) < agent_key(hc, view(), 3, 0, 1)  # more free first
    # ties: longest since last assignment first
    assert agent_key(hc, view(assigned=10), 3, 0, 2) < agent_key(hc, view(assigned=20), 3, 0, 1)
    rr = AssignmentMethod.ROUND_ROBIN
    assert agent_key(rr, view(), 1, 10.0, 2) < agent_key(rr, view(), 5, 20.0, 1)
    assert agent_key(rr, view(), 1, -math.inf, 3) < agent_key(rr, view(), 1, 5.0, 1)
    mi = AssignmentMethod.MOST_IDLE
    never = agent_key(mi, view(released=-math.inf), 1, 0, 9)
    assert never < agent_key(mi, view(released=100), 1, 0, 1)  # newly signed in: most idle
    assert agent_key(mi, view(released=50), 1, 0, 2) < agent_key(mi, view(released=100), 1, 0, 1)


@pytest.mark.parametrize(
    ("state", "event", "after"),
    [
        (S.OPEN, Event.ACCEPT, S.ACTIVE),
        (S.OPEN, Event.ABANDON, S.CLOSED),
        (S.ACTIVE, Event.END, S.WRAP_UP),
        (S.ACTIVE, Event.PARK, S.WAITING),
        (S.WAITING, Event.CUSTOMER_RETURNS, S.OPEN),
        (S.WRAP_UP, Event.CLOSE, S.CLOSED),
        (S.WRAP_UP, Event.TIMEOUT, S.CLOSED),
        (S.ACTIVE, Event.RELEASE, S.OPEN),
    ],
)
def test_lifecycle_transitions(state: S, event: Event, after: S) -> None:
    assert transition(state, event) is after


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (S.OPEN, Event.CLOSE),
        (S.CLOSED, Event.ACCEPT),
        (S.WRAP_UP, Event.ACCEPT),
        (S.ACTIVE, Event.ABANDON),
        (S.CLOSED, Event.CLOSE),
    ],
)
def test_illegal_transitions_are_refused(state: S, event: Event) -> None:
    with pytest.raises(IllegalTransition, match=f"cannot {event.value}"):
        transition(state, event)


def test_wrap_up_parsing() -> None:
    assert WrapUp.parse("always").blocks_until_close
    assert WrapUp.parse("none") == WrapUp(False, 0.0)
    assert WrapUp.parse(30) == WrapUp(False, 30.0)


def stream_with(*rules: tuple[str, str, str]) -> WorkStream:
    return WorkStream(
        "s",
        Channel.VOICE,
        DistributionMode.PUSH,
        1,
        frozenset({P.AVAILABLE}),
        30,
        False,
        SkillMatching.NONE,
        WrapUp.parse("none"),
        frozen_map(),
        tuple(RouteRule(n, compile_condition(c), q) for n, c, q in rules),
        "fallback",
    )


@pytest.mark.parametrize(
    ("context", "priority", "queue", "rule"),
    [
        ({"type": "IN"}, 0, "internet", "internet"),
        ({"type": "PE", "lang": "en"}, 0, "english", "english"),
        ({"type": "PS"}, 2, "vip", "vip"),
        ({"type": "PS"}, 0, "fallback", None),
        ({}, 0, "fallback", None),
    ],  # missing key: the rule fails, work goes to the fallback
)
def test_route_decisions(context: dict, priority: int, queue: str, rule: str | None) -> None:
    stream = stream_with(
        ("internet", 'context.type == "IN"', "internet"),
        ("english", 'context.type == "PE" && context.lang.startsWith("e")', "english"),
        ("vip", "priority >= 2", "vip"),
    )
    decision = decide_queue(stream, route_variables("s", context, "c", {}, priority))
    assert decision.queue_id == queue
    assert decision.rule == rule
    assert decision.trace


def test_failing_rule_is_recorded_in_the_trace() -> None:
    stream = stream_with(("t", 'context.type == "IN"', "internet"))
    decision = decide_queue(stream, route_variables("s", {}, "", {}, 0))
    assert decision.queue_id == "fallback"
    assert "failed" in decision.trace[0] and "type" in decision.trace[0]


def test_non_boolean_condition_fails_at_evaluation() -> None:
    # `priority + 1` is refused at load; a value of unknown type (dyn) gets past the checker
    stream = stream_with(("n", "dyn(priority)", "q"))
    decision = decide_queue(stream, route_variables("s", {}, "", {}, 0))
    assert decision.queue_id == "fallback"
    assert "not true or false" in decision.trace[0]


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("context.type ==", "column"),
        ("", "non-empty"),
        ("os.system('x')", "unknown function system"),
        ("__import__('os')", "unknown function __import__"),
        ("secrets.key", "unknown variable secrets"),
    ],
)
def test_bad_conditions_are_refused_at_compile_time(source: str, fragment: str) -> None:
    with pytest.raises(ConditionError, match=fragment):
        compile_condition(source)


def test_closest_skill_fit_orders_exact_then_over_then_under() -> None:
    from switchboard.actors.domain.ordering import skill_fit

    need = {"px": 2, "es": 3, "bill": 3}
    exact = skill_fit({"px": 2, "es": 3, "bill": 3}, need)
    over = skill_fit({"px": 3, "es": 3, "bill": 4}, need)
    more_over = skill_fit({"px": 9, "es": 9, "bill": 9}, need)
    under_one = skill_fit({"px": 5, "es": 4, "bill": 1}, need)
    under_all = skill_fit({"px": 1, "es": 2, "bill": 1}, need)
    missing = skill_fit({}, need)
    assert exact < over < more_over < under_one < under_all < missing
