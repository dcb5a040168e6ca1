"""Whether one agent may be given one piece of work, and why not."""

from __future__ import annotations

from collections.abc import Mapping

from switchboard.actors.domain.model import AgentView, SkillMatching, Ticket
from switchboard.actors.domain.rings import Ring, RingSkills, why_not_in_ring


def has_skills(agent_skills: Mapping, required: Mapping) -> bool:
    """Every required skill held at or above its rating."""
    return all(agent_skills.get(name, -1) >= rating for name, rating in required.items())


def skill_floors(ticket: Ticket, ring: Ring | None = None) -> Mapping[str, int] | None:
    """The lowest rating of each required skill that an eligible agent can hold; None when
    skills do not limit who is eligible. Lets an index skip agents who could never qualify;
    `why_not_eligible` stays the judge."""
    required = ticket.work.required_skills
    if ring is None:
        return required if ticket.skill_matching is SkillMatching.EXACT else None
    if ring.skills is RingSkills.ANY_MEMBER:
        return None
    if ring.skills is RingSkills.ANY_RATING:
        return dict.fromkeys(required, 0)
    return {name: max(ring.min_rating, rating) for name, rating in required.items()}


def why_no_room(agent: AgentView, ticket: Ticket) -> str | None:
    """None when the agent has the capacity `ticket` needs: its units and a place in every
    capacity profile it consumes."""
    if agent.free_units < ticket.cost:
        return f"{agent.free_units} free capacity units, work needs {ticket.cost}"
    for profile in ticket.profiles:
        room = agent.profile_room.get(profile)
        if room is None:
            return f"does not take work of capacity profile {profile}"
        if room <= 0:
            return f"capacity profile {profile} is at its limit"
    return None


def why_not_eligible(agent: AgentView, ticket: Ticket, ring: Ring | None = None) -> str | None:
    """None when `agent` may be offered `ticket`; otherwise the reason, for the timeline.

    `ring`: the widening ring of the ticket's queue in force now, which decides the skills
    needed instead of the work stream's skill matching.
    """
    if agent.presence not in ticket.allowed_presences:
        return f"presence {agent.presence.value} does not receive this work"
    no_room = why_no_room(agent, ticket)
    if no_room is not None:
        return no_room
    if ticket.declines.get(agent.agent_id, 0) >= ticket.decline_limit:
        return f"declined it {ticket.declines[agent.agent_id]} times (limit {ticket.decline_limit})"
    if ring is not None:
        return why_not_in_ring(ring, agent.skills, ticket.work.required_skills)
    if ticket.skill_matching is SkillMatching.EXACT and not has_skills(
        agent.skills, ticket.work.required_skills
    ):
        return "lacks a required skill at the required rating"
    return None
