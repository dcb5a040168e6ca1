"""Overflow: what a queue does with work that arrives when it cannot take more."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from switchboard.actors.domain.hours import OperatingHours


class OverflowWhen(enum.Enum):
    WORK_ITEM_LIMIT = "work_item_limit"  # work arriving while `limit` items already wait
    OUTSIDE_HOURS = "outside_hours"


class OverflowThen(enum.Enum):
    ASSIGN_ANYWAY = "assign_anyway"  # queue it all the same
    TRANSFER = "transfer_to"  # to another queue of the same type
    END = "end"  # close it, with a reason the channel can tell the customer


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
    rules: tuple[OverflowRule, ...], hours: OperatingHours | None, waiting: int, now: float
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
    return None


def is_overflowing(
    rules: tuple[OverflowRule, ...], hours: OperatingHours | None, waiting: int, now: float
) -> bool:
    """Whether new work would be turned away (routing then prefers another matching rule)."""
    found = overflow_on_entry(rules, hours, waiting, now)
    return found is not None and found.rule.then is not OverflowThen.ASSIGN_ANYWAY
