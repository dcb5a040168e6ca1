"""Overflow: what a queue does with work that arrives when it cannot take more."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from switchboard.actors.domain.hours import OperatingHours


class OverflowWhen(enum.Enum):
    WORK_ITEM_LIMIT = "work_item_limit"  # work arriving while `limit` items already wait
    OUTSIDE_HOURS = "outside_hours"  # on arrival, and for waiting work when the queue closes
    ESTIMATED_WAIT = "estimated_wait_s"  # on arrival: the wait it would face is above `limit`
    WAITED = "wait_more_than_s"  # while waiting: waited longer than `limit` in this queue


class OverflowThen(enum.Enum):
    ASSIGN_ANYWAY = "assign_anyway"  # queue it all the same
    TRANSFER = "transfer_to"  # to another queue of the same type
    END = "end"  # close it, with a reason the channel can tell the customer
    CALLBACK = "callback"  # voice: hand back to the gateway to offer the caller a call-back
    VOICEMAIL = "voicemail"  # voice: hand back to the gateway to take a message


@dataclass(frozen=True, slots=True)
class OverflowRule:
    when: OverflowWhen
    then: OverflowThen
    limit: int = 0
    target: str = ""  # queue id, for TRANSFER
    reason: str = ""  # for END


@dataclass(frozen=True, slots=True)
class Overflow:
    rule: OverflowRule
    why: str  # a sentence for the timeline


def overflow_on_entry(
    rules: tuple[OverflowRule, ...],
    hours: OperatingHours | None,
    waiting: int,
    now: float,
    estimated_wait: float = 0.0,
) -> Overflow | None:
    """The first rule whose condition holds for work arriving now, or None.

    A rule whose action is `assign_anyway` also answers: the caller queues the work, and the
    timeline says why it was let in.
    """
    for rule in rules:
        if rule.when is OverflowWhen.WORK_ITEM_LIMIT and waiting >= rule.limit:
            return Overflow(rule, f"{waiting} already waiting (limit {rule.limit})")
        if rule.when is OverflowWhen.OUTSIDE_HOURS and hours is not None and not hours.is_open(now):
            return Overflow(rule, hours.describe(now))
        if rule.when is OverflowWhen.ESTIMATED_WAIT and estimated_wait > rule.limit:
            shown = (
                "no agent to serve it"
                if estimated_wait == float("inf")
                else (f"estimated wait {estimated_wait:.0f} s")
            )
            return Overflow(rule, f"{shown} (limit {rule.limit:g} s)")
    return None


def overflow_while_waiting(
    rules: tuple[OverflowRule, ...], hours: OperatingHours | None, waited: float, now: float
) -> Overflow | None:
    """The first rule that now applies to work already waiting, or None."""
    for rule in rules:
        if rule.when is OverflowWhen.WAITED and waited > rule.limit:
            return Overflow(rule, f"waited {waited:.0f} s (limit {rule.limit:g} s)")
        if rule.when is OverflowWhen.OUTSIDE_HOURS and hours is not None and not hours.is_open(now):
            return Overflow(rule, hours.describe(now))
    return None


def estimate_wait(position: int, recent_assignments: int, window: float, members_on: int) -> float:
    """Seconds the work at `position` (0: next) would wait, from how fast this queue has
    handed out work over the last `window` seconds. Nobody signed in: it would wait for ever;
    nothing handed out yet: no evidence of a wait."""
    if members_on == 0:
        return float("inf")
    if recent_assignments == 0:
        return 0.0
    return (position + 1) * window / recent_assignments


def is_overflowing(
    rules: tuple[OverflowRule, ...],
    hours: OperatingHours | None,
    waiting: int,
    now: float,
    estimated_wait: float = 0.0,
) -> bool:
    """Whether new work would be turned away (routing then prefers another matching rule)."""
    found = overflow_on_entry(rules, hours, waiting, now, estimated_wait)
    return found is not None and found.rule.then is not OverflowThen.ASSIGN_ANYWAY
