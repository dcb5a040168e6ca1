"""ConversationActor: one conversation's state machine, timers and timeline."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from switchboard.actors import messages as m
from switchboard.actors.domain.lifecycle import Event, IllegalTransition, transition
from switchboard.actors.domain.model import ConversationState, Ticket, WorkStream
from switchboard.actors.domain.overflow import OverflowRule, OverflowThen
from switchboard.actors.errors import FailedPrecondition
from switchboard.actors.gateway_watch import ConversationEvent
from switchboard.actors.runtime import LoopActor
from switchboard.actors.runtime.timers import tell_later

if TYPE_CHECKING:
    from switchboard.actors.centre import Centre


S = ConversationState

# Why a conversation closed: machine-readable values of Conversation.close_reason
# (auto-closes are "auto_close_<state>", e.g. "auto_close_open").
ABANDONED = "abandoned"
CLOSED_BY_AGENT = "closed_by_agent"
OVERFLOW = "overflow"  # ended by a queue's overflow rule; the timeline gives the reason

# Overflow transfers one conversation may make before it is ended instead (rules that send
# work round in a circle must not keep it moving for ever).
MAX_OVERFLOW_TRANSFERS = 5

# Timeline steps a gateway is told about as they happen (WatchConversations).
GATEWAY_KINDS = frozenset({"queued", "accepted", "ended", "overflow", "closed"})

DECLINE_WORDS = {"timed_out": "offer timed out", "agent_disconnected": "agent disconnected"}
_log = structlog.get_logger("switchboard.conversation")


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: float
    kind: str
    detail: str
    queue_id: str = ""
    agent_id: str = ""


@dataclass(frozen=True, slots=True)
class ConversationSnapshot:
    ticket: Ticket
    state: ConversationState
    agent_id: str
    offer_pending: bool
    timeline: tuple[TimelineEntry, ...]
    close_reason: str


class ConversationActor(LoopActor):
    def __init__(self, ticket: Ticket, stream: WorkStream, directory: Centre) -> None:
        super().__init__()
        self.ticket = ticket
        self.stream = stream
        self.directory = directory
        self.clock = directory.clock
        self.state = S.OPEN
        self.agent_id = ""
        self.offer_pending = False
        self.close_reason = ""
        self.timeline: list[TimelineEntry] = []
        self._timer: object | None = None
        self._transfers = 0
        self._token = 0
        self.since = self.clock.now()  # when it entered its state

    @property
    def log(self) -> Any:
        # Bound on use rather than kept: 100,000 idle conversations need no logger each.
        work = self.ticket.work
        return _log.bind(conversation_id=work.conversation_id, queue_id=work.queue_id)

    @property
    def cid(self) -> str:
        return self.ticket.conversation_id

    def on_receive(self, message: object) -> object:
        match message:
            case m.Start(trace, rule, classification):
                self._start(trace, rule, classification)
            case m.Offered(agent_id, expires_at):
                self._offered(agent_id, expires_at)
            case m.Accepted(agent_id, how, note):
                self._accepted(agent_id, how, note)
            case m.Declined(agent_id, reason, counts):
                self._declined(agent_id, reason, counts)
            case m.BackToQueue(agent_id, reason, not_to_them):
                self._back_to_queue(agent_id, reason, not_to_them)
            case m.MovedToQueue(agent_id, queue_id):
                self._moved_to_queue(agent_id, queue_id)
            case m.Transferred(from_agent_id, to_agent_id):
                return self._transferred(from_agent_id, to_agent_id)
            case m.Parked(agent_id):
                # Asked: False when the customer ended it before the park got here.
                if self.state is not S.ACTIVE or self.agent_id != agent_id:
                    return False
                self._move(Event.PARK, "parked", f"parked by {agent_id}", agent_id=agent_id)
                return True
            case m.Resumed(agent_id):
                if self.state is S.WAITING and self.agent_id == agent_id:
                    self._move(Event.RESUME, "resumed", f"resumed by {agent_id}", agent_id=agent_id)
                else:
                    self.directory.agents[agent_id].tell(m.ResumeRefused(self.cid))
            case m.AgentGone(agent_id):
                if self.state is S.WAITING and self.agent_id == agent_id:
                    self.agent_id = ""
                    self._record("agent_gone", f"{agent_id} did not come back", agent_id=agent_id)
            case m.CustomerWrites():
                return self._customer_writes()
            case m.Ended(by, agent_id):
                self._move(Event.END, "ended", f"ended by {by}", agent_id=agent_id)
            case m.Closed(agent_id):
                self._close(CLOSED_BY_AGENT, Event.CLOSE, "closed by the agent", agent_id=agent_id)
            case m.CustomerAbandons(reason):
                return self._abandon(reason)
            case m.CustomerEnds():
                return self._customer_ends()
            case m.Overflowed(queue_id, rule, why):
                self._overflowed(queue_id, rule, why)
            case m.Recover(state, agent_id, since, timeline, was_offered):
                self._recover(state, agent_id, since, timeline, was_offered)
            case m.StateTimeout(token):
                if token == self._token:
                    self._timed_out()
            case m.ConversationSnapshotRequest():
                return self._snapshot()
            case _:
                return super().on_receive(message)
        return None

    # --- lifecycle -------------------------------------------------------------------

    def _start(
        self, trace: tuple[str, ...], rule: str | None, classification: tuple[str, ...]
    ) -> None:
        work = self.ticket.work
        self._record("submitted", f"submitted to work stream {work.stream_id}")
        if classification:
            self._record("classified", "; ".join(classification))
        why = f"rule {rule!r}" if rule else "fallback (no rule applied)"
        self._record(
            "routed",
            f"routed to queue {work.queue_id} by {why}: " + "; ".join(trace),
            queue_id=work.queue_id,
        )
        self._record("queued", f"waiting in queue {work.queue_id}", queue_id=work.queue_id)
        self._arm_timer()
        self.directory.queues[work.queue_id].tell(m.Enqueue(self.ticket))
        self.log.info("conversation.queued", work_stream_id=work.stream_id)

    def _recover(
        self,
        state: ConversationState,
        agent_id: str,
        since: float,
        timeline: tuple,
        was_offered: bool,
    ) -> None:
        """Back after a restart, where the journal says it was."""
        self.timeline = list(timeline)
        self.since = since
        work = self.ticket.work
        if state is S.CLOSED:
            # Its agent had closed it; the crash came before the conversation heard.
            self.state, self.agent_id = S.WRAP_UP, agent_id
            self._close(CLOSED_BY_AGENT, Event.CLOSE, "closed by the agent (before a restart)")
            return
        self.state, self.agent_id = state, agent_id
        if state is S.OPEN:
            why = " (the offer ringing then was withdrawn)" if was_offered else ""
            self._record(
                "recovered",
                f"server restarted: back in its place in queue {work.queue_id}{why}",
                queue_id=work.queue_id,
            )
            self.directory.queues[work.queue_id].tell(m.Enqueue(self.ticket, returning=True))
        else:
            holder = f" with {agent_id}" if agent_id else ""
            self._record("recovered", f"server restarted: {state.value}{holder}", agent_id=agent_id)
        self._arm_timer()

    def _offered(self, agent_id: str, expires_at: float) -> None:
        if self.state is not S.OPEN:
            # Abandoned or closed while the proposal was in flight: undo the offer.
            self.directory.agents[agent_id].tell(m.WithdrawOffer(self.cid, self.close_reason))
            return
        self.agent_id = agent_id
        self.offer_pending = True
        wait = expires_at - self.clock.now()
        self._record("offered", f"offered to {agent_id}, expires in {wait:g} s", agent_id=agent_id)

    def _accepted(self, agent_id: str, how: str, note: str = "") -> None:
        if self.state is not S.OPEN:
            self.directory.agents[agent_id].tell(m.WithdrawOffer(self.cid, self.close_reason))
            return
        self.agent_id = agent_id
        self.offer_pending = False
        by = f"{how} {agent_id}" if how.endswith((" to", " by")) else f"{how} by {agent_id}"
        self._move(Event.ACCEPT, "accepted", f"{by} ({note})" if note else by, agent_id=agent_id)

    def _back_to_queue(self, agent_id: str, reason: str, not_to_them: bool) -> None:
        if self._dropped_after_the_end(agent_id, "released"):
            return
        if self.state is not S.ACTIVE or self.agent_id != agent_id:
            return
        self.agent_id = ""
        if not_to_them:
            self.ticket.declines[agent_id] = self.ticket.decline_limit
        self._move(
            Event.RELEASE,
            "released",
            f"{reason} {agent_id}; back to its place in the queue"
            if not_to_them
            else f"{reason} ({agent_id}); back to the queue",
            agent_id=agent_id,
        )
        self.directory.queues[self.ticket.work.queue_id].tell(
            m.Enqueue(self.ticket, returning=True)
        )

    def _moved_to_queue(self, agent_id: str, queue_id: str) -> None:
        """Transferred to a queue: it starts over there (its age, overflow rules)."""
        if self._dropped_after_the_end(agent_id, "transferred to a queue"):
            return
        if self.state is not S.ACTIVE or self.agent_id != agent_id:
            return
        self.agent_id = ""
        self.ticket.declines[agent_id] = self.ticket.decline_limit
        self._move(
            Event.RELEASE,
            "transferred",
            f"transferred by {agent_id} from queue {self.ticket.work.queue_id} to queue {queue_id}",
            agent_id=agent_id,
        )
        self._enter_queue(queue_id)

    def _enter_queue(self, queue_id: str) -> None:
        self.ticket.work = dataclasses.replace(self.ticket.work, queue_id=queue_id)
        self.ticket.enqueued_at = self.clock.now()  # its age in the new queue
        self._record("queued", f"waiting in queue {queue_id}", queue_id=queue_id)
        self.directory.queues[queue_id].tell(m.Enqueue(self.ticket))

    def _dropped_after_the_end(self, agent_id: str, how: str) -> bool:
        """The agent let go of work the customer had already ended (the two crossed): there
        is nothing left to serve, so it closes rather than waiting in wrap-up for nobody."""
        if self.state is not S.WRAP_UP or self.agent_id != agent_id:
            return False
        self._close(CLOSED_BY_AGENT, Event.CLOSE, f"the customer had ended it; {how} by {agent_id}")
        return True

    def _transferred(self, from_agent_id: str, to_agent_id: str) -> bool:
        """The new agent has it. False when it had closed or moved on meanwhile (an
        auto-close, say): the new agent must let go of it."""
        if self.state not in (S.ACTIVE, S.WRAP_UP) or self.agent_id != from_agent_id:
            return False
        self.agent_id = to_agent_id
        self._record(
            "transferred",
            f"transferred by {from_agent_id} to agent {to_agent_id} (capacity moves with it)",
            agent_id=to_agent_id,
        )
        if self.state is S.WRAP_UP:
            # The customer ended it while it was being handed over: the new agent wraps up.
            self.directory.agents[to_agent_id].tell(m.CustomerEnded(self.cid))
        return True

    def _customer_writes(self) -> ConversationState:
        """A message from the customer. Parked work comes back: to the agent who parked it
        when the work stream keeps affinity, ahead of the rest; else to its queue."""
        if self.state in (S.OPEN, S.ACTIVE):
            return self.state  # someone has it, or will: nothing moves
        if self.state is not S.WAITING:
            raise FailedPrecondition(
                f"conversation {self.cid} is {self.state.value}: a new message from the "
                "customer starts a new conversation (SubmitWork)"
            )
        agent_id = self.agent_id
        if agent_id:
            self.directory.agents[agent_id].tell(m.ParkedWorkLeaves(self.cid))
        self.agent_id = ""
        work = self.ticket.work
        back_to = agent_id if agent_id and self.stream.affinity else ""
        if back_to:
            self.ticket.preferred = (back_to, *(a for a in self.ticket.preferred if a != back_to))
        how = f"; affinity: {back_to} first" if back_to else ""
        self._move(Event.CUSTOMER_RETURNS, "customer_returned", f"the customer wrote again{how}")
        self._record("queued", f"waiting in queue {work.queue_id}", queue_id=work.queue_id)
        self.directory.queues[work.queue_id].tell(m.Enqueue(self.ticket))
        return self.state

    def _declined(self, agent_id: str, reason: str, counts: bool) -> None:
        if self.state is not S.OPEN:
            return
        if counts:
            self.ticket.declines[agent_id] = self.ticket.declines.get(agent_id, 0) + 1
        self.agent_id = ""
        self.offer_pending = False
        why = DECLINE_WORDS.get(reason, reason)
        if counts:
            detail = f"{why} by {agent_id}; back to its place in the queue"
        else:  # the agent's desktop went away: not the agent's choice, not a decline
            detail = (
                f"offer to {agent_id} withdrawn ({why}; not counted as a decline); back to its "
                "place in the queue"
            )
        self._record("declined" if counts else "withdrawn", detail, agent_id=agent_id)
        self.directory.queues[self.ticket.work.queue_id].tell(
            m.Enqueue(self.ticket, returning=True)
        )

    def _overflowed(self, queue_id: str, rule: OverflowRule, why: str) -> None:
        if self.state is not S.OPEN or queue_id != self.ticket.work.queue_id:
            return  # it moved on meanwhile
        if rule.then is OverflowThen.ASSIGN_ANYWAY:
            self._record("overflow", f"queue {queue_id}: {why}; assigned anyway", queue_id=queue_id)
            return
        if rule.then is OverflowThen.TRANSFER and self._transfers < MAX_OVERFLOW_TRANSFERS:
            self._transfers += 1
            self._record(
                "overflow",
                f"queue {queue_id}: {why}; transferred to {rule.target}",
                queue_id=queue_id,
            )
            self._enter_queue(rule.target)
            return
        if rule.then in (OverflowThen.CALLBACK, OverflowThen.VOICEMAIL):
            # The gateway takes it from here (it watches for this close reason).
            code = f"{rule.then.value}_requested"
            self._close(
                code,
                Event.TURNED_AWAY,
                f"queue {queue_id}: {why}; handed back to the gateway for a {rule.then.value}",
            )
            return
        if rule.then is OverflowThen.TRANSFER:
            why = f"{why}; not transferred again after {MAX_OVERFLOW_TRANSFERS} transfers"
        reason = rule.reason or "the queue cannot take more work"
        self._close(OVERFLOW, Event.TURNED_AWAY, f"queue {queue_id}: {why}; ended: {reason}")

    def _abandon(self, reason: str) -> ConversationState:
        if self.state is S.ACTIVE:
            return self._customer_ends()
        if self.state is not S.OPEN:
            raise FailedPrecondition(
                f"conversation {self.cid} is {self.state.value}: only open work can be abandoned"
            )
        detail = f"abandoned by the customer ({reason})" if reason else "abandoned by the customer"
        self._leave_queue_or_agent(ABANDONED)
        self._close(ABANDONED, Event.ABANDON, detail)
        return self.state

    def _customer_ends(self) -> ConversationState:
        if self.state is not S.ACTIVE:
            raise FailedPrecondition(
                f"conversation {self.cid} is {self.state.value}: only active work can be ended"
                + (
                    " (use AbandonConversation for work not yet answered)"
                    if self.state is S.OPEN
                    else ""
                )
            )
        self.directory.agents[self.agent_id].tell(m.CustomerEnded(self.cid))
        self._move(Event.END, "ended", "ended by customer", agent_id=self.agent_id)
        return self.state

    def _timed_out(self) -> None:
        code = f"auto_close_{self.state.value}"
        detail = f"auto-closed after {self._timeout_for(self.state):g} s {self.state.value}"
        if self.state is S.OPEN:
            self._leave_queue_or_agent(code)
        elif self.agent_id:
            self.directory.agents[self.agent_id].tell(m.WithdrawOffer(self.cid, code))
        self._close(code, Event.TIMEOUT, detail)

    def _leave_queue_or_agent(self, reason: str) -> None:
        """Open work leaves: out of the queue, or the ringing offer is withdrawn."""
        if self.offer_pending:
            self.directory.agents[self.agent_id].tell(m.WithdrawOffer(self.cid, reason))
            self.offer_pending = False
            self.agent_id = ""  # it was only offered, never held
        else:
            self.directory.queues[self.ticket.work.queue_id].tell(m.Withdraw(self.cid))

    def _close(self, reason: str, event: Event, detail: str, agent_id: str = "") -> None:
        self.close_reason = reason
        self._move(event, "closed", detail, agent_id=agent_id or self.agent_id)
        self.directory.conversation_closed(self._snapshot())
        self.stop()

    def _move(self, event: Event, kind: str, detail: str, agent_id: str = "") -> None:
        try:
            self.state = transition(self.state, event)
        except IllegalTransition as exc:
            self.log.warning("conversation.illegal_transition", detail=str(exc))
            return
        self.since = self.clock.now()
        self._record(kind, detail, agent_id=agent_id)
        self._arm_timer()
        self.log.info(f"conversation.{kind}", state=self.state.value, agent_id=agent_id)

    # --- timers and records ----------------------------------------------------------

    def _timeout_for(self, state: ConversationState) -> float:
        return self.stream.auto_close.get(state, 0.0)

    def _arm_timer(self) -> None:
        """The auto-close timer of the state, counted from when the state began."""
        if self._timer is not None:
            self._timer.cancel()  # type: ignore[attr-defined]
            self._timer = None
        self._token += 1
        seconds = self._timeout_for(self.state)
        if seconds > 0 and self.state is not S.CLOSED:
            token = self._token
            due = max(self.since + seconds, self.clock.now())
            self._timer = tell_later(self.clock, due, self.actor_ref, m.StateTimeout(token))

    def _record(self, kind: str, detail: str, queue_id: str = "", agent_id: str = "") -> None:
        entry = TimelineEntry(self.clock.now(), kind, detail, queue_id or "", agent_id)
        self.timeline.append(entry)
        if self.state is not S.CLOSED:
            # Where it is now, so that a restart puts it back there.
            self.directory.journal.saved(
                self.ticket, self.state, self.agent_id, self.offer_pending, self.since
            )
        self.directory.journal.record(self.cid, entry)
        if self.directory.watchers and kind in GATEWAY_KINDS:
            work = self.ticket.work
            self.directory.publish(
                ConversationEvent(
                    self.cid,
                    work.stream_id,
                    self.state,
                    kind,
                    self.close_reason if kind == "closed" else "",
                    detail,
                    entry.at,
                    queue_id or work.queue_id,
                )
            )

    def _snapshot(self) -> ConversationSnapshot:
        return ConversationSnapshot(
            ticket=self.ticket,
            state=self.state,
            agent_id=self.agent_id,
            offer_pending=self.offer_pending,
            timeline=tuple(self.timeline),
            close_reason=self.close_reason,
        )
