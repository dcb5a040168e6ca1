"""Queue-side selection, decided by a `QueueBook` alone (no actors, no threads): custom
selection rules, widening rings, prioritisation buckets and the closest skill match."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
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
    assert book.agent_for_new(work) == chosen


def test_round_robin_inside_a_rule_is_kept_per_queue() -> None:
    book = QueueBook("q1", M.CUSTOM, RECEIVING, selection=(rule("all", "true", M.ROUND_ROBIN),))
    for agent_id in ("a1", "a2", "a3"):
        book.join(view(agent_id, free=3))
    chosen = []
    for n in range(5):
        work = ticket(f"c{n}", seq=n)
        book.add(work)
        agent_id = book.agent_for_new(work)
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
        agent_id = book.agent_for_new(work)
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
    assert book.best_work_for("y1") is None
    assert book.best_work_for("s1").conversation_id == "c1"


def test_new_selection_rules_on_reload_are_evaluated_for_every_member() -> None:
    book = QueueBook("q1", M.CUSTOM, RECEIVING, selection=SENIORS_THEN_LEEDS)
    book.join(view("y1", attributes=YORK))
    book.add(work := ticket())
    assert book.agent_for_new(work) is None
    york = (rule("york", 'agent.attributes.site == "york"'),)
    book.reconfigure(M.CUSTOM, RECEIVING, selection=york)
    assert [list(book.assignable())] == [[(work, "y1")]]


def test_rules_matched_lists_positions_and_skips_undecidable_rules() -> None:
    rules = (
        rule("skilled", "has(agent.skills.billing) && agent.skills.billing >= 5"),
        rule("named", 'agent.name.startsWith("A")'),
        rule("missing", 'agent.attributes.team == "x"'),  # no such attribute: cannot decide
    )
    assert rules_matched(rules, view("a1", skills={"billing": 7})) == (0, 1)
    assert rules_matched(rules, view("b1", skills={"billing": 3})) == ()
