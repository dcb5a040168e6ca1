"""The messages actors send each other. Each names what happened, not what to do with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from switchboard.actors.domain.model import AgentView, Presence, Ticket

# --- to a queue ------------------------------------------------------------------------


@dataclass(slots=True)
class Enqueue:
    ticket: Ticket
    returning: bool = False  # declined work going back to its place: no overflow check


@dataclass(slots=True)
class Overflowed:
    """To a conversation: the queue turned it away (transfer or end), or let it in anyway."""

    queue_id: str
    rule: Any  # overflow.OverflowRule
    why: str


@dataclass(slots=True)
class Withdraw:
    """The conversation left the queue (abandoned, timed out). Asked: True if it was waiting."""

    conversation_id: str


@dataclass(slots=True)
class AgentStatus:
    view: AgentView


@dataclass(slots=True)
class WorkRequest:
    """An agent has room: propose your best work for them (or None) as part of `round`."""

    view: AgentView
    round: int


@dataclass(slots=True)
class ProposalTaken:
    conversation_id: str
    agent_id: str


@dataclass(slots=True)
class ProposalReturned:
    ticket: Ticket
    agent_id: str
    view: AgentView
    reason: str


@dataclass(slots=True)
class MemberJoined:
    view: AgentView


@dataclass(slots=True)
class MemberLeft:
    agent_id: str


@dataclass(slots=True)
class Reconfigure:
    """A reloaded configuration changed this queue (method, priority, overflow, hours...)."""

    spec: Any  # QueueSpec
    receiving: frozenset


@dataclass(slots=True)
class QueueCheck:
    """The queue's overflow-check timer: work may have waited too long, or the queue closed."""

    token: int


@dataclass(slots=True)
class QueueSnapshotRequest:
    pass


@dataclass(slots=True)
class HandOver:
    """Asked: hand waiting work to this agent (it picks it, or a supervisor assigns it).

    Answers with the ticket, now in flight to the agent, or raises FailedPrecondition."""

    conversation_id: str
    agent_id: str
    force: bool  # a supervisor's force-assign: any waiting work, any agent


@dataclass(slots=True)
class PickableRequest:
    """Asked: the work waiting here in pick mode, in the order it should be taken."""

    agent_id: str


# --- to an agent -----------------------------------------------------------------------


@dataclass(slots=True)
class Proposal:
    """A queue offers `ticket` (or nothing) to an agent, unprompted or as a round's reply."""

    queue_id: str
    queue_priority: int
    ticket: Ticket | None
    round: int | None
    # The queue's widening ring in force for the ticket: the agent judges skills by it too.
    ring: Any = None


@dataclass(slots=True)
class Connect:
    """Asked: a desktop connected. Answers (presence, last sequence number before it)."""

    link: Any  # DesktopLink
    presence: Presence | None
    custom: str = ""  # a custom presence name, whose base is `presence`
    resume_after: int | None = None  # the last message the desktop saw, to resume after


@dataclass(slots=True)
class Disconnect:
    link: Any


@dataclass(slots=True)
class SetPresence:
    presence: Presence
    custom: str = ""  # a custom presence name ("lunch"), whose base is `presence`


@dataclass(slots=True)
class AcceptOffer:
    conversation_id: str


@dataclass(slots=True)
class RejectOffer:
    conversation_id: str


@dataclass(slots=True)
class AgentEnds:
    conversation_id: str
    # And closes it in the same turn: nothing (a close, a transfer) can come in between.
    close: bool = False


@dataclass(slots=True)
class AgentCloses:
    conversation_id: str


@dataclass(slots=True)
class WithdrawOffer:
    """The conversation went away while offered or held (abandoned, auto-closed)."""

    conversation_id: str
    reason: str


@dataclass(slots=True)
class CustomerEnded:
    conversation_id: str


@dataclass(slots=True)
class OfferExpired:
    conversation_id: str
    token: int


@dataclass(slots=True)
class WrapUpBlockExpired:
    conversation_id: str
    token: int


@dataclass(slots=True)
class Reclaim:
    """After a restart: the journal says this agent held `ticket` ("active", "wrap_up" or
    "waiting") since `since`."""

    ticket: Ticket
    queue_id: str
    state: str
    since: float


@dataclass(slots=True)
class CountedToday:
    """After a restart: what the agent's end-of-day capacity profiles had counted on `day`."""

    day: str  # ISO date
    used: dict


@dataclass(slots=True)
class OfferLost:
    """After a restart: an offer this agent had ringing did not survive it."""

    conversation_id: str


@dataclass(slots=True)
class NumberFrom:
    """After a restart: the last desktop message this agent pushed had this number."""

    sequence: int


@dataclass(slots=True)
class ZoneChanged:
    """A reloaded configuration moved the time zone where days end."""

    zone: Any  # ZoneInfo


@dataclass(slots=True)
class DayStarts:
    """Local midnight: capacity profiles that reset at the end of the day start over."""


@dataclass(slots=True)
class TakeFromQueue:
    """Asked: hold this work, handed over by its queue, as active at once."""

    ticket: Ticket
    queue_id: str
    force: bool


@dataclass(slots=True)
class ReleaseWork:
    """Asked: the agent gives active work back to its queue."""

    conversation_id: str


@dataclass(slots=True)
class TransferToQueue:
    """Asked: the agent sends active work to another queue, where it is routed again."""

    conversation_id: str
    queue_id: str


@dataclass(slots=True)
class HandOff:
    """Asked: first step of a transfer to another agent; answers (ticket, queue id) and
    keeps the work (and its capacity) until HandOffDone or HandOffCancelled."""

    conversation_id: str
    to_agent_id: str


@dataclass(slots=True)
class HandOffDone:
    conversation_id: str
    to_agent_id: str


@dataclass(slots=True)
class HandOffCancelled:
    conversation_id: str


@dataclass(slots=True)
class TransferIn:
    """Asked: hold this active work, transferred from another agent."""

    ticket: Ticket
    queue_id: str
    from_agent_id: str


@dataclass(slots=True)
class Park:
    """Asked: active work waits for the customer; its capacity is released."""

    conversation_id: str


@dataclass(slots=True)
class ParkDone:
    """The conversation's answer to a park: `confirmed`, or refused (the customer had ended
    it)."""

    conversation_id: str
    confirmed: bool


@dataclass(slots=True)
class Resume:
    """Asked: parked work becomes active again, if the agent has room for it."""

    conversation_id: str


@dataclass(slots=True)
class ResumeRefused:
    """The conversation had already gone back to its queue when the resume reached it."""

    conversation_id: str


@dataclass(slots=True)
class ParkedWorkLeaves:
    """The customer wrote again: parked work goes back through its queue."""

    conversation_id: str


@dataclass(slots=True)
class GraceExpired:
    """The agent's desktop has been gone for the whole reconnect grace period."""

    token: int


@dataclass(slots=True)
class ChangeMembership:
    queue_ids: tuple[str, ...]
    capacity: int
    skills: Any
    name: str
    attributes: Any = None  # None: keep them (the API cannot set attributes, the file can)
    profiles: Any = None  # new capacity profiles (id -> CapacityProfile); None keeps them


@dataclass(slots=True)
class AgentSnapshotRequest:
    pass


# --- to a conversation -----------------------------------------------------------------


@dataclass(slots=True)
class Start:
    routing_trace: tuple[str, ...]
    rule: str | None
    classification_trace: tuple[str, ...] = ()


@dataclass(slots=True)
class Offered:
    agent_id: str
    expires_at: float


@dataclass(slots=True)
class Accepted:
    agent_id: str
    how: str  # "accepted", "auto-accepted", "picked from the queue by", ...
    note: str = ""  # e.g. what a force-assign took over capacity


@dataclass(slots=True)
class Declined:
    agent_id: str
    reason: str  # "rejected", "offer timed out", "agent disconnected"
    counts: bool  # whether it counts toward the decline limit


@dataclass(slots=True)
class BackToQueue:
    """The agent who held it gave it back or is gone for good: it waits for someone else."""

    agent_id: str
    reason: str
    not_to_them: bool = False  # released by the agent: never offered to them again


@dataclass(slots=True)
class MovedToQueue:
    """The agent who held it transferred it to another queue."""

    agent_id: str
    queue_id: str


@dataclass(slots=True)
class Transferred:
    from_agent_id: str
    to_agent_id: str


@dataclass(slots=True)
class Parked:
    agent_id: str


@dataclass(slots=True)
class Resumed:
    agent_id: str


@dataclass(slots=True)
class AgentGone:
    """The agent of parked work is gone for good: when the customer writes, anyone may
    take it."""

    agent_id: str


@dataclass(slots=True)
class CustomerWrites:
    """Asked (by the gateway): the customer sent a message; answers the state after it."""


@dataclass(slots=True)
class Ended:
    by: str  # "agent" or "customer"
    agent_id: str


@dataclass(slots=True)
class Closed:
    agent_id: str


@dataclass(slots=True)
class CustomerAbandons:
    reason: str


@dataclass(slots=True)
class CustomerEnds:
    pass


@dataclass(slots=True)
class Recover:
    """After a restart: the conversation was in `state` since `since` (with `agent_id`
    holding or having parked it); its timeline so far is `timeline`."""

    state: Any  # ConversationState
    agent_id: str
    since: float
    timeline: tuple
    was_offered: bool


@dataclass(slots=True)
class StateTimeout:
    token: int


@dataclass(slots=True)
class ConversationSnapshotRequest:
    pass
