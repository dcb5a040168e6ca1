"""The nouns of routing and distribution, as immutable values."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class Presence(enum.Enum):
    AVAILABLE = "available"
    BUSY = "busy"
    BUSY_DND = "busy_dnd"
    AWAY = "away"
    OFFLINE = "offline"
    INACTIVE = "inactive"  # set only by the engine


class ConversationState(enum.Enum):
    OPEN = "open"
    ACTIVE = "active"
    WAITING = "waiting"
    WRAP_UP = "wrap_up"
    CLOSED = "closed"


class Channel(enum.Enum):
    CHAT = "chat"
    VOICE = "voice"
    SMS = "sms"
    SOCIAL = "social"
    EMAIL = "email"
    RECORD = "record"
    CUSTOM = "custom"


class QueueType(enum.Enum):
    MESSAGING = "messaging"
    VOICE = "voice"
    RECORD = "record"


# Which queue type a channel's work may be routed to.
QUEUE_TYPE_OF_CHANNEL = {
    Channel.CHAT: QueueType.MESSAGING,
    Channel.SMS: QueueType.MESSAGING,
    Channel.SOCIAL: QueueType.MESSAGING,
    Channel.CUSTOM: QueueType.MESSAGING,
    Channel.VOICE: QueueType.VOICE,
    Channel.EMAIL: QueueType.RECORD,
    Channel.RECORD: QueueType.RECORD,
}


class DistributionMode(enum.Enum):
    PUSH = "push"
    PICK = "pick"


class SkillMatching(enum.Enum):
    NONE = "none"
    EXACT = "exact"
    CLOSEST = "closest"


class AssignmentMethod(enum.Enum):
    HIGHEST_CAPACITY = "highest_capacity"
    ROUND_ROBIN = "round_robin"
    MOST_IDLE = "most_idle"
    CLOSEST_SKILL_MATCH = "closest_skill_match"
    CUSTOM = "custom"  # the queue's selection rules decide (see selection.py)


class ProfileReset(enum.Enum):
    """When work counted against a capacity profile stops counting."""

    IMMEDIATE = "immediate"  # when the agent releases its capacity (closes, parks it)
    END_OF_DAY = "end_of_day"  # at the next midnight, however long the work lasted


@dataclass(frozen=True, slots=True)
class CapacityProfile:
    """A named limit on how many work items of a kind an agent takes.

    `blocking`: at the limit the engine stops assigning work that needs this profile, and
    nobody may go past it. Not blocking: the engine stops *pushing* such work at the limit,
    but the agent may still pick it, be transferred it, or be force-assigned it (reported).
    """

    id: str
    limit: int
    reset: ProfileReset = ProfileReset.IMMEDIATE
    blocking: bool = True


class PresenceAfter(enum.Enum):
    """What an agent's presence becomes after they miss or reject an offer."""

    KEEP = "keep"
    INACTIVE = "inactive"
    BUSY_DND = "busy_dnd"


EMPTY_MAP: Mapping = MappingProxyType({})


def frozen_map(mapping: Mapping | None = None) -> Mapping:
    """A read-only copy; all empty ones are the same object (most work has no attributes)."""
    return MappingProxyType(dict(mapping)) if mapping else EMPTY_MAP


@dataclass(frozen=True, slots=True)
class WrapUp:
    """How long capacity stays blocked after a conversation ends.

    `always`: until the agent closes it; `none`: released at once; seconds: released after
    that long or at close, whichever comes first.
    """

    blocks_until_close: bool
    seconds: float = 0.0

    @classmethod
    def parse(cls, value: str | float) -> WrapUp:
        if value == "always":
            return cls(blocks_until_close=True)
        if value == "none":
            return cls(blocks_until_close=False, seconds=0.0)
        return cls(blocks_until_close=False, seconds=float(value))


# Auto-close timeouts per state, in seconds, by channel (SPEC.md, "Conversation lifecycle").
DAY = 86_400.0
DEFAULT_AUTO_CLOSE = {
    Channel.CHAT: {ConversationState.OPEN: 20 * 60.0, ConversationState.WRAP_UP: 15 * 60.0},
    Channel.VOICE: {ConversationState.ACTIVE: 2 * 3600.0, ConversationState.WRAP_UP: DAY},
    Channel.SMS: {ConversationState.OPEN: 30 * DAY, ConversationState.ACTIVE: 30 * DAY},
    Channel.SOCIAL: {ConversationState.OPEN: 30 * DAY, ConversationState.ACTIVE: 30 * DAY},
    Channel.EMAIL: {ConversationState.OPEN: 30 * DAY, ConversationState.ACTIVE: 30 * DAY},
    Channel.RECORD: {ConversationState.OPEN: 30 * DAY, ConversationState.ACTIVE: 30 * DAY},
    Channel.CUSTOM: {},
}


@dataclass(frozen=True, slots=True)
class RouteRule:
    name: str
    condition: object  # a compiled `Condition` (see routing.py); kept opaque here
    queue_id: str  # "" when the rule splits
    # (queue id, percent) pairs adding up to 100: work matching the rule is shared out.
    split: tuple[tuple[str, int], ...] = ()

    @property
    def queue_ids(self) -> tuple[str, ...]:
        return tuple(q for q, _ in self.split) if self.split else (self.queue_id,)


@dataclass(frozen=True, slots=True)
class WorkStream:
    id: str
    channel: Channel
    mode: DistributionMode
    cost: int
    allowed_presences: frozenset[Presence]
    offer_timeout_s: float
    auto_accept: bool
    skill_matching: SkillMatching
    wrap_up: WrapUp
    auto_close: Mapping  # ConversationState -> seconds
    route_rules: tuple[RouteRule, ...]
    fallback_queue_id: str
    rulesets: tuple = ()  # classification rulesets (classification.Ruleset), run in order
    profiles: tuple[str, ...] = ()  # capacity profiles each item consumes (besides `cost`)
    affinity: bool = False  # work coming back from Waiting goes to the agent who parked it


@dataclass(frozen=True, slots=True)
class QueueSpec:
    id: str
    type: QueueType
    priority: int
    method: AssignmentMethod
    members: tuple[str, ...]
    overflow: tuple = ()  # overflow.OverflowRule, checked in order when work arrives
    hours: object = None  # hours.OperatingHours; None: always open
    selection: tuple = ()  # selection.SelectionRule, in order; only with method custom
    rings: tuple = ()  # rings.Ring by after_s; none: the work stream's skill matching
    prioritisation: tuple = ()  # prioritisation.Bucket, served in order; none: priority, age


@dataclass(frozen=True, slots=True)
class AgentSpec:
    id: str
    name: str
    capacity: int
    skills: Mapping = field(default_factory=frozen_map)  # skill -> rating
    queue_ids: tuple[str, ...] = ()
    # Static facts about the agent (site, team, seniority...) that queues' selection rules
    # test: name -> text.
    attributes: Mapping = field(default_factory=frozen_map)
    # The capacity profiles this agent takes work of, with any per-agent override applied.
    profiles: Mapping = field(default_factory=frozen_map)  # profile id -> CapacityProfile


@dataclass(frozen=True, slots=True)
class EngineSettings:
    decline_limit: int = 3
    after_missed_offer: PresenceAfter = PresenceAfter.INACTIVE
    after_reject: PresenceAfter = PresenceAfter.KEEP
    default_agent_capacity: int = 1
    reconnect_grace_s: float = 150.0  # a dropped desktop keeps its work this long
    timezone: str = "UTC"  # where "end of day" is, for capacity profiles
    # Custom presence name -> the base presence routing sees ("lunch" -> away).
    custom_presences: Mapping = field(default_factory=frozen_map)


@dataclass(frozen=True, slots=True)
class Work:
    """What never changes about a conversation once submitted: carried on offers."""

    conversation_id: str
    stream_id: str
    channel: Channel
    customer_id: str
    customer_attributes: Mapping
    context: Mapping
    priority: int
    required_skills: Mapping
    queue_id: str
    created_at: float
    attributes: Mapping = field(default_factory=lambda: EMPTY_MAP)  # set by classification
    severity: int = 0


@dataclass(slots=True)
class Ticket:
    """A conversation's place in a queue: what the queue orders and agents judge.

    `enqueued_at` and `seq` are kept when declined work goes back, so it keeps its place.
    """

    work: Work
    enqueued_at: float
    seq: int
    cost: int
    allowed_presences: frozenset[Presence]
    skill_matching: SkillMatching
    auto_accept: bool
    offer_timeout_s: float
    declines: dict[str, int] = field(default_factory=dict)
    decline_limit: int = 3
    # Taken from the work stream at submission, so that a reload that changes or removes the
    # stream does not change the rules for work already under way.
    wrap_up: WrapUp = field(default_factory=lambda: WrapUp(blocks_until_close=True))
    profiles: tuple[str, ...] = ()  # capacity profiles consumed, besides `cost` units
    pick: bool = False  # pick mode: agents take it from the queue, it is never pushed
    # Agents to try first, best first: the agent it had before (affinity), then the
    # customer's preferred agents.
    preferred: tuple[str, ...] = ()

    @property
    def conversation_id(self) -> str:
        return self.work.conversation_id

    @property
    def priority(self) -> int:
        return self.work.priority


@dataclass(frozen=True, slots=True)
class AgentView:
    """What an agent tells its queues about itself, to keep their indexes current."""

    agent_id: str
    presence: Presence
    free_units: int
    capacity: int
    skills: Mapping
    last_assigned_at: float
    last_released_at: float  # -inf: never released since signing in (counts as most idle)
    version: int  # counts up with every change, so a queue can ignore stale news
    # Static facts for selection rules; they change only when the agent is reconfigured.
    name: str = ""
    attributes: Mapping = field(default_factory=lambda: EMPTY_MAP)
    # Room left per capacity profile the agent has; a profile missing here is one the agent
    # does not take work of. Push assignment needs room in every profile the work consumes.
    profile_room: Mapping = field(default_factory=frozen_map)
