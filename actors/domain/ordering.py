"""Orderings: work inside a queue, work across queues, and agents by assignment method."""

from __future__ import annotations

from collections.abc import Mapping

from switchboard.actors.domain.model import AgentView, AssignmentMethod, Ticket
from switchboard.actors.domain.prioritisation import BucketOrder


def backlog_key(
    ticket: Ticket,
    bucket: int | None = None,
    order: BucketOrder = BucketOrder.PRIORITY_THEN_AGE,
) -> tuple:
    """A ticket's place in its queue, smallest first. Without prioritisation buckets:
    highest priority first, then oldest, then first submitted. With them, the bucket comes
    first and the bucket's own order sorts inside it (`seq` always breaks the last tie)."""
    if order is BucketOrder.PRIORITY_THEN_AGE:
        within: tuple = (-ticket.priority, ticket.enqueued_at, ticket.seq)
    elif order is BucketOrder.AGE:
        within = (ticket.enqueued_at, ticket.seq)
    elif order is BucketOrder.SEVERITY_THEN_AGE:
        within = (-ticket.work.severity, ticket.enqueued_at, ticket.seq)
    else:  # newest first
        within = (-ticket.enqueued_at, -ticket.seq)
    return within if bucket is None else (bucket, *within)


def cross_queue_key(queue_priority: int, ticket: Ticket) -> tuple:
    """Freed capacity takes work by queue priority (smaller first), then item, then age."""
    return (queue_priority, -ticket.priority, ticket.enqueued_at, ticket.seq)


def agent_key(
    method: AssignmentMethod,
    agent: AgentView,
    free_units: int,
    last_assigned_here: float,
    joined: int,
) -> tuple:
    """Sort key of an agent in a queue's index: the smallest key is offered work first.

    `free_units` is what the queue believes is free after offers it has in flight;
    `last_assigned_here` is this queue's own last assignment to the agent (round robin is
    kept per queue); `joined` breaks the remaining ties in a stable order.
    """
    if method in (
        AssignmentMethod.HIGHEST_CAPACITY,
        AssignmentMethod.CLOSEST_SKILL_MATCH,
        AssignmentMethod.CUSTOM,
    ):
        # Closest skill match ranks per work item (see `skill_fit`); ties go by capacity.
        # Under custom selection each rule's index has its own order; the queue-wide index
        # only tells whether anyone has room.
        return (-free_units, agent.last_assigned_at, joined)
    if method is AssignmentMethod.ROUND_ROBIN:
        return (last_assigned_here, joined)
    if method is AssignmentMethod.MOST_IDLE:
        return (agent.last_released_at, agent.last_assigned_at, joined)
    msg = f"no ordering for assignment method {method}"
    raise ValueError(msg)


def skill_fit(agent_skills: Mapping, required: Mapping) -> tuple[int, int, int]:
    """How closely an agent's ratings fit what the work asks, smaller is closer.

    Exact fits come first, then over-qualified agents (every skill at or above the rating,
    least surplus first), then under-qualified ones (least shortfall first, then least
    surplus).
    """
    short = sum(max(0, rating - agent_skills.get(name, 0)) for name, rating in required.items())
    extra = sum(max(0, agent_skills.get(name, 0) - rating) for name, rating in required.items())
    if short:
        return (2, short, extra)
    return (1, 0, extra) if extra else (0, 0, 0)
