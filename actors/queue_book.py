"""A queue's books: its ordered backlog and its index of members, without any actor around.

The queue actor owns one `QueueBook` and turns what it decides into messages. Kept apart so
that ordering and selection are tested directly and read in one place.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from sortedcontainers import SortedDict, SortedList
from switchboard.actors.domain.eligibility import skill_floors, why_not_eligible
from switchboard.actors.domain.model import AgentView, AssignmentMethod, Presence, Ticket
from switchboard.actors.domain.ordering import agent_key, backlog_key
from switchboard.actors.domain.prioritisation import Bucket, placement
from switchboard.actors.domain.rings import Ring, ring_in_force
from switchboard.actors.domain.selection import SelectionRule, facts, rules_matched
from switchboard.actors.skill_index import SkillIndex, closest_member

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
    rules: tuple[int, ...] = ()  # selection rules the member matches (method custom)
    rule_keys: tuple[tuple, ...] = ()  # its key in each of those rules' indexes, if indexed

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
    one instead of scanning every member. Under the custom method each selection rule has an
    index of its own, holding the indexed members who match it.
    """

    def __init__(
        self,
        queue_id: str,
        method: AssignmentMethod,
        receiving: frozenset[Presence],
        *,
        selection: tuple[SelectionRule, ...] = (),
        rings: tuple[Ring, ...] = (),
        prioritisation: tuple[Bucket, ...] = (),
    ) -> None:
        self.queue_id = queue_id
        self.rings = rings
        self.prioritisation = prioritisation
        self.method = method
        self.receiving = receiving
        self.selection = selection
        self.rule_indexes: list[SortedList] = [SortedList() for _ in selection]
        self.backlog: SortedDict = SortedDict()  # backlog_key -> Ticket
        self._key_of: dict[str, tuple] = {}  # conversation id -> backlog key
        self.proposed: dict[str, tuple[Ticket, str]] = {}  # in flight: id -> (ticket, agent)
        self.withdrawn: set[str] = set()  # withdrawn while in flight
        self.members: dict[str, Member] = {}
        self.index: SortedList = SortedList()  # (key, agent_id)
        self.skill_index = self._skill_index_for(method)
        self._joined = 0
        self.takers: OrderedDict[str, str] = OrderedDict()  # conversation id -> agent, recent

    @staticmethod
    def _skill_index_for(method: AssignmentMethod) -> SkillIndex | None:
        # Only closest skill match reads it: other methods spare its upkeep.
        return SkillIndex() if method is AssignmentMethod.CLOSEST_SKILL_MATCH else None

    def reconfigure(
        self,
        method: AssignmentMethod,
        receiving: frozenset[Presence],
        *,
        selection: tuple[SelectionRule, ...] = (),
        rings: tuple[Ring, ...] = (),
        prioritisation: tuple[Bucket, ...] = (),
    ) -> None:
        """A new assignment method, receiving presences or rules: every member's key changes.
        New rings and prioritisation apply at once to the work already waiting."""
        self.rings = rings
        if prioritisation != self.prioritisation:
            self.prioritisation = prioritisation
            for ticket in list(self.backlog.values()):
                self.remove(ticket.conversation_id)
                self.add(ticket)
        for member in self.members.values():
            self._unindex(member)
        self.method = method
        self.receiving = receiving
        self.skill_index = self._skill_index_for(method)
        self.rule_indexes = [SortedList() for _ in selection]
        if selection != self.selection:  # a reload resends unchanged queues: skip the work
            self.selection = selection
            for member in self.members.values():
                member.rules = rules_matched(selection, member.view)
        for member in self.members.values():
            self._index(member)

    # --- backlog ---------------------------------------------------------------------

    def add(self, ticket: Ticket) -> None:
        if self.prioritisation:
            # Decided again each time the ticket comes back: the same work gives the same
            # bucket, so declined work keeps its place.
            key = backlog_key(ticket, *placement(self.prioritisation, ticket.work))
        else:
            key = backlog_key(ticket)
        self.backlog[key] = ticket
        self._key_of[ticket.conversation_id] = key

    def remove(self, conversation_id: str) -> Ticket | None:
        key = self._key_of.pop(conversation_id, None)
        return None if key is None else self.backlog.pop(key)

    def waiting_ticket(self, conversation_id: str) -> Ticket | None:
        key = self._key_of.get(conversation_id)
        return None if key is None else self.backlog[key]

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
        member.rules = rules_matched(self.selection, view)
        # Proposals made before the agent last left are still out: count them again.
        member.in_flight_units = sum(
            ticket.cost for ticket, agent_id in self.proposed.values() if agent_id == view.agent_id
        )
        self.members[view.agent_id] = member
        self._reindex(member)

    def leave(self, agent_id: str) -> None:
        member = self.members.pop(agent_id, None)
        if member is not None:
            self._unindex(member)

    def update(self, view: AgentView) -> None:
        member = self.members.get(view.agent_id)
        if member is None or view.version < member.view.version:
            return  # not a member (any more), or older news than we have
        self._unindex(member)
        if self.selection and facts(view) != facts(member.view):
            member.rules = rules_matched(self.selection, view)  # only when its facts change
        member.view = view
        self._index(member)

    def _reindex(self, member: Member) -> None:
        self._unindex(member)
        self._index(member)

    def _unindex(self, member: Member) -> None:
        agent_id = member.view.agent_id
        if member.key is not None:
            self.index.remove((member.key, agent_id))
            if self.skill_index is not None:
                self.skill_index.remove((member.key, agent_id), member.view.skills)
            member.key = None
        for rule, key in zip(member.rules, member.rule_keys, strict=False):
            self.rule_indexes[rule].remove((key, agent_id))
        member.rule_keys = ()

    def _index(self, member: Member) -> None:
        view = member.view
        free = view.free_units - member.in_flight_units
        if free <= 0 or view.presence not in self.receiving:
            return
        member.key = agent_key(self.method, view, free, member.last_assigned_here, member.joined)
        self.index.add((member.key, view.agent_id))
        if self.skill_index is not None:
            self.skill_index.add((member.key, view.agent_id), view.skills)
        keys = []
        for rule in member.rules:
            order = self.selection[rule].order
            key = agent_key(order, view, free, member.last_assigned_here, member.joined)
            self.rule_indexes[rule].add((key, view.agent_id))
            keys.append(key)
        member.rule_keys = tuple(keys)

    # --- decisions -------------------------------------------------------------------

    def ring_for(self, ticket: Ticket, now: float) -> Ring | None:
        """The widening ring in force for `ticket` at `now` (None: the queue has none)."""
        return ring_in_force(self.rings, ticket.enqueued_at, now)

    def _eligible(self, agent_id: str, ticket: Ticket, ring: Ring | None) -> bool:
        return why_not_eligible(self.members[agent_id].believed(), ticket, ring) is None

    def best_agent_for(self, ticket: Ticket, now: float) -> str | None:
        """The first indexed member, in method order, who may take `ticket` at `now`; the
        agents it prefers (affinity, the customer's preferred agents) come before anyone."""
        if ticket.pick:
            return None  # agents take pick-mode work themselves
        ring = self.ring_for(ticket, now)
        for agent_id in ticket.preferred:
            member = self.members.get(agent_id)
            if member is None or member.key is None:
                continue
            if self.method is AssignmentMethod.CUSTOM and not member.rules:
                continue  # preferred, but no selection rule of this queue takes them
            if self._eligible(agent_id, ticket, ring):
                return agent_id
        if self.method is AssignmentMethod.CLOSEST_SKILL_MATCH:
            return self._closest_agent_for(ticket, ring)
        if self.method is AssignmentMethod.CUSTOM:
            return self._selected_agent_for(ticket, ring)
        for _, agent_id in self.index:
            if self._eligible(agent_id, ticket, ring):
                return agent_id
        return None

    def _closest_agent_for(self, ticket: Ticket, ring: Ring | None) -> str | None:
        """Closest skill fit first (`ordering.skill_fit`), ties in the index's order (most
        free capacity first), read from the skill index in order of fit (see skill_index)."""
        assert self.skill_index is not None
        return closest_member(
            ticket.work.required_skills,
            skill_floors(ticket, ring),
            self.skill_index,
            self.index,
            lambda agent_id: self.members[agent_id].view.skills,
            lambda agent_id: self._eligible(agent_id, ticket, ring),
        )

    def _selected_agent_for(self, ticket: Ticket, ring: Ring | None) -> str | None:
        """The first rule, in order, whose index holds an eligible member: its best one."""
        for index in self.rule_indexes:
            for _, agent_id in index:
                if self._eligible(agent_id, ticket, ring):
                    return agent_id
        return None

    def best_work_for(self, agent_id: str, now: float) -> Ticket | None:
        """The first waiting ticket, in backlog order, that `agent_id` may take at `now`."""
        member = self.members.get(agent_id)
        if member is None:
            return None
        if self.method is AssignmentMethod.CUSTOM and not member.rules:
            return None  # no selection rule picks this agent: the queue never offers them work
        believed = member.believed()
        if believed.free_units <= 0 or believed.presence not in self.receiving:
            return None
        for ticket in self.backlog.values():
            if ticket.pick:
                continue  # agents take pick-mode work themselves
            if why_not_eligible(believed, ticket, self.ring_for(ticket, now)) is None:
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

    def assignable(self, now: float) -> Iterator[tuple[Ticket, str]]:
        """Pairs (waiting ticket, agent to propose it to), in backlog order, until no member
        has room. Each pair is marked in flight before the next is chosen."""
        if not self.index:
            return  # nobody has room: do not even look at the backlog
        for ticket in list(self.backlog.values()):
            if not self.index:
                return
            agent_id = self.best_agent_for(ticket, now)
            if agent_id is not None:
                self.mark_proposed(ticket, agent_id)
                yield ticket, agent_id

    def agent_for_new(self, ticket: Ticket, now: float) -> str | None:
        """An agent for a ticket that just arrived (or just reached a wider ring), marked in
        flight; None leaves it waiting.

        Only this ticket needs a look: older waiting work was already matched against every
        member with room (members who gain room ask for work themselves, and work reaching a
        wider ring is looked at again then).
        """
        if not self.index:
            return None
        agent_id = self.best_agent_for(ticket, now)
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
