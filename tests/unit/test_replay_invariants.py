"""The invariant checker sees double-holding and over-capacity, and nothing in a clean day."""

from __future__ import annotations

from switchboard.clients.replay.invariants import InvariantChecker


def test_a_clean_sequence_has_no_violations() -> None:
    checker = InvariantChecker({"a1": 2, "a2": 1})
    checker.offered("a1", "c1")
    checker.capacity("a1", 1, 2)
    checker.assigned("a1", "c1")
    checker.offered("a1", "c2")
    checker.capacity("a1", 2, 2)
    checker.released("a1", "c2")  # rejected
    checker.offered("a2", "c2")  # so it may go to someone else
    checker.assigned("a2", "c2")
    checker.released("a1", "c1")  # closed
    checker.offered("a1", "c3")
    checker.assigned("a1", "c3")
    checker.offered("a1", "c4")
    checker.released("a2", "c2")
    checker.capacity("a2", 0, 1)
    assert checker.ok
    assert checker.violations == []


def test_auto_accept_without_an_offer_is_fine_and_counts() -> None:
    checker = InvariantChecker({"a1": 1})
    checker.assigned("a1", "c1")
    assert checker.ok
    checker.assigned("a1", "c2")
    assert not checker.ok


def test_a_conversation_held_by_two_agents() -> None:
    checker = InvariantChecker({"a1": 1, "a2": 1})
    checker.offered("a1", "c1")
    checker.assigned("a1", "c1")
    checker.assigned("a2", "c1")
    assert not checker.ok
    assert checker.violations == ["event 3: c1 assigned to a2 while engaged with a1"]


def test_a_conversation_offered_to_two_agents_at_once() -> None:
    checker = InvariantChecker({"a1": 1, "a2": 1})
    checker.offered("a1", "c1")
    checker.offered("a2", "c1")
    assert checker.violations == ["event 2: c1 offered to a2 while engaged with a1"]


def test_over_capacity_counts_offers_too() -> None:
    checker = InvariantChecker({"a1": 2})
    checker.assigned("a1", "c1")
    checker.offered("a1", "c2")
    assert checker.ok
    checker.offered("a1", "c3")
    assert checker.violations == [
        "event 3: a1 has 3 conversations engaged, capacity 2 (c1, c2, c3)"
    ]


def test_release_frees_room() -> None:
    checker = InvariantChecker({"a1": 1})
    for n in range(5):
        checker.offered("a1", f"c{n}")
        checker.assigned("a1", f"c{n}")
        checker.released("a1", f"c{n}")
    assert checker.ok


def test_a_stray_release_is_not_a_violation() -> None:
    checker = InvariantChecker({"a1": 1})
    checker.released("a1", "c9")
    checker.released("ghost", "c9")
    assert checker.ok


def test_reported_usage_above_total() -> None:
    checker = InvariantChecker({"a1": 2})
    checker.capacity("a1", 2, 2)
    checker.capacity("a1", 3, 2)
    assert checker.violations == ["event 2: a1 reports 3 units used of 2"]


def test_the_same_offer_twice_or_assignment_twice() -> None:
    checker = InvariantChecker({"a1": 3})
    checker.offered("a1", "c1")
    checker.offered("a1", "c1")
    checker.assigned("a1", "c1")
    checker.assigned("a1", "c1")
    assert checker.violations == [
        "event 2: c1 offered to a1, which already has it",
        "event 4: c1 assigned to a1 twice",
    ]


def test_an_agent_without_a_known_capacity_is_reported_once() -> None:
    checker = InvariantChecker({"a1": 1})
    checker.offered("stranger", "c1")
    checker.assigned("stranger", "c1")
    checker.offered("stranger", "c2")
    assert checker.violations == [
        "event 1: c1 offered to stranger, an agent with no known capacity"
    ]
