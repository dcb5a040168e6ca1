"""Widening over time (bullseye routing): rings of eligibility that relax as work waits.

A queue lists its rings in order of `after_s`; the ring in force for a ticket is the last
one whose `after_s` has passed since the ticket entered the queue. A ring decides only which
skills an agent needs, and replaces the work stream's skill matching while it is in force
(that is the point of widening: the last ring may let any member take work that asked for
exact skills). Presence, capacity and declines are judged as always.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class RingSkills(enum.Enum):
    MIN_RATING = "min_rating"  # each required skill at max(min_rating, the required rating)
    ANY_RATING = "any_rating"  # each required skill held, at any rating
    ANY_MEMBER = "any_member"  # no skill needed


@dataclass(frozen=True, slots=True)
class Ring:
    after_s: float
    skills: RingSkills
    min_rating: int = 0  # with RingSkills.MIN_RATING

    def describe(self) -> str:
        if self.skills is RingSkills.MIN_RATING:
            return f"every required skill at {self.min_rating} or at its rating if higher"
        if self.skills is RingSkills.ANY_RATING:
            return "every required skill at any rating"
        return "any member"


def ring_in_force(rings: tuple[Ring, ...], enqueued_at: float, now: float) -> Ring | None:
    """The ring that applies to work that entered the queue at `enqueued_at`; None when the
    queue has no rings. Compared as `enqueued_at + after_s <= now`, the same sum the timer
    for the next ring is set to, so the timer always finds its ring in force."""
    if not rings:
        return None
    in_force = rings[0]  # the loader makes the first ring start at 0
    for ring in rings[1:]:
        if enqueued_at + ring.after_s > now:
            break
        in_force = ring
    return in_force


def next_widening(rings: tuple[Ring, ...], enqueued_at: float, now: float) -> float | None:
    """When the next ring comes into force for this work; None after the last one."""
    for ring in rings:
        at = enqueued_at + ring.after_s
        if at > now:
            return at
    return None


def why_not_in_ring(ring: Ring, agent_skills: Mapping, required: Mapping) -> str | None:
    """None when an agent with `agent_skills` may take work needing `required` under
    `ring`; otherwise the reason."""
    if ring.skills is RingSkills.ANY_MEMBER:
        return None
    for name, rating in required.items():
        held = agent_skills.get(name)
        if held is None:
            return f"lacks required skill {name} ({ring.describe()} after {ring.after_s:g} s)"
        if ring.skills is RingSkills.MIN_RATING and held < max(ring.min_rating, rating):
            return (
                f"skill {name} at {held}, needs {max(ring.min_rating, rating)} "
                f"({ring.describe()} after {ring.after_s:g} s)"
            )
    return None
