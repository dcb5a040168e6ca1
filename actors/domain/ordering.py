"""Orderings: work inside a queue, work across queues, and agents by assignment method."""

from __future__ import annotations

from switchboard.actors.domain.model import AgentView, AssignmentMethod, Ticket


def backlog_key(ticket: Ticket) -> tuple:
    """Highest priority first, then oldest, then first submitted."""
    return (-ticket.priority, ticket.enqueued_at, ticket.seq)


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
    if method is AssignmentMethod.HIGHEST_CAPACITY:
        return (-free_units, agent.last_assigned_at, joined)
    if method is AssignmentMethod.ROUND_ROBIN:
        return (last_assigned_here, joined)
    if method is AssignmentMethod.MOST_IDLE:
        return (agent.last_released_at, agent.last_assigned_at, joined)
    msg = f"no ordering for assignment method {method}"
    raise ValueError(msg)
