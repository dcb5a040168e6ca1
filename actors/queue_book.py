"""A queue's books: its ordered backlog and its index of members, without any actor around.

The queue actor owns one `QueueBook` and turns what it decides into messages. Kept apart so
that ordering and selection are tested directly and read in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from collections import OrderedDict
from dataclasses import dataclass

from sortedcontainers import SortedDict, SortedList
from switchboard.actors.domain.eligibility import why_not_eligible
from switchboard.actors.domain.model import AgentView, AssignmentMethod, Presence, Ticket
from switchboard.actors.domain.ordering import agent_key, backlog_key, skill_fit

NEVER = float("-inf")

# How many recent hand-overs the book remembers, to tell a late taker who was first.
REMEMBERED_TAKERS = 1_000


@dataclass(slots=True)
class Member:
    view: AgentView
    joined: int
    in_flight_units: int = 0  # capacity of proposals sent and not yet answered
    last_assigned_here: float = NEVER
    key: tuple | None = None  # current key in the index, None when not indexed

    def believed(self) -> AgentView:
        """The member as the queue must assume it is: minus what it has in flight."""
        if not self.in_flight_units:
            return self.view
        free = self.view.free_units - self.in_flight_units
        return _with_free(self.view, free)


def _with_free(view: AgentView, free: int) -> AgentView:
    return dataclasses.replace(view, free_units=free)


class QueueBook:
    """Backlog ordered by priority then age; members indexed in assignment-method order.

    Only members who could take some work (free capacity, a receiving presence) are in the
    index, so picking an agent walks from the best candidate and stops at the first eligible
    one instead of scanning every member.
    """

    def __init__(
        self,
        queue_id: str,
        method: AssignmentMethod,
        receiving: frozenset[Presence],
    ) -> None:
        self.queue_id = queue_id
        self.method = method
        self.receiving = receiving
        self.backlog: SortedDict = SortedDict()  # backlog_key -> Ticket
        self._key_of: dict[str, tuple] = {}  # conversation id -> backlog key
        self.proposed: dict[str, tuple[Ticket, str]] = {}  # in flight: id -> (ticket, agent)
        self.withdrawn: set[str] = set()  # withdrawn while in flight
        self.members: dict[str, Member] = {}
        self.index: SortedList = SortedList()  # (key, agent_id)
        self._joined = 0
        self.takers: OrderedDict[str, str] = OrderedDict()  # conversation id -> agent, recent

    def reconfigure(self, method: AssignmentMethod, receiving: frozenset[Presence]) -> None:
        """A new assignment method or set of receiving presences: every member's key changes."""
        self.method = method
        self.receiving = receiving
        for member in self.members.values():
            self._reindex(member)

    # --- backlog ---------------------------------------------------------------------

    def add(self, ticket: Ticket) -> None:
        key = backlog_key(ticket)
        self.backlog[key] = ticket
        self._key_of[ticket.conversation_id] = key

    def remove(self, conversation_id: str) -> Ticket | None:
        key = self._key_of.pop(conversation_id, None)
        return None if key is None else self.backlog.pop(key)

    def waiting(self) -> Iterator[Ticket]:
        return iter(self.backlog.values())

    def __len__(self) -> int:
        return len(self.backlog)

    def oldest_enqueued_at(self) -> float | None:
        if not self.backlog:
            return None
        return min(t.enqueued_at for t in self.backlog.values())

    # --- members ---------------------------------------------------------------------

    def join(self, view: AgentView) -> None:
        if view.agent_id in self.members:
            self.update(view)
            return
        self._joined += 1
        member = Member(view=view, joined=self._joined)
        # Proposals made before the agent last left are still out: count them again.
        member.in_flight_units = sum(
            ticket.cost for ticket, agent_id in self.proposed.values() if agent_id == view.agent_id
        )
        self.members[view.agent_id] = member
        self._reindex(member)

    def leave(self, agent_id: str) -> None:
        member = self.members.pop(agent_id, None)
        if member is not None and member.key is not None:
            self.index.remove((member.key, agent_id))

    def update(self, view: AgentView) -> None:
        member = self.members.get(view.agent_id)
        if member is None or view.version < member.view.version:
            return  # not a member (any more), or older news than we have
        member.view = view
        self._reindex(member)

    def _reindex(self, member: Member) -> None:
        if member.key is not None:
            self.index.remove((member.key, member.view.agent_id))
            member.key = None
        free = member.view.free_units - member.in_flight_units
        if free > 0 and member.view.presence in self.receiving:
            member.key = agent_key(
                self.method, member.view, free, member.last_assigned_here, member.joined
            )
            self.index.add((member.key, member.view.agent_id))

    # --- decisions -------------------------------------------------------------------

    def best_agent_for(self, ticket: Ticket) -> str | None:
        """The first indexed member, in method order, who may take `ticket`; the agents it
        prefers (affinity, the customer's preferred agents) come before everyone else."""
        if ticket.pick:
            return None  # agents take pick-mode work themselves
        for agent_id in ticket.preferred:
            member = self.members.get(agent_id)
            if member is not None and member.key is not None:
                if why_not_eligible(member.believed(), ticket) is None:
                    return agent_id
        if self.method is AssignmentMethod.CLOSEST_SKILL_MATCH:
            return self._closest_agent_for(ticket)
        for _, agent_id in self.index:
            if why_not_eligible(self.members[agent_id].believed(), ticket) is None:
                return agent_id
        return None

    def _closest_agent_for(self, ticket: Ticket) -> str | None:
        """Closest skill fit first, then the index's order (most free capacity). The fit
        depends on the work item, so every member with room is looked at (issue 4 asks for
        better than that on large queues)."""
        best: tuple | None = None
        chosen = None
        for position, (_, agent_id) in enumerate(self.index):
            view = self.members[agent_id].believed()
            if why_not_eligible(view, ticket) is not None:
                continue
            rank = (skill_fit(view.skills, ticket.work.required_skills), position)
            if best is None or rank < best:
                best, chosen = rank, agent_id
        return chosen

    def best_work_for(self, agent_id: str) -> Ticket | None:
        """The first waiting ticket, in backlog order, that `agent_id` may take."""
        member = self.members.get(agent_id)
        if member is None:
            return None
        believed = member.believed()
        if believed.free_units <= 0 or believed.presence not in self.receiving:
            return None
        for ticket in self.backlog.values():
            if not ticket.pick and why_not_eligible(believed, ticket) is None:
                return ticket
        return None

    def pickable(self) -> list[Ticket]:
        """Pick-mode work waiting, in the order it should be taken."""
        return [ticket for ticket in self.backlog.values() if ticket.pick]

    def hand_over(self, conversation_id: str, agent_id: str, *, force: bool) -> Ticket:
        """Take waiting work out for `agent_id` (who picked it, or to whom a supervisor
        assigns it) and mark it in flight; raise WhyNot when it cannot be had."""
        key = self._key_of.get(conversation_id)
        if key is None:
            raise WhyNot(self._why_not_waiting(conversation_id))
        ticket = self.backlog[key]
        if not force:
            if agent_id not in self.members:
                raise WhyNot(f"agent {agent_id} is not a member of queue {self.queue_id}")
            if not ticket.pick:
                raise WhyNot(
                    f"work stream {ticket.work.stream_id} is in push mode: its work is "
                    "offered to agents, not taken"
                )
        self.mark_proposed(ticket, agent_id)
        return ticket

    def _why_not_waiting(self, conversation_id: str) -> str:
        if conversation_id in self.proposed:
            _, agent_id = self.proposed[conversation_id]
            return f"conversation {conversation_id} is being handed to agent {agent_id}"
        if conversation_id in self.takers:
            return (
                f"conversation {conversation_id} was already taken by agent "
                f"{self.takers[conversation_id]}"
            )
        return f"conversation {conversation_id} is not waiting in queue {self.queue_id}"

    def assignable(self) -> Iterator[tuple[Ticket, str]]:
        """Pairs (waiting ticket, agent to propose it to), in backlog order, until no member
        has room. Each pair is marked in flight before the next is chosen."""
        if not self.index:
            return  # nobody has room: do not even look at the backlog
        for ticket in list(self.backlog.values()):
            if not self.index:
                return
            agent_id = self.best_agent_for(ticket)
            if agent_id is not None:
                self.mark_proposed(ticket, agent_id)
                yield ticket, agent_id

    def agent_for_new(self, ticket: Ticket) -> str | None:
        """An agent for a ticket that just arrived, marked in flight; None leaves it waiting.

        Only the new ticket needs a look: older waiting work was already matched against every
        member with room (members who gain room ask for work themselves).
        """
        if not self.index:
            return None
        agent_id = self.best_agent_for(ticket)
        if agent_id is not None:
            self.mark_proposed(ticket, agent_id)
        return agent_id

    # --- proposals in flight ---------------------------------------------------------

    def mark_proposed(self, ticket: Ticket, agent_id: str) -> None:
        self.remove(ticket.conversation_id)
        self.proposed[ticket.conversation_id] = (ticket, agent_id)
        member = self.members.get(agent_id)  # a supervisor may assign to a non-member
        if member is not None:
            member.in_flight_units += ticket.cost
            self._reindex(member)

    def _settle_proposal(self, conversation_id: str) -> tuple[Ticket, str] | None:
        entry = self.proposed.pop(conversation_id, None)
        if entry is None:
            return None
        ticket, agent_id = entry
        member = self.members.get(agent_id)
        if member is not None:
            member.in_flight_units -= ticket.cost
            self._reindex(member)
        return entry

    def taken(self, conversation_id: str, agent_id: str, now: float) -> None:
        self._settle_proposal(conversation_id)
        self.withdrawn.discard(conversation_id)
        self.takers[conversation_id] = agent_id
        if len(self.takers) > REMEMBERED_TAKERS:
            self.takers.popitem(last=False)
        member = self.members.get(agent_id)
        if member is not None:
            member.last_assigned_here = now
            self._reindex(member)

    def returned(self, ticket: Ticket, view: AgentView) -> bool:
        """Put a returned ticket back in its place; False if it was withdrawn meanwhile."""
        self._settle_proposal(ticket.conversation_id)
        self.update(view)
        if ticket.conversation_id in self.withdrawn:
            self.withdrawn.discard(ticket.conversation_id)
            return False
        self.add(ticket)
        return True

    def withdraw(self, conversation_id: str) -> bool:
        """Take a conversation out. True if it was waiting; False if in flight or unknown."""
        if self.remove(conversation_id) is not None:
            return True
        if conversation_id in self.proposed:
            self.withdrawn.add(conversation_id)
        return False


class WhyNot(Exception):
    """Waiting work cannot be handed over; the message says why, for the person asking."""
