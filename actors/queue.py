"""QueueActor: one queue's backlog and members; proposes work to agents, never assigns it.

The agent who receives a proposal decides (it alone knows its true capacity), so two queues
can never over-book one agent.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from switchboard.actors import messages as m
from switchboard.actors.domain.model import Presence, QueueSpec, Ticket
from switchboard.actors.domain.overflow import (
    Overflow,
    OverflowThen,
    OverflowWhen,
    estimate_wait,
    overflow_on_entry,
    overflow_while_waiting,
)
from switchboard.actors.domain.rings import next_widening
from switchboard.actors.errors import FailedPrecondition
from switchboard.actors.queue_book import QueueBook, WhyNot
from switchboard.actors.runtime import LoopActor
from switchboard.actors.runtime.timers import tell_later

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


# How far back the queue looks at its own hand-outs to estimate the wait of new work.
WAIT_ESTIMATE_WINDOW_S = 600.0


class QueueActor(LoopActor):
    def __init__(self, spec: QueueSpec, receiving: frozenset[Presence], directory: Centre):
        super().__init__()
        self.spec = spec
        self.book = QueueBook(
            spec.id,
            spec.method,
            receiving,
            selection=spec.selection,
            rings=spec.rings,
            prioritisation=spec.prioritisation,
        )
        self.directory = directory
        self.assigned_at: deque[float] = deque()  # recent hand-outs, for the wait estimate
        self._deadlines: list[tuple[float, str]] = []  # (when it has waited too long, id)
        self._widenings: list[tuple[float, str]] = []  # (when its next ring starts, id)
        self._check: object | None = None  # the armed overflow-check timer
        self._check_at = float("inf")
        self._check_token = 0
        # The earliest moment an overflow check is due: ring timers fire far more often, and
        # must not each cost a look at every waiting item.
        self._overflow_at = float("inf")
        self._estimates = any(r.when is OverflowWhen.ESTIMATED_WAIT for r in spec.overflow)
        self.log = structlog.get_logger("switchboard.queue").bind(queue_id=spec.id)

    def on_receive(self, message: object) -> object:
        answer = self._handle(message)
        # Read by routing (on this same thread) to prefer queues that are not overflowing.
        self.directory.queue_waiting[self.spec.id] = len(self.book)
        self.directory.queue_estimate[self.spec.id] = self._estimated_wait(len(self.book))
        return answer

    def _handle(self, message: object) -> object:
        match message:
            case m.Enqueue(ticket, returning):
                if not returning and self._turned_away(ticket):
                    return None
                self.book.add(ticket)
                self._watch(ticket)
                agent_id = self.book.agent_for_new(ticket, self.directory.clock.now())
                if agent_id is not None:
                    self._tell_agent(agent_id, ticket, None)
            case m.Withdraw(conversation_id):
                return self.book.withdraw(conversation_id)
            case m.AgentStatus(view):
                self.book.update(view)
            case m.WorkRequest(view, round_id):
                self.book.update(view)
                ticket = self.book.best_work_for(view.agent_id, self.directory.clock.now())
                if ticket is not None:
                    self.book.mark_proposed(ticket, view.agent_id)
                self._tell_agent(view.agent_id, ticket, round_id)
            case m.ProposalTaken(conversation_id, agent_id):
                if conversation_id in self.book.withdrawn:
                    # The customer left while the proposal was in flight: undo it at the agent.
                    reason = "conversation left the queue"
                    self.directory.agents[agent_id].tell(m.WithdrawOffer(conversation_id, reason))
                now = self.directory.clock.now()
                self.book.taken(conversation_id, agent_id, now)
                self.assigned_at.append(now)
            case m.ProposalReturned(ticket, agent_id, view, reason):
                self.log.debug(
                    "queue.proposal_returned",
                    conversation_id=ticket.conversation_id,
                    agent_id=agent_id,
                    reason=reason,
                )
                if self.book.returned(ticket, view):
                    self._watch_rings(ticket)
                    self._propose_waiting()
            case m.MemberJoined(view):
                self.book.join(view)
                self._propose_waiting()
            case m.MemberLeft(agent_id):
                self.book.leave(agent_id)
            case m.Reconfigure(spec, receiving):
                rings_changed = spec.rings != self.spec.rings
                self.spec = spec
                self._estimates = any(r.when is OverflowWhen.ESTIMATED_WAIT for r in spec.overflow)
                self.book.reconfigure(
                    spec.method,
                    receiving,
                    selection=spec.selection,
                    rings=spec.rings,
                    prioritisation=spec.prioritisation,
                )
                if rings_changed:  # waiting work widens on the new rings' times
                    now = self.directory.clock.now()
                    for ticket in self.book.waiting():
                        self._remember_widening(ticket, now)
                self._propose_waiting()
                self._arm_check()
            case m.QueueCheck(token):
                if token == self._check_token:
                    self._check = None
                    self._check_at = float("inf")
                    self._check_waiting()
            case m.HandOver(conversation_id, agent_id, force):
                try:
                    return self.book.hand_over(conversation_id, agent_id, force=force)
                except WhyNot as exc:
                    raise FailedPrecondition(str(exc)) from None
            case m.PickableRequest():
                return self.book.pickable()
            case m.QueueSnapshotRequest():
                return self._snapshot()
            case _:
                return super().on_receive(message)
        return None

    def _turned_away(self, ticket: Ticket) -> bool:
        """Check the overflow rules for arriving work; True if it must go elsewhere."""
        now = self.directory.clock.now()
        found = overflow_on_entry(
            self.spec.overflow,
            self.spec.hours,
            len(self.book),
            now,
            self._estimated_wait(len(self.book)),
        )
        if found is None:
            return False
        self._tell_overflow(ticket, found)
        return found.rule.then is not OverflowThen.ASSIGN_ANYWAY

    def _tell_overflow(self, ticket: Ticket, found: Overflow) -> None:
        conversation = self.directory.conversations.get(ticket.conversation_id)
        if conversation is not None:
            conversation.tell(m.Overflowed(self.spec.id, found.rule, found.why))

    # --- overflow while work waits ---------------------------------------------------

    def _estimated_wait(self, position: int) -> float:
        if not self._estimates:
            return 0.0  # no rule asks, so spare every message a walk over the members
        now = self.directory.clock.now()
        while self.assigned_at and self.assigned_at[0] < now - WAIT_ESTIMATE_WINDOW_S:
            self.assigned_at.popleft()
        members_on = sum(
            1
            for member in self.book.members.values()
            if member.view.presence in self.book.receiving
            or member.view.free_units < member.view.capacity
        )
        return estimate_wait(position, len(self.assigned_at), WAIT_ESTIMATE_WINDOW_S, members_on)

    def _watch(self, ticket: Ticket) -> None:
        """Remember when this work will have waited too long, and arm the check."""
        limits = [r.limit for r in self.spec.overflow if r.when is OverflowWhen.WAITED]
        if limits:
            heapq.heappush(
                self._deadlines, (ticket.enqueued_at + min(limits), ticket.conversation_id)
            )
        self._watch_rings(ticket)

    def _watch_rings(self, ticket: Ticket) -> None:
        """Remember when this work reaches its next (wider) ring, and arm the check."""
        self._remember_widening(ticket, self.directory.clock.now())
        self._arm_check()

    def _remember_widening(self, ticket: Ticket, now: float) -> None:
        at = next_widening(self.spec.rings, ticket.enqueued_at, now)
        if at is not None:
            heapq.heappush(self._widenings, (at, ticket.conversation_id))

    def _arm_check(self) -> None:
        now = self.directory.clock.now()
        moments = []
        if self._deadlines:
            moments.append(self._deadlines[0][0] + 1e-6)  # strictly more than the limit
        if self.spec.hours is not None and any(
            r.when is OverflowWhen.OUTSIDE_HOURS for r in self.spec.overflow
        ):
            change = self.spec.hours.next_change(now)
            if change is not None:
                moments.append(change)
        self._overflow_at = min([self._overflow_at, *moments])
        if self._widenings:
            moments.append(self._widenings[0][0])  # a ring starts when its after_s is reached
        when = min(moments, default=float("inf"))
        if when >= self._check_at:
            return
        if self._check is not None:
            self._check.cancel()  # type: ignore[attr-defined]
        self._check_token += 1
        self._check_at = when
        self._check = tell_later(
            self.directory.clock, when, self.actor_ref, m.QueueCheck(self._check_token)
        )

    def _check_waiting(self) -> None:
        now = self.directory.clock.now()
        if now >= self._overflow_at:
            self._overflow_at = float("inf")
            self._overflow_waiting(now)
        self._widen(now)
        self._arm_check()

    def _overflow_waiting(self, now: float) -> None:
        while self._deadlines and self._deadlines[0][0] < now:
            heapq.heappop(self._deadlines)
        for ticket in list(self.book.waiting()):
            found = overflow_while_waiting(
                self.spec.overflow, self.spec.hours, now - ticket.enqueued_at, now
            )
            if found is None or found.rule.then is OverflowThen.ASSIGN_ANYWAY:
                continue
            self.book.remove(ticket.conversation_id)
            self._tell_overflow(ticket, found)

    def _widen(self, now: float) -> None:
        """Work that has just reached a wider ring: look for an agent for it again now, as
        for new work (agents newly eligible for it will not ask for it on their own)."""
        while self._widenings and self._widenings[0][0] <= now:
            _, conversation_id = heapq.heappop(self._widenings)
            ticket = self.book.waiting_ticket(conversation_id)
            if ticket is None:
                continue  # taken or gone; work handed back re-arms its own ring timer
            self._remember_widening(ticket, now)
            agent_id = self.book.agent_for_new(ticket, now)
            if agent_id is not None:
                self._tell_agent(agent_id, ticket, None)

    def _propose_waiting(self) -> None:
        for ticket, agent_id in self.book.assignable(self.directory.clock.now()):
            self._tell_agent(agent_id, ticket, None)

    def _tell_agent(self, agent_id: str, ticket: Ticket | None, round_id: int | None) -> None:
        ring = None if ticket is None else self.book.ring_for(ticket, self.directory.clock.now())
        proposal = m.Proposal(self.spec.id, self.spec.priority, ticket, round_id, ring)
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
