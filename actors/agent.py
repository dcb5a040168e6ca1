"""AgentActor: the truth about one agent — presence, capacity, offers and held work.

It is the only place capacity is reserved or released. Queues propose work; the agent takes
or returns each proposal. When it gains room it runs a *round*: it asks every queue it serves
for its best waiting work, waits for all answers, and takes the best across queues (queue
priority, then item priority, then age), returning the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from switchboard.actors import messages as m
from switchboard.actors.desktop_link import (
    AgentUpdateEvent,
    AssignmentEvent,
    ConversationUpdateEvent,
    DesktopLink,
    Envelope,
    OfferEvent,
    OfferWithdrawnEvent,
)
from switchboard.actors.domain.capacity import ProfileCounts
from switchboard.actors.domain.eligibility import has_skills, why_not_eligible
from switchboard.actors.domain.model import (
    AgentSpec,
    AgentView,
    Channel,
    ConversationState,
    Presence,
    PresenceAfter,
    ProfileReset,
    SkillMatching,
    Ticket,
    frozen_map,
)
from switchboard.actors.domain.ordering import backlog_key, cross_queue_key
from switchboard.actors.domain.presence import next_presence
from switchboard.actors.domain.rings import Ring
from switchboard.actors.errors import FailedPrecondition, InvalidArgument
from switchboard.actors.runtime import LoopActor
from switchboard.actors.runtime.timers import tell_later

if TYPE_CHECKING:
    from switchboard.actors.centre import Centre

NEVER = -math.inf
EMPTY = frozen_map()

# Why an offer ended without being accepted (OfferWithdrawn.reason on the desktop stream).
REJECTED = "rejected"
TIMED_OUT = "timed_out"
AGENT_DISCONNECTED = "agent_disconnected"
SERVER_RESTARTED = "server_restarted"  # offers do not survive a restart: back to the queue


@dataclass(slots=True)
class Held:
    """A conversation the agent has been given: offered (ringing), active, or in wrap-up."""

    ticket: Ticket
    queue_id: str
    state: str  # "offered", "active", "wrap_up"
    holds_capacity: bool = True
    timer: object | None = None
    token: int = 0
    day: object = None  # the day its end-of-day capacity profiles counted it
    ended_meanwhile: bool = False  # the customer ended it while it was being transferred


@dataclass(slots=True)
class Round:
    id: int
    awaiting: set[str]
    candidates: list[tuple[tuple, Ticket, str, Ring | None]] = field(default_factory=list)


class AgentActor(LoopActor):
    def __init__(self, spec: AgentSpec, directory: Centre) -> None:
        super().__init__()
        self.spec = spec
        self.directory = directory
        self.clock = directory.clock
        self.chosen = Presence.OFFLINE  # what the agent (or the engine) last chose
        self.presence = Presence.OFFLINE  # what routing sees
        self.used = 0
        self.work: dict[str, Held] = {}
        self.last_assigned_at = NEVER
        self.last_released_at = NEVER
        self.version = 0
        self.link: DesktopLink | None = None
        self.sequence = 0
        self.round: Round | None = None
        self.round_again = False
        self._rounds = 0
        self._tokens = 0
        self._last_update: AgentUpdateEvent | None = None
        self._event_this_turn: Envelope | None = None
        self._grace_token = 0
        self.presence_before_drop: Presence | None = None
        self.custom = ""  # the custom presence chosen ("lunch"); `chosen` is its base
        self.custom_before_drop = ""
        self.counts = ProfileCounts(spec.profiles, directory.zone)
        self.counts.roll(self.clock.now())
        self._midnight: object | None = None
        self._journalled_counts: dict[str, int] = {}
        self.log = structlog.get_logger("switchboard.agent").bind(agent_id=spec.id)

    # --- messages --------------------------------------------------------------------

    def on_receive(self, message: object) -> object:
        # The agent's state rides on the last event pushed while handling this message; the
        # envelope is not read before the turn ends (see Envelope).
        self._event_this_turn = None
        match message:
            case m.Proposal(queue_id, queue_priority, ticket, round_id, ring):
                self._on_proposal(queue_id, queue_priority, ticket, round_id, ring)
            case m.Connect(link, presence, custom, resume_after):
                return self._connect(link, presence, custom, resume_after)
            case m.Disconnect(link):
                self._disconnect(link)
            case m.SetPresence(presence, custom):
                return self._set_presence(presence, custom)
            case m.AcceptOffer(conversation_id):
                return self._accept(conversation_id)
            case m.RejectOffer(conversation_id):
                self._decline(
                    self._offered(conversation_id), REJECTED, self.directory.settings.after_reject
                )
            case m.OfferExpired(conversation_id, token):
                held = self.work.get(conversation_id)
                if held is not None and held.state == "offered" and held.token == token:
                    self._decline(held, TIMED_OUT, self.directory.settings.after_missed_offer)
            case m.AgentEnds(conversation_id, close):
                held = self.work.get(conversation_id)
                if close and held is not None and held.state == "wrap_up":
                    # The customer ended it first: "end and close" still closes it, as it
                    # does when the two cross (the customer's end arriving after the agent's).
                    self._close(held)
                    return ConversationState.CLOSED
                held = self._held(conversation_id, "active", "end")
                if close:
                    # Ended and closed in one step: the desktop that asked hears where the
                    # conversation ended up, once, with the agent's state after both (the
                    # timeline still has both steps).
                    self._end(held, by="agent", then_close=True)
                    self._close(held, "ended and closed by agent")
                    return ConversationState.CLOSED
                return self._end(held, by="agent")
            case m.CustomerEnded(conversation_id):
                held = self.work.get(conversation_id)
                if held is not None and held.state in ("active", "parking"):
                    # (Parking: the customer ended it first; the conversation refuses the park.)
                    self._end(held, by="customer")
                elif held is not None and held.state == "transferring":
                    held.ended_meanwhile = True  # whoever keeps it wraps it up
            case m.AgentCloses(conversation_id):
                self._close(self._held(conversation_id, "wrap_up", "close"))
            case m.WrapUpBlockExpired(conversation_id, token):
                held = self.work.get(conversation_id)
                if held is not None and held.token == token and held.holds_capacity:
                    self._release(held)
                    self._changed(gained_room=True)
            case m.WithdrawOffer(conversation_id, reason):
                self._withdraw(conversation_id, reason)
            case m.Reclaim(ticket, queue_id, state, since):
                self._reclaim(ticket, queue_id, state, since)
            case m.NumberFrom(sequence):
                self.sequence = max(self.sequence, sequence)
            case m.CountedToday(day, used):
                if self.counts.restore(day, used, self.clock.now()):
                    self._arm_midnight()
                    self._changed(gained_room=False)
            case m.OfferLost(conversation_id):
                self._push(OfferWithdrawnEvent(conversation_id, SERVER_RESTARTED))
            case m.ZoneChanged(zone):
                self.counts.move_to(zone, self.clock.now())
                if self._midnight is not None:
                    self._midnight.cancel()  # type: ignore[attr-defined]
                    self._midnight = None
                self._arm_midnight()
            case m.DayStarts():
                self._midnight = None
                if self.counts.roll(self.clock.now()):
                    self.log.info("agent.profiles_start_over")
                    self._changed(gained_room=True)
                self._arm_midnight()
            case m.TakeFromQueue(ticket, queue_id, force):
                return self._take_from_queue(ticket, queue_id, force)
            case m.ReleaseWork(conversation_id):
                return self._give_back(self._held(conversation_id, "active", "release"), None)
            case m.TransferToQueue(conversation_id, queue_id):
                held = self._held(conversation_id, "active", "transfer")
                return self._give_back(held, queue_id)
            case m.HandOff(conversation_id, to_agent_id):
                return self._hand_off(conversation_id, to_agent_id)
            case m.HandOffDone(conversation_id, to_agent_id):
                self._hand_off_done(conversation_id, to_agent_id)
            case m.HandOffCancelled(conversation_id):
                held = self.work.get(conversation_id)
                if held is not None and held.state == "transferring":
                    held.state = "active"
                    self._note(held.ticket.conversation_id)
                    if held.ended_meanwhile:
                        self._end(held, by="customer")
            case m.ResumeRefused(conversation_id):
                self._resume_refused(conversation_id)
            case m.TransferIn(ticket, queue_id, from_agent_id):
                return self._transfer_in(ticket, queue_id, from_agent_id)
            case m.Park(conversation_id):
                self._start_parking(self._held(conversation_id, "active", "park"))
            case m.ParkDone(conversation_id, confirmed):
                held = self.work.get(conversation_id)
                if held is not None and held.state == "parking":
                    if confirmed:
                        self._park(held)
                    else:
                        held.state = "active"
            case m.Resume(conversation_id):
                return self._resume(self._held(conversation_id, "waiting", "resume"))
            case m.ParkedWorkLeaves(conversation_id):
                held = self.work.get(conversation_id)
                if held is not None and held.state == "waiting":
                    del self.work[conversation_id]
                    self._note(conversation_id)
                    self._push_update_if_changed()
            case m.GraceExpired(token):
                if token == self._grace_token and self.link is None:
                    self._grace_expired()
            case m.ChangeMembership(queue_ids, capacity, skills, name, attributes, profiles):
                self._change_membership(queue_ids, capacity, skills, name, attributes, profiles)
            case m.AgentSnapshotRequest():
                return self._snapshot()
            case _:
                return super().on_receive(message)
        return None

    # --- proposals and rounds --------------------------------------------------------

    def _on_proposal(
        self,
        queue_id: str,
        queue_priority: int,
        ticket: Ticket | None,
        round_id: int | None,
        ring: Ring | None,
    ) -> None:
        current = self.round
        if ticket is not None and current is not None:
            key = cross_queue_key(queue_priority, ticket)
            current.candidates.append((key, ticket, queue_id, ring))
        elif ticket is not None and len(self.spec.queue_ids) > 1:
            # Unasked-for work (new, or back in its queue): another queue may have better
            # work for this agent right now, so it is weighed in a round like any other.
            key = cross_queue_key(queue_priority, ticket)
            self._start_round(seed=(key, ticket, queue_id, ring))
            return
        elif ticket is not None:
            self._take_or_return(ticket, queue_id, ring)
        if current is not None and round_id == current.id:
            current.awaiting.discard(queue_id)
            if not current.awaiting:
                self._finish_round(current)

    def _start_round(self, seed: tuple | None = None) -> None:
        """Ask every queue for its best work for this agent (`seed`: a proposal already in
        hand, whose queue need not be asked)."""
        if not self.spec.queue_ids:
            return
        self._rounds += 1
        asked = [q for q in self.spec.queue_ids if seed is None or q != seed[2]]
        self.round = Round(self._rounds, set(asked), [seed] if seed else [])
        if not asked:
            self._finish_round(self.round)
            return
        view = self._view()
        for queue_id in asked:
            self.directory.queues[queue_id].tell(m.WorkRequest(view, self._rounds))

    def _finish_round(self, finished: Round) -> None:
        self.round = None
        taken = False
        for _, ticket, queue_id, ring in sorted(finished.candidates, key=lambda c: c[0]):
            if taken:
                # Only the best is taken: the queue it came from may hold more work better
                # than the other queues' proposals, which the next round will tell.
                self.directory.queues[queue_id].tell(
                    m.ProposalReturned(ticket, self.spec.id, self._view(), "a better one came")
                )
                continue
            taken = self._take_or_return(ticket, queue_id, ring, announce=False)
        # Each queue proposes one item per round: while rounds bring work and room is left,
        # ask again, so older waiting work fills the room before newer arrivals can.
        again = self.round_again or taken
        self.round_again = False
        self._changed(gained_room=again)

    def _take_or_return(
        self, ticket: Ticket, queue_id: str, ring: Ring | None = None, *, announce: bool = True
    ) -> bool:
        """Take the proposed work if it still fits, else hand it back; True if taken.
        `ring`: the queue's widening ring the proposal was made under, if any."""
        reason = why_not_eligible(self._view(), ticket, ring)
        if ticket.conversation_id in self.work:
            # It came back to the queue while this agent still has it (a resume racing the
            # customer's message): the agent's copy is settled first.
            reason = "already holds it"
        queue = self.directory.queues[queue_id]
        if reason is not None:
            queue.tell(m.ProposalReturned(ticket, self.spec.id, self._view(), reason))
            return False
        self._take(ticket, queue_id)
        queue.tell(m.ProposalTaken(ticket.conversation_id, self.spec.id))
        if announce:
            self._changed(gained_room=False)
        return True

    def _take(self, ticket: Ticket, queue_id: str) -> None:
        now = self.clock.now()
        cid = ticket.conversation_id
        held = Held(ticket, queue_id, "offered")
        self.work[cid] = held
        self._note(cid)
        self.used += ticket.cost
        self._count(ticket)
        self.last_assigned_at = now
        conversation = self.directory.conversations.get(cid)
        log = self.log.bind(conversation_id=cid, queue_id=queue_id)
        if ticket.auto_accept:
            held.state = "active"
            self._note(held.ticket.conversation_id)
            self._push(AssignmentEvent(ticket.work))
            log.info("agent.assigned", how="auto-accepted")
            if conversation is not None:
                conversation.tell(m.Accepted(self.spec.id, "auto-accepted"))
            else:
                self._withdraw(cid, "conversation no longer exists")
            return
        expires_at = now + ticket.offer_timeout_s
        held.token = self._next_token()
        token = held.token
        held.timer = tell_later(self.clock, expires_at, self.actor_ref, m.OfferExpired(cid, token))
        self._push(OfferEvent(ticket.work, expires_at))
        log.info("agent.offered", expires_in_s=ticket.offer_timeout_s)
        if conversation is not None:
            conversation.tell(m.Offered(self.spec.id, expires_at))
        else:
            self._withdraw(cid, "conversation no longer exists")

    # --- desktop calls ---------------------------------------------------------------

    def _offered(self, conversation_id: str) -> Held:
        held = self.work.get(conversation_id)
        if held is None or held.state != "offered":
            raise FailedPrecondition(
                f"conversation {conversation_id} is not offered to agent {self.spec.id}"
                + (
                    f" (it is {held.state} with this agent)"
                    if held
                    else " (the offer may have been withdrawn, timed out or never made)"
                )
            )
        return held

    def _held(self, conversation_id: str, state: str, action: str) -> Held:
        held = self.work.get(conversation_id)
        if held is None:
            raise FailedPrecondition(
                f"agent {self.spec.id} does not hold conversation {conversation_id}"
            )
        if held.state != state:
            ended = action == "end" and held.state == "wrap_up"
            raise FailedPrecondition(
                f"cannot {action} conversation {conversation_id}: it is "
                f"{held.state.replace('_', '-')}, not {state.replace('_', '-')}"
                + (" (it was ended: CloseConversation closes it)" if ended else "")
            )
        return held

    def _accept(self, conversation_id: str) -> str:
        held = self._offered(conversation_id)
        self._cancel_timer(held)
        held.state = "active"
        self._note(held.ticket.conversation_id)
        self.log.info("agent.accepted", conversation_id=conversation_id, queue_id=held.queue_id)
        self._tell_conversation(conversation_id, m.Accepted(self.spec.id, "accepted"))
        self._push(AssignmentEvent(held.ticket.work))
        self._push_update_if_changed()  # the desktop's list of held work just changed
        return conversation_id

    def _decline(
        self, held: Held, reason: str, after: PresenceAfter, *, counts: bool = True
    ) -> None:
        cid = held.ticket.conversation_id
        self._cancel_timer(held)
        del self.work[cid]
        self._note(cid)
        self.used -= held.ticket.cost
        self.counts.give_back(held.ticket.profiles, released_only=False, counted_on=held.day)
        self.log.info("agent.declined", conversation_id=cid, queue_id=held.queue_id, reason=reason)
        self._push(OfferWithdrawnEvent(cid, reason))
        self._tell_conversation(cid, m.Declined(self.spec.id, reason, counts))
        if after is PresenceAfter.INACTIVE:
            self.chosen, self.custom = Presence.INACTIVE, ""
        elif after is PresenceAfter.BUSY_DND:
            self.chosen, self.custom = Presence.BUSY_DND, ""
        self._changed(gained_room=True)

    def _end(self, held: Held, by: str, *, then_close: bool = False) -> ConversationState:
        cid = held.ticket.conversation_id
        held.state = "wrap_up"
        self._note(held.ticket.conversation_id)
        wrap_up = held.ticket.wrap_up
        self.log.info("agent.wrap_up", conversation_id=cid, ended_by=by)
        if by == "agent":
            self._tell_conversation(cid, m.Ended("agent", self.spec.id))
        if not then_close:
            self._push(ConversationUpdateEvent(cid, ConversationState.WRAP_UP, f"ended by {by}"))
        if not wrap_up.blocks_until_close:
            if wrap_up.seconds <= 0:
                self._release(held)
            else:
                held.token = self._next_token()
                token = held.token
                held.timer = tell_later(
                    self.clock,
                    self.clock.now() + wrap_up.seconds,
                    self.actor_ref,
                    m.WrapUpBlockExpired(cid, token),
                )
        if not then_close:
            self._changed(gained_room=not held.holds_capacity)
        return ConversationState.WRAP_UP

    def _close(self, held: Held, reason: str = "closed by agent") -> None:
        cid = held.ticket.conversation_id
        self._cancel_timer(held)
        del self.work[cid]
        self._note(cid)
        if held.holds_capacity:
            self._release(held)
        self.log.info("agent.closed", conversation_id=cid)
        self._tell_conversation(cid, m.Closed(self.spec.id))
        self._push(ConversationUpdateEvent(cid, ConversationState.CLOSED, reason))
        self._changed(gained_room=True)

    def _withdraw(self, conversation_id: str, reason: str) -> None:
        """The conversation is gone (abandoned, auto-closed): free whatever it held."""
        held = self.work.pop(conversation_id, None)
        self._note(conversation_id)
        if held is None:
            return
        self._cancel_timer(held)
        if held.state == "offered":
            # It never happened: the offer gives back everything it counted.
            held.holds_capacity = False
            self.used -= held.ticket.cost
            self.counts.give_back(held.ticket.profiles, released_only=False, counted_on=held.day)
        elif held.holds_capacity:
            self._release(held)
        self.log.info("agent.withdrawn", conversation_id=conversation_id, reason=reason)
        if held.state == "offered":
            self._push(OfferWithdrawnEvent(conversation_id, reason))
        else:
            self._push(ConversationUpdateEvent(conversation_id, ConversationState.CLOSED, reason))
        self._changed(gained_room=True)

    def _release(self, held: Held) -> None:
        if not held.holds_capacity:
            return  # parked work released its capacity already
        held.holds_capacity = False
        self.used -= held.ticket.cost
        self.counts.give_back(held.ticket.profiles, released_only=True, counted_on=held.day)
        self.last_released_at = self.clock.now()

    def _note(self, conversation_id: str) -> None:
        """Journal what the agent now has of this conversation, before the desktop hears of
        it: after a crash the journal's word on who holds what is the agent's."""
        held = self.work.get(conversation_id)
        if held is None:
            self.directory.journal.let_go(self.spec.id, conversation_id)
            return
        state = "active" if held.state in ("transferring", "parking") else held.state
        self.directory.journal.holding(self.spec.id, conversation_id, state, self.clock.now())

    def _reclaim(self, ticket: Ticket, queue_id: str, state: str, since: float) -> None:
        """After a restart: work the journal says this agent held. The desktop is not
        connected yet, so the reconnect grace period runs from now."""
        cid = ticket.conversation_id
        held = Held(ticket, queue_id, state, holds_capacity=False)
        self.work[cid] = held
        wrap_up = ticket.wrap_up
        now = self.clock.now()
        if state == "active" or (
            state == "wrap_up" and (wrap_up.blocks_until_close or since + wrap_up.seconds > now)
        ):
            held.holds_capacity = True
            self.used += ticket.cost
            self.counts.take(ticket.profiles, immediate_only=True)
        if state == "wrap_up" and held.holds_capacity and not wrap_up.blocks_until_close:
            held.token = self._next_token()
            held.timer = tell_later(
                self.clock,
                since + wrap_up.seconds,
                self.actor_ref,
                m.WrapUpBlockExpired(cid, held.token),
            )
        self.log.info("agent.reclaimed", conversation_id=cid, state=state)
        if self.link is None and self._grace_token == 0:
            self._grace_token += 1
            tell_later(
                self.clock,
                now + self.directory.settings.reconnect_grace_s,
                self.actor_ref,
                m.GraceExpired(self._grace_token),
            )
        self._changed(gained_room=False)

    def _count(self, ticket: Ticket) -> None:
        if ticket.profiles:
            self.counts.roll(self.clock.now())
            self.counts.take(ticket.profiles)
            self.work[ticket.conversation_id].day = self.counts.day
            self._arm_midnight()
            self._journal_counts()

    def _journal_counts(self) -> None:
        """Today's end-of-day profile counts, when they changed: a restart keeps them."""
        counts = self.counts.end_of_day_counts()
        if counts and counts != self._journalled_counts and self.counts.day is not None:
            self._journalled_counts = counts
            self.directory.journal.profile_counts(self.spec.id, self.counts.day.isoformat(), counts)

    def _arm_midnight(self) -> None:
        """End-of-day profiles start over at midnight: be there to take work again."""
        if self._midnight is not None:
            return
        when = self.counts.next_midnight(self.clock.now())
        if when is not None:
            self._midnight = tell_later(self.clock, when, self.actor_ref, m.DayStarts())

    # --- work handed on: released, transferred, parked ---------------------------------

    def _give_back(self, held: Held, to_queue_id: str | None) -> ConversationState:
        """Active work leaves the agent for its queue (released) or another queue."""
        cid = held.ticket.conversation_id
        self._drop(held)
        if to_queue_id is None:
            why = "released to the queue"
            back = m.BackToQueue(self.spec.id, "released by", not_to_them=True)
            self._tell_conversation(cid, back)
        else:
            why = f"transferred to queue {to_queue_id}"
            self._tell_conversation(cid, m.MovedToQueue(self.spec.id, to_queue_id))
        self.log.info("agent.handed_on", conversation_id=cid, how=why)
        self._push(ConversationUpdateEvent(cid, ConversationState.OPEN, why))
        self._changed(gained_room=True)
        return ConversationState.OPEN

    def _drop(self, held: Held) -> None:
        """Forget held work, releasing what it held."""
        self._cancel_timer(held)
        del self.work[held.ticket.conversation_id]
        self._note(held.ticket.conversation_id)
        if held.holds_capacity:
            self._release(held)

    def _hand_off(self, conversation_id: str, to_agent_id: str) -> tuple[Ticket, str]:
        if to_agent_id == self.spec.id:
            raise InvalidArgument("to_agent_id names the agent who holds it already")
        held = self._held(conversation_id, "active", "transfer")
        held.state = "transferring"  # nobody ends or parks it half-way
        return held.ticket, held.queue_id

    def _hand_off_done(self, conversation_id: str, to_agent_id: str) -> None:
        held = self.work.get(conversation_id)
        if held is None:
            return
        self._drop(held)
        why = f"transferred to agent {to_agent_id}"
        self.log.info("agent.handed_on", conversation_id=conversation_id, how=why)
        self._push(ConversationUpdateEvent(conversation_id, ConversationState.ACTIVE, why))
        self._changed(gained_room=True)

    def _transfer_in(self, ticket: Ticket, queue_id: str, from_agent_id: str) -> None:
        cid = ticket.conversation_id
        why_not = self._why_cannot_take(ticket, force=False, check_skills=False)
        if why_not is not None:
            raise FailedPrecondition(f"agent {self.spec.id} cannot take it: {why_not}")
        self._hold_active(ticket, queue_id)
        self.log.info("agent.transferred_in", conversation_id=cid, from_agent_id=from_agent_id)
        self._push(AssignmentEvent(ticket.work))
        self._changed(gained_room=False)

    def _start_parking(self, held: Held) -> None:
        """First step of parking: the conversation decides (the customer may have ended it
        meanwhile); until then the work stays active and holds its capacity."""
        cid = held.ticket.conversation_id
        if held.ticket.work.channel is Channel.VOICE:
            raise FailedPrecondition(
                f"conversation {cid} is a voice call: only asynchronous work can be parked"
            )
        held.state = "parking"

    def _park(self, held: Held) -> None:
        cid = held.ticket.conversation_id
        held.state = "waiting"
        self._note(cid)
        self._release(held)
        self.log.info("agent.parked", conversation_id=cid)
        self._push(ConversationUpdateEvent(cid, ConversationState.WAITING, "parked by agent"))
        self._changed(gained_room=True)

    def _resume_refused(self, conversation_id: str) -> None:
        """The customer wrote before the resume reached the conversation: it went back to
        its queue, so the agent lets go of it (and may be offered it from there)."""
        held = self.work.get(conversation_id)
        if held is None or held.state != "active":
            return
        self._drop(held)
        why = "the customer wrote first: back in the queue"
        self.log.info("agent.resume_refused", conversation_id=conversation_id)
        self._push(ConversationUpdateEvent(conversation_id, ConversationState.OPEN, why))
        self._changed(gained_room=True)

    def _resume(self, held: Held) -> ConversationState:
        cid = held.ticket.conversation_id
        ticket = held.ticket
        if ticket.cost > self.spec.capacity - self.used:
            raise FailedPrecondition(
                f"cannot resume conversation {cid}: {self.spec.capacity - self.used} free "
                f"capacity units, it needs {ticket.cost}"
            )
        blocked = [
            name
            for name in self.counts.blocking(ticket.profiles)
            if self.counts.profiles[name].reset is ProfileReset.IMMEDIATE
        ]
        if blocked:
            raise FailedPrecondition(
                f"cannot resume conversation {cid}: capacity profile {', '.join(blocked)} "
                "is at its limit"
            )
        held.state = "active"
        self._note(held.ticket.conversation_id)
        held.holds_capacity = True
        self.used += ticket.cost
        self.counts.take(ticket.profiles, immediate_only=True)  # the day counted it already
        self.log.info("agent.resumed", conversation_id=cid)
        self._tell_conversation(cid, m.Resumed(self.spec.id))
        self._push(ConversationUpdateEvent(cid, ConversationState.ACTIVE, "resumed by agent"))
        self._changed(gained_room=False)
        return ConversationState.ACTIVE

    # --- work taken from the queue (pick mode, supervisor force-assign) ---------------

    def _take_from_queue(self, ticket: Ticket, queue_id: str, force: bool) -> str:
        """Hold `ticket`, handed over by its queue, as active work at once.

        Returns a note for the timeline when this takes the agent past a limit (only a
        supervisor's force-assign, or a profile that does not block, may). Raises
        FailedPrecondition, after giving the ticket back to the queue, when it may not.
        """
        queue = self.directory.queues[queue_id]
        why_not = self._why_cannot_take(ticket, force)
        if why_not is not None:
            queue.tell(m.ProposalReturned(ticket, self.spec.id, self._view(), why_not))
            raise FailedPrecondition(
                f"agent {self.spec.id} cannot take conversation {ticket.conversation_id}: {why_not}"
            )
        note = self._over_limits(ticket)
        cid = ticket.conversation_id
        self._hold_active(ticket, queue_id)
        queue.tell(m.ProposalTaken(cid, self.spec.id))
        how = "force-assigned by a supervisor to" if force else "picked from the queue by"
        self.log.info("agent.assigned", conversation_id=cid, queue_id=queue_id, how=how, note=note)
        self._tell_conversation(cid, m.Accepted(self.spec.id, how, note))
        self._push(AssignmentEvent(ticket.work))
        self._changed(gained_room=False)
        return note

    def _hold_active(self, ticket: Ticket, queue_id: str) -> None:
        """Hold work handed over directly (picked, force-assigned, transferred in) as active,
        with its capacity counted."""
        self.work[ticket.conversation_id] = Held(ticket, queue_id, "active")
        self._note(ticket.conversation_id)
        self.used += ticket.cost
        self._count(ticket)
        self.last_assigned_at = self.clock.now()

    def _why_cannot_take(
        self, ticket: Ticket, force: bool, *, check_skills: bool = True
    ) -> str | None:
        """Why the agent may not be handed `ticket` directly (picked, transferred in, or
        force-assigned); None when they may. Unlike an offer, a capacity profile that does
        not block may be gone past."""
        if self.link is None:
            return "no desktop is connected to answer it"
        if force:
            return None  # a supervisor's decision: reported, never refused
        free = self.spec.capacity - self.used
        if ticket.cost > free:
            return f"{free} free capacity units, work needs {ticket.cost}"
        if self.presence not in ticket.allowed_presences:
            return f"presence {self.presence.value} does not receive this work"
        missing = [p for p in ticket.profiles if p not in self.counts.profiles]
        if missing:
            return f"does not take work of capacity profile {', '.join(missing)}"
        blocked = self.counts.blocking(ticket.profiles)
        if blocked:
            return f"capacity profile {', '.join(blocked)} is at its limit"
        if (
            check_skills
            and ticket.skill_matching is SkillMatching.EXACT
            and not has_skills(self.spec.skills, ticket.work.required_skills)
        ):
            return "lacks a required skill at the required rating"
        return None

    def _over_limits(self, ticket: Ticket) -> str:
        """What taking `ticket` puts over a limit, as words; empty when nothing."""
        over = []
        if self.used + ticket.cost > self.spec.capacity:
            over.append(f"{self.used + ticket.cost} of {self.spec.capacity} capacity units")
        for name in self.counts.over_limit(ticket.profiles):
            limit = self.counts.profiles[name].limit
            over.append(f"capacity profile {name} {self.counts.used[name] + 1} of {limit}")
        return f"over capacity: {', '.join(over)}" if over else ""

    # --- presence and connection -----------------------------------------------------

    def _connect(
        self,
        link: DesktopLink,
        presence: Presence | None,
        custom: str = "",
        resume_after: int | None = None,
    ) -> tuple[Presence, int]:
        """Attach the desktop. Returns the presence and the number of the last message
        before this connection: a resuming desktop is sent what it missed up to there
        (from the journal), and everything after goes through the link."""
        if presence is not None:
            _check_settable(presence)  # before anything changes: a refused connect is a no-op
        if resume_after is not None and resume_after > self.sequence:
            raise InvalidArgument(
                f"resume_after_sequence {resume_after} is ahead of the last message sent to "
                f"agent {self.spec.id} ({self.sequence})"
            )
        before = self.sequence
        if self.link is not None:
            self.link.close("replaced by a newer connection")
        self.link = link
        self._grace_token += 1  # back in time: the grace period ends here
        self.log.info("agent.connected", resume_after=resume_after)
        # A new desktop starts from the full picture; a resumed one gets what it missed and
        # then where things stand, so that every connection starts with a message.
        self._last_update = None
        if presence is None and self.presence_before_drop is not None:
            # Reconnected within the grace period: as they were.
            presence, custom = self.presence_before_drop, self.custom_before_drop
        self.presence_before_drop = None
        if presence is not None:
            return self._set_presence(presence, custom), before
        self._push_update_if_changed()
        return self.presence, before

    def _disconnect(self, link: DesktopLink) -> None:
        if link is not self.link:
            return  # an older stream ending after a newer one replaced it
        self.link = None
        # Offers go to someone else at once: nobody can answer them now. Held work and the
        # presence chosen come back if the desktop reconnects within the grace period.
        self.presence_before_drop = self.chosen
        self.custom_before_drop = self.custom
        self.chosen = Presence.OFFLINE
        self.custom = ""
        self.log.info("agent.disconnected", grace_s=self.directory.settings.reconnect_grace_s)
        # Best first: they go back to their queues one by one, and an agent with room takes
        # what arrives first.
        offers = [h for h in self.work.values() if h.state == "offered"]
        for held in sorted(offers, key=lambda h: backlog_key(h.ticket)):
            self._decline(held, AGENT_DISCONNECTED, PresenceAfter.KEEP, counts=False)
        self._grace_token += 1
        if any(h.state != "offered" for h in self.work.values()):
            tell_later(
                self.clock,
                self.clock.now() + self.directory.settings.reconnect_grace_s,
                self.actor_ref,
                m.GraceExpired(self._grace_token),
            )
        self._changed(gained_room=False)

    def _grace_expired(self) -> None:
        """Gone for good: active work goes back to the queue, wrap-up work is closed."""
        self.log.info("agent.grace_expired")
        for held in sorted(self.work.values(), key=lambda h: backlog_key(h.ticket)):
            cid = held.ticket.conversation_id
            self._cancel_timer(held)
            del self.work[cid]
            self._note(cid)
            if held.holds_capacity:
                self._release(held)
            conversation = self.directory.conversations.get(cid)
            if conversation is None:
                continue
            if held.state in ("active", "transferring", "parking"):
                conversation.tell(m.BackToQueue(self.spec.id, "agent did not come back"))
            elif held.state == "waiting":
                conversation.tell(m.AgentGone(self.spec.id))
            else:
                conversation.tell(m.Closed(self.spec.id))
        self.presence_before_drop = None
        self._changed(gained_room=False)

    def _set_presence(self, presence: Presence, custom: str = "") -> Presence:
        _check_settable(presence)
        if self.link is None and presence is not Presence.OFFLINE:
            # Nobody could answer an offer: work would ring until it timed out.
            raise FailedPrecondition(
                f"agent {self.spec.id} has no desktop connected: open DesktopService.Connect "
                f"(with the presence in it) before setting {presence.value}"
            )
        was_receiving = self.presence
        self.chosen = presence
        self.custom = custom
        self.log.info("agent.presence_set", presence=presence.value, custom_presence=custom)
        self._changed(gained_room=was_receiving is not self._shown_presence())
        return self.presence

    # --- state changes ---------------------------------------------------------------

    def _shown_presence(self) -> Presence:
        holding = sum(1 for h in self.work.values() if h.holds_capacity)
        return next_presence(self.chosen, self.used, self.spec.capacity, holding)

    def _changed(self, *, gained_room: bool) -> None:
        """Recompute presence, tell the desktop and the queues; seek work if room appeared."""
        if self.counts.profiles:
            self._journal_counts()
        presence = self.presence = self._shown_presence()
        self._push_update_if_changed()
        self.version += 1
        can_take = self.used < self.spec.capacity and presence in self.directory.receiving
        if gained_room and can_take:
            if self.round is None:
                self._start_round()
                return
            self.round_again = True
        view = self._view()
        for queue_id in self.spec.queue_ids:
            self.directory.queues[queue_id].tell(m.AgentStatus(view))

    def _push_update_if_changed(self) -> None:
        update = self._agent_update()
        if update == self._last_update:
            return
        event = self._event_this_turn
        if event is not None and event.agent is None:
            # It rides on the event that changed it: one message, not two, and the desktop
            # never sees the event without its effect on the agent.
            event.agent = self._last_update = update
            return
        self._push(update)

    def _view(self) -> AgentView:
        return AgentView(
            agent_id=self.spec.id,
            presence=self.presence,
            free_units=self.spec.capacity - self.used,
            capacity=self.spec.capacity,
            skills=self.spec.skills,
            last_assigned_at=self.last_assigned_at,
            last_released_at=self.last_released_at,
            version=self.version,
            name=self.spec.name,
            attributes=self.spec.attributes,
            profile_room=self.counts.room() if self.counts.profiles else EMPTY,
        )

    def _agent_update(self) -> AgentUpdateEvent:
        return AgentUpdateEvent(
            presence=self.presence,
            capacity_used=self.used,
            capacity_total=self.spec.capacity,
            conversation_ids=tuple(c for c, h in self.work.items() if h.state != "offered"),
            # A custom presence is shown only while its base is what routing sees.
            custom_presence=self.custom if self.presence is self.chosen else "",
        )

    def _tell_conversation(self, conversation_id: str, message: object) -> None:
        """Tell the conversation, if it is still open (it may have closed meanwhile)."""
        conversation = self.directory.conversations.get(conversation_id)
        if conversation is not None:
            conversation.tell(message)

    def _push(self, event: object) -> None:
        """Number the event and journal it, then send it if a desktop is connected. Numbered
        even while none is, so that a desktop resuming its stream gets what it missed."""
        self.sequence += 1
        envelope = Envelope(self.sequence, self.clock.now(), event)
        if isinstance(event, AgentUpdateEvent):
            self._last_update = event
        else:
            self._event_this_turn = envelope
        self.directory.journal.pushed(self.spec.id, envelope)
        if self.link is not None:
            self.link.send(envelope)

    def _cancel_timer(self, held: Held) -> None:
        if held.timer is not None:
            held.timer.cancel()  # type: ignore[attr-defined]
            held.timer = None

    def _next_token(self) -> int:
        self._tokens += 1
        return self._tokens

    # --- administration --------------------------------------------------------------

    def _change_membership(
        self,
        queue_ids: tuple,
        capacity: int,
        skills: object,
        name: str,
        attributes: object,
        profiles: object,
    ) -> None:
        old = set(self.spec.queue_ids)
        if attributes is None:
            attributes = self.spec.attributes
        self.spec = AgentSpec(
            id=self.spec.id,
            name=name or self.spec.name,
            capacity=capacity,
            skills=frozen_map(skills),  # type: ignore[arg-type]
            queue_ids=tuple(queue_ids),
            attributes=frozen_map(attributes),  # type: ignore[arg-type]
            profiles=self.spec.profiles if profiles is None else profiles,  # type: ignore[arg-type]
        )
        self.counts.reprofile(self.spec.profiles)
        for queue_id in old - set(queue_ids):
            self.directory.queues[queue_id].tell(m.MemberLeft(self.spec.id))
        self.version += 1
        view = self._view()
        for queue_id in queue_ids:
            self.directory.queues[queue_id].tell(m.MemberJoined(view))
        self._changed(gained_room=True)

    def _snapshot(self) -> AgentSnapshot:
        return AgentSnapshot(
            agent_id=self.spec.id,
            name=self.spec.name,
            presence=self.presence,
            capacity_used=self.used,
            capacity_total=self.spec.capacity,
            conversation_ids=tuple(c for c, h in self.work.items() if h.state != "offered"),
            offered_ids=tuple(c for c, h in self.work.items() if h.state == "offered"),
            queue_ids=self.spec.queue_ids,
            skills=dict(self.spec.skills),
            connected=self.link is not None,
            custom_presence=self.custom if self.presence is self.chosen else "",
            profiles_used=dict(self.counts.used),
            profile_limits={name: p.limit for name, p in self.counts.profiles.items()},
        )


def _check_settable(presence: Presence) -> None:
    if presence is Presence.INACTIVE:
        raise InvalidArgument("presence INACTIVE is set only by the engine")


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    agent_id: str
    name: str
    presence: Presence
    capacity_used: int
    capacity_total: int
    conversation_ids: tuple[str, ...]
    offered_ids: tuple[str, ...]
    queue_ids: tuple[str, ...]
    skills: dict
    connected: bool
    custom_presence: str = ""
    profiles_used: dict = field(default_factory=dict)
    profile_limits: dict = field(default_factory=dict)


__all__ = ["AgentActor", "AgentSnapshot"]
