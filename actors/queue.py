"""QueueActor: one queue's backlog and members; proposes work to agents, never assigns it.

The agent who receives a proposal decides (it alone knows its true capacity), so two queues
can never over-book one agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from switchboard.actors import messages as m
from switchboard.actors.domain.model import Presence, QueueSpec
from switchboard.actors.domain.overflow import OverflowThen, overflow_on_entry
from switchboard.actors.queue_book import QueueBook
from switchboard.actors.runtime import LoopActor

if TYPE_CHECKING:
    from switchboard.actors.centre import Centre


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    queue_id: str
    priority: int
    method: str
    member_ids: tuple[str, ...]
    waiting_ids: tuple[str, ...]
    oldest_enqueued_at: float | None
    members_by_presence: dict[str, int]


class QueueActor(LoopActor):
    def __init__(self, spec: QueueSpec, receiving: frozenset[Presence], directory: Centre):
        super().__init__()
        self.spec = spec
        self.book = QueueBook(spec.id, spec.method, receiving)
        self.directory = directory
        self.log = structlog.get_logger("switchboard.queue").bind(queue_id=spec.id)

    def on_receive(self, message: object) -> object:
        answer = self._handle(message)
        # Read by routing (on this same thread) to prefer queues that are not overflowing.
        self.directory.queue_waiting[self.spec.id] = len(self.book)
        return answer

    def _handle(self, message: object) -> object:
        match message:
            case m.Enqueue(ticket, returning):
                if not returning and self._turned_away(ticket):
                    return None
                self.book.add(ticket)
                agent_id = self.book.agent_for_new(ticket)
                if agent_id is not None:
                    self._tell_agent(agent_id, ticket, None)
            case m.Withdraw(conversation_id):
                return self.book.withdraw(conversation_id)
            case m.AgentStatus(view):
                self.book.update(view)
            case m.WorkRequest(view, round_id):
                self.book.update(view)
                ticket = self.book.best_work_for(view.agent_id)
                if ticket is not None:
                    self.book.mark_proposed(ticket, view.agent_id)
                self._tell_agent(view.agent_id, ticket, round_id)
            case m.ProposalTaken(conversation_id, agent_id):
                if conversation_id in self.book.withdrawn:
                    # The customer left while the proposal was in flight: undo it at the agent.
                    reason = "conversation left the queue"
                    self.directory.agents[agent_id].tell(m.WithdrawOffer(conversation_id, reason))
                self.book.taken(conversation_id, agent_id, self.directory.clock.now())
            case m.ProposalReturned(ticket, agent_id, view, reason):
                self.log.debug(
                    "queue.proposal_returned",
                    conversation_id=ticket.conversation_id,
                    agent_id=agent_id,
                    reason=reason,
                )
                if self.book.returned(ticket, view):
                    self._propose_waiting()
            case m.MemberJoined(view):
                self.book.join(view)
                self._propose_waiting()
            case m.MemberLeft(agent_id):
                self.book.leave(agent_id)
            case m.Reconfigure(spec, receiving):
                self.spec = spec
                self.book.reconfigure(spec.method, receiving)
                self._propose_waiting()
            case m.QueueSnapshotRequest():
                return self._snapshot()
            case _:
                return super().on_receive(message)
        return None

    def _turned_away(self, ticket: object) -> bool:
        """Check the overflow rules for arriving work; True if it must go elsewhere."""
        now = self.directory.clock.now()
        found = overflow_on_entry(self.spec.overflow, self.spec.hours, len(self.book), now)
        if found is None:
            return False
        conversation = self.directory.conversations.get(ticket.conversation_id)  # type: ignore[attr-defined]
        if conversation is not None:
            conversation.tell(m.Overflowed(self.spec.id, found.rule, found.why))
        return found.rule.then is not OverflowThen.ASSIGN_ANYWAY

    def _propose_waiting(self) -> None:
        for ticket, agent_id in self.book.assignable():
            self._tell_agent(agent_id, ticket, None)

    def _tell_agent(self, agent_id: str, ticket: object, round_id: int | None) -> None:
        proposal = m.Proposal(self.spec.id, self.spec.priority, ticket, round_id)  # type: ignore[arg-type]
        self.directory.agents[agent_id].tell(proposal)

    def _snapshot(self) -> QueueSnapshot:
        by_presence: dict[str, int] = {}
        for member in self.book.members.values():
            name = member.view.presence.value
            by_presence[name] = by_presence.get(name, 0) + 1
        return QueueSnapshot(
            queue_id=self.spec.id,
            priority=self.spec.priority,
            method=self.spec.method.value,
            member_ids=tuple(self.book.members),
            waiting_ids=tuple(t.conversation_id for t in self.book.waiting()),
            oldest_enqueued_at=self.book.oldest_enqueued_at(),
            members_by_presence=by_presence,
        )
