"""Between protobuf messages and engine values. Nothing here decides anything."""

from __future__ import annotations

import math

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from switchboard.actors.agent import AgentSnapshot
from switchboard.actors.conversation import ConversationSnapshot
from switchboard.actors.desktop_link import (
    AgentUpdateEvent,
    AssignmentEvent,
    ConversationUpdateEvent,
    Envelope,
    OfferEvent,
    OfferWithdrawnEvent,
)
from switchboard.actors.domain.model import Channel, ConversationState, Presence, Work
from switchboard.actors.errors import InvalidArgument
from switchboard.actors.queue import QueueSnapshot
from switchboard.v1 import common_pb2, desktop_pb2, supervisor_pb2

PRESENCE_TO_PROTO = {
    Presence.AVAILABLE: common_pb2.PRESENCE_AVAILABLE,
    Presence.BUSY: common_pb2.PRESENCE_BUSY,
    Presence.BUSY_DND: common_pb2.PRESENCE_BUSY_DND,
    Presence.AWAY: common_pb2.PRESENCE_AWAY,
    Presence.OFFLINE: common_pb2.PRESENCE_OFFLINE,
    Presence.INACTIVE: common_pb2.PRESENCE_INACTIVE,
}
PRESENCE_FROM_PROTO = {v: k for k, v in PRESENCE_TO_PROTO.items()}

STATE_TO_PROTO = {
    ConversationState.OPEN: common_pb2.CONVERSATION_STATE_OPEN,
    ConversationState.ACTIVE: common_pb2.CONVERSATION_STATE_ACTIVE,
    ConversationState.WAITING: common_pb2.CONVERSATION_STATE_WAITING,
    ConversationState.WRAP_UP: common_pb2.CONVERSATION_STATE_WRAP_UP,
    ConversationState.CLOSED: common_pb2.CONVERSATION_STATE_CLOSED,
}

CHANNEL_TO_PROTO = {
    channel: common_pb2.Channel.Value(f"CHANNEL_{channel.name}") for channel in Channel
}


# What a protobuf Timestamp can hold: 0001-01-01 to 9999-12-31T23:59:59.999999999. A time past
# either end (an offer expiring after a clock moved to the end of 9999, say) is shown at that
# end rather than refused: refusing would stop a message, or the journal, for good.
FIRST_TIMESTAMP_S = -62_135_596_800
LAST_TIMESTAMP_NS = 253_402_300_799_999_999_999


def timestamp(seconds: float) -> Timestamp:
    ts = Timestamp()
    if math.isfinite(seconds):
        nanos = round(seconds * 1e9)
        ts.FromNanoseconds(min(max(nanos, FIRST_TIMESTAMP_S * 10**9), LAST_TIMESTAMP_NS))
    return ts


def seconds_of(ts: Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9


def duration(seconds: float) -> Duration:
    d = Duration()
    d.FromNanoseconds(round(max(0.0, seconds) * 1e9))
    return d


def presence_from_proto(value: int, *, field: str = "presence") -> Presence:
    """A presence an agent may choose (INACTIVE is the engine's alone)."""
    presence = PRESENCE_FROM_PROTO.get(value)
    if presence is None or presence is Presence.INACTIVE:
        known = ", ".join(
            common_pb2.Presence.Name(v)
            for v, p in PRESENCE_FROM_PROTO.items()
            if p is not Presence.INACTIVE
        )
        shown = common_pb2.Presence.Name(value) if presence else str(value)
        raise InvalidArgument(f"{field} must be one of {known}, got {shown}")
    return presence


def conversation_of_work(work: Work, state: ConversationState) -> common_pb2.Conversation:
    return common_pb2.Conversation(
        id=work.conversation_id,
        work_stream_id=work.stream_id,
        channel=CHANNEL_TO_PROTO[work.channel],
        customer=common_pb2.Customer(
            id=work.customer_id, attributes=dict(work.customer_attributes)
        ),
        context=dict(work.context),
        priority=work.priority,
        required_skills=dict(work.required_skills),
        queue_id=work.queue_id,
        state=STATE_TO_PROTO[state],
        created_at=timestamp(work.created_at),
        attributes=dict(work.attributes),
        severity=work.severity,
    )


def conversation(snapshot: ConversationSnapshot) -> common_pb2.Conversation:
    message = conversation_of_work(snapshot.ticket.work, snapshot.state)
    message.agent_id = snapshot.agent_id
    message.offer_pending = snapshot.offer_pending
    message.close_reason = snapshot.close_reason
    for entry in snapshot.timeline:
        message.timeline.add(
            at=timestamp(entry.at),
            kind=entry.kind,
            detail=entry.detail,
            queue_id=entry.queue_id,
            agent_id=entry.agent_id,
        )
    return message


def desktop_message(envelope: Envelope) -> desktop_pb2.ConnectResponse:
    """The envelope as sent (built once: the journal and the stream both need it)."""
    if envelope.wire is None:
        envelope.wire = _desktop_message(envelope)
    return envelope.wire


def _desktop_message(envelope: Envelope) -> desktop_pb2.ConnectResponse:
    message = desktop_pb2.ConnectResponse(sequence=envelope.sequence, at=timestamp(envelope.at))
    event = envelope.event
    match event:
        case OfferEvent(work, expires_at):
            message.offer.conversation.CopyFrom(conversation_of_work(work, ConversationState.OPEN))
            message.offer.expires_at.CopyFrom(timestamp(expires_at))
        case AssignmentEvent(work):
            message.assignment.conversation.CopyFrom(
                conversation_of_work(work, ConversationState.ACTIVE)
            )
        case OfferWithdrawnEvent(conversation_id, reason):
            message.offer_withdrawn.conversation_id = conversation_id
            message.offer_withdrawn.reason = reason
        case ConversationUpdateEvent(conversation_id, state, reason):
            message.conversation_update.conversation_id = conversation_id
            message.conversation_update.state = STATE_TO_PROTO[state]
            message.conversation_update.reason = reason
        case AgentUpdateEvent():
            _fill_agent_update(message.agent_update, event)
        case _:
            msg = f"no protobuf form for desktop event {event!r}"
            raise TypeError(msg)
    if envelope.agent is not None:
        _fill_agent_update(message.agent, envelope.agent)
    return message


def _fill_agent_update(message: desktop_pb2.AgentUpdate, update: AgentUpdateEvent) -> None:
    message.presence = PRESENCE_TO_PROTO[update.presence]
    message.capacity_used = update.capacity_used
    message.capacity_total = update.capacity_total
    message.conversation_ids.extend(update.conversation_ids)
    message.custom_presence = update.custom_presence


def agent_status(snapshot: AgentSnapshot) -> supervisor_pb2.AgentStatus:
    return supervisor_pb2.AgentStatus(
        agent_id=snapshot.agent_id,
        name=snapshot.name,
        presence=PRESENCE_TO_PROTO[snapshot.presence],
        capacity_used=snapshot.capacity_used,
        capacity_total=snapshot.capacity_total,
        conversation_ids=snapshot.conversation_ids,
        offered_ids=snapshot.offered_ids,
        queue_ids=snapshot.queue_ids,
        skills=snapshot.skills,
        connected=snapshot.connected,
        custom_presence=snapshot.custom_presence,
        capacity_profiles_used=snapshot.profiles_used,
        capacity_profile_limits=snapshot.profile_limits,
        over_capacity=snapshot.capacity_used > snapshot.capacity_total
        or any(
            used > snapshot.profile_limits.get(name, used)
            for name, used in snapshot.profiles_used.items()
        ),
    )


def queue_status(snapshot: QueueSnapshot, now: float) -> supervisor_pb2.QueueStatus:
    longest = 0.0 if snapshot.oldest_enqueued_at is None else now - snapshot.oldest_enqueued_at
    return supervisor_pb2.QueueStatus(
        queue_id=snapshot.queue_id,
        priority=snapshot.priority,
        assignment_method=snapshot.method,
        member_ids=snapshot.member_ids,
        waiting_ids=snapshot.waiting_ids,
        longest_wait=duration(longest),
        members_by_presence=snapshot.members_by_presence,
    )
