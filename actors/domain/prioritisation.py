"""Prioritisation inside a queue: ordered buckets, each with its own sort.

A bucket is a CEL condition over the work (the variables route rules see) and the order of
the work inside it. Work goes to the first bucket whose condition holds, decided once when it
enters the queue; buckets are served in order and unmatched work comes last, oldest first.
A queue without buckets orders all its work by priority, then age.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from switchboard.actors.domain.model import Work
from switchboard.actors.domain.routing import Condition, ConditionFailed, work_variables


class BucketOrder(enum.Enum):
    PRIORITY_THEN_AGE = "priority_then_age"  # highest priority first, then oldest
    AGE = "age"  # oldest first
    SEVERITY_THEN_AGE = "severity_then_age"  # highest severity first, then oldest
    NEWEST = "newest"  # newest first


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    condition: Condition
    order: BucketOrder


UNMATCHED_ORDER = BucketOrder.AGE


def placement(buckets: tuple[Bucket, ...], work: Work) -> tuple[int, BucketOrder]:
    """The bucket `work` goes to (its position; len(buckets) for unmatched) and its sort.

    A condition that cannot be decided for this work (a missing key, say) does not hold: the
    work is looked at by the next bucket, and is never dropped."""
    variables = work_variables(work)
    for position, bucket in enumerate(buckets):
        try:
            if bucket.condition.holds(variables):
                return position, bucket.order
        except ConditionFailed:
            continue
    return len(buckets), UNMATCHED_ORDER
