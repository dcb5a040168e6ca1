"""Safety rules of routing, checked from what the agents' desktops were told.

The checker keeps its own picture of who has what, built only from desktop events, so it
judges the server by what it said rather than by its internal state. A conversation is
"engaged" with an agent from the moment it is offered (or assigned without an offer) until it
is released. Rules:

- a conversation is engaged with at most one agent at a time;
- an agent has at most `capacity` conversations engaged (offers reserve room too, at one unit
  per conversation);
- an agent update never reports more capacity used than it has.

Events must be fed in the order they happened. Events merged from several agents' streams
are only ordered per stream, so a release on one stream and the next offer on another can
arrive swapped; the driver should merge them by the server's timestamps where it has them.
"""

from __future__ import annotations

from collections.abc import Mapping


class InvariantChecker:
    def __init__(self, capacities: Mapping[str, int]) -> None:
        self._capacities: dict[str, int | None] = dict(capacities)
        self._engaged_by_agent: dict[str, set[str]] = {agent: set() for agent in self._capacities}
        self._agents_of_conversation: dict[str, set[str]] = {}
        self._held: set[tuple[str, str]] = set()  # (agent, conversation) accepted, not just offered
        self._event_number = 0
        self.violations: list[str] = []

    @property
    def ok(self) -> bool:
        return not self.violations

    def offered(self, agent_id: str, conversation_id: str) -> None:
        self._event_number += 1
        if conversation_id in self._engaged_by_agent.get(agent_id, ()):
            self._violation(f"{conversation_id} offered to {agent_id}, which already has it")
            return
        self._engage(agent_id, conversation_id, "offered to")

    def assigned(self, agent_id: str, conversation_id: str) -> None:
        """The agent now holds the conversation: it accepted the offer, or it was auto-accepted
        (in which case there may have been no offer event)."""
        self._event_number += 1
        if (agent_id, conversation_id) in self._held:
            self._violation(f"{conversation_id} assigned to {agent_id} twice")
            return
        if conversation_id not in self._engaged_by_agent.get(agent_id, ()):
            self._engage(agent_id, conversation_id, "assigned to")
        self._held.add((agent_id, conversation_id))

    def released(self, agent_id: str, conversation_id: str) -> None:
        """Offer withdrawn, rejected or timed out, or the conversation closed. Releasing what the
        agent does not have is not a safety problem (a withdrawal can cross a rejection), so it
        is ignored."""
        self._event_number += 1
        self._engaged_by_agent.get(agent_id, set()).discard(conversation_id)
        self._held.discard((agent_id, conversation_id))
        agents = self._agents_of_conversation.get(conversation_id)
        if agents is not None:
            agents.discard(agent_id)
            if not agents:
                del self._agents_of_conversation[conversation_id]

    def capacity(self, agent_id: str, used: int, total: int) -> None:
        """An agent update as the desktop saw it."""
        self._event_number += 1
        if used > total:
            self._violation(f"{agent_id} reports {used} units used of {total}")

    def _engage(self, agent_id: str, conversation_id: str, how: str) -> None:
        others = self._agents_of_conversation.setdefault(conversation_id, set())
        if others:
            self._violation(
                f"{conversation_id} {how} {agent_id} while engaged with {', '.join(sorted(others))}"
            )
        others.add(agent_id)
        if agent_id not in self._capacities:
            # Reported once; without a capacity there is nothing to check the count against.
            self._violation(f"{conversation_id} {how} {agent_id}, an agent with no known capacity")
            self._capacities[agent_id] = None
            self._engaged_by_agent[agent_id] = set()
        engaged = self._engaged_by_agent[agent_id]
        engaged.add(conversation_id)
        capacity = self._capacities[agent_id]
        if capacity is not None and len(engaged) > capacity:
            self._violation(
                f"{agent_id} has {len(engaged)} conversations engaged, capacity "
                f"{capacity} ({', '.join(sorted(engaged))})"
            )

    def _violation(self, message: str) -> None:
        self.violations.append(f"event {self._event_number}: {message}")
