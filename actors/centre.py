"""The contact centre: wires actors from a configuration and is their shared directory.

Like Mopidy's core wiring, this is the one place that starts actors (queues, then agents; a
conversation per submitted work item) and keeps the id -> ref maps actors use to reach each
other. It is not an actor: it only runs on the event loop, between messages, and holds no
state that actors race on. The gRPC services call its methods.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pykka
import structlog
from switchboard.actors import messages as m
from switchboard.actors.agent import AgentActor, AgentSnapshot
from switchboard.actors.conversation import ConversationActor, ConversationSnapshot, TimelineEntry
from switchboard.actors.desktop_link import DesktopLink, Envelope, PushCounter
from switchboard.actors.domain.classification import classify
from switchboard.actors.domain.model import (
    DEFAULT_AUTO_CLOSE,
    EMPTY_MAP,
    QUEUE_TYPE_OF_CHANNEL,
    AgentSpec,
    AgentView,
    ConversationState,
    DistributionMode,
    EngineSettings,
    Presence,
    QueueSpec,
    Ticket,
    Work,
    WorkStream,
    frozen_map,
)
from switchboard.actors.domain.ordering import cross_queue_key
from switchboard.actors.domain.overflow import is_overflowing
from switchboard.actors.domain.routing import SplitCounter, decide_queue, route_variables
from switchboard.actors.errors import FailedPrecondition, InvalidArgument, NotFound
from switchboard.actors.gateway_watch import ConversationEvent, GatewayWatch
from switchboard.actors.queue import QueueActor, QueueSnapshot
from switchboard.actors.recovery import OpenConversation, Saved, SubmitKey

log = structlog.get_logger("switchboard.centre")

# Closed conversations kept in memory for GetConversation; older ones come from the journal.
RECENTLY_CLOSED = 20_000

MAX_PREFERRED_AGENTS = 3  # per customer, best first (SPEC.md, "Conversation lifecycle")


class Journal(Protocol):
    """Where the engine's changes go to survive a restart (server/storage.py)."""

    def record(self, conversation_id: str, entry: TimelineEntry) -> None: ...

    def saved(
        self,
        ticket: Ticket,
        state: ConversationState,
        agent_id: str,
        offer_pending: bool,
        since: float,
    ) -> None: ...

    def closed(self, snapshot: ConversationSnapshot) -> None: ...

    def agent_provisioned(self, spec: AgentSpec) -> None: ...

    def key_used(self, key: str, used: SubmitKey, at: float) -> None: ...

    def pushed(self, agent_id: str, envelope: Envelope) -> None: ...

    def holding(self, agent_id: str, conversation_id: str, state: str, since: float) -> None: ...

    def let_go(self, agent_id: str, conversation_id: str) -> None: ...

    def profile_counts(self, agent_id: str, day: str, used: dict[str, int]) -> None: ...

    def after_commit(self, callback: Callable[[], None]) -> None: ...

    async def synced(self) -> None: ...

    def clock_moved(self, now: float) -> None: ...


class NullJournal:
    """Keeps nothing: for engines that need not survive a restart (tests, benchmarks)."""

    def record(self, conversation_id: str, entry: TimelineEntry) -> None:
        pass

    def saved(self, *args: object) -> None:
        pass

    def closed(self, snapshot: ConversationSnapshot) -> None:
        pass

    def agent_provisioned(self, spec: AgentSpec) -> None:
        pass

    def key_used(self, key: str, used: SubmitKey, at: float) -> None:
        pass

    def pushed(self, agent_id: str, envelope: Envelope) -> None:
        pass

    def holding(self, agent_id: str, conversation_id: str, state: str, since: float) -> None:
        pass

    def let_go(self, agent_id: str, conversation_id: str) -> None:
        pass

    def profile_counts(self, agent_id: str, day: str, used: dict[str, int]) -> None:
        pass

    def after_commit(self, callback: Callable[[], None]) -> None:
        callback()

    async def synced(self) -> None:
        pass

    def clock_moved(self, now: float) -> None:
        pass


class Centre:
    def __init__(
        self,
        *,
        clock: Any,
        settings: EngineSettings,
        streams: Mapping[str, WorkStream],
        queues: list[QueueSpec],
        agents: list[AgentSpec],
        journal: Journal | None = None,
    ) -> None:
        self.clock = clock
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)
        self.streams = dict(streams)
        self.queue_specs = {q.id: q for q in queues}
        self.journal: Journal = journal or NullJournal()
        self.pushes = PushCounter()
        self.receiving = _receiving(self.streams)
        self.queues: dict[str, pykka.ActorRef[Any]] = {}
        self.agents: dict[str, pykka.ActorRef[Any]] = {}
        self.conversations: dict[str, pykka.ActorRef[Any]] = {}
        self.recently_closed: OrderedDict[str, ConversationSnapshot] = OrderedDict()
        self.queue_waiting: dict[str, int] = dict.fromkeys(self.queue_specs, 0)
        self.queue_estimate: dict[str, float] = dict.fromkeys(self.queue_specs, 0.0)
        self.splits = SplitCounter()
        self.watchers: set[GatewayWatch] = set()
        self.keys: dict[str, SubmitKey] = {}  # gateways' idempotency keys
        self._seq = itertools.count(1)
        for spec in queues:
            self.queues[spec.id] = QueueActor.start(spec, self.receiving, self)
        members = _members_by_agent(queues)
        # The agents as the configuration last set them (with their queues), to see changes.
        self.config_agents: dict[str, AgentSpec] = {}
        for agent in agents:
            effective = _with_queues(agent, _queues_of(agent, members))
            self._start_agent(effective)
            self.config_agents[agent.id] = effective

    # --- reloading -------------------------------------------------------------------

    def reload(
        self,
        settings: EngineSettings,
        streams: Mapping[str, WorkStream],
        queues: list[QueueSpec],
        agents: list[AgentSpec],
    ) -> list[str]:
        """Apply a new configuration; returns what changed. Work already queued or held
        stays where it is; new work follows the new rules. Queues cannot be removed while
        running (their work would have nowhere to go): such a file is refused whole."""
        removed = sorted(set(self.queue_specs) - {q.id for q in queues})
        if removed:
            raise FailedPrecondition(
                f"the new configuration drops queue(s) {', '.join(removed)}; removing a queue "
                "needs a restart (its waiting work would have nowhere to go)"
            )
        unknown = sorted(
            {m for q in queues for m in q.members} - {a.id for a in agents} - set(self.agents)
        )
        if unknown:
            raise FailedPrecondition(f"queue members {', '.join(unknown)} are not agents")
        changes = []
        if settings != self.settings:
            changes.append("settings")
        self.settings = settings
        zone = ZoneInfo(settings.timezone)
        if zone != self.zone:
            self.zone = zone
            for ref in self.agents.values():
                ref.tell(m.ZoneChanged(zone))
        for stream_id in sorted(set(streams) | set(self.streams)):
            if stream_id not in streams:
                changes.append(f"work stream {stream_id}: removed (new work is refused)")
            elif stream_id not in self.streams:
                changes.append(f"work stream {stream_id}: added")
            elif streams[stream_id] != self.streams[stream_id]:
                changes.append(f"work stream {stream_id}: changed")
        self.streams = dict(streams)
        self.receiving = _receiving(self.streams)
        for spec in queues:
            if spec.id not in self.queues:
                self.queues[spec.id] = QueueActor.start(spec, self.receiving, self)
                self.queue_waiting[spec.id] = 0
                self.queue_estimate[spec.id] = 0.0
                changes.append(f"queue {spec.id}: added")
            elif spec != self.queue_specs[spec.id]:
                changes.append(f"queue {spec.id}: changed")
            self.queues[spec.id].tell(m.Reconfigure(spec, self.receiving))
            self.queue_specs[spec.id] = spec
        members = _members_by_agent(queues)
        for agent in agents:
            effective = _with_queues(agent, _queues_of(agent, members))
            if agent.id not in self.agents:
                self._start_agent(effective)
                changes.append(f"agent {agent.id}: added")
            elif effective != self.config_agents.get(agent.id):
                self.agents[agent.id].tell(
                    m.ChangeMembership(
                        effective.queue_ids,
                        agent.capacity,
                        agent.skills,
                        agent.name,
                        agent.attributes,
                        agent.profiles,
                    )
                )
                changes.append(f"agent {agent.id}: changed")
            self.config_agents[agent.id] = effective
        return changes

    # --- agents ----------------------------------------------------------------------

    def _start_agent(self, spec: AgentSpec) -> None:
        ref = AgentActor.start(spec, self)
        self.agents[spec.id] = ref
        for queue_id in spec.queue_ids:
            self.queues[queue_id].tell(m.MemberJoined(_offline_view(spec)))

    def upsert_agent(
        self, agent_id: str, name: str, capacity: int, skills: Mapping, queue_ids: tuple[str, ...]
    ) -> bool:
        """Create an agent or change its skills, capacity and queues. True if created."""
        _check_id("agent_id", agent_id)
        repeated = sorted({q for q in queue_ids if queue_ids.count(q) > 1})
        if repeated:
            raise InvalidArgument(f"queue_ids lists {', '.join(repeated)} more than once")
        unknown = [q for q in queue_ids if q not in self.queues]
        if unknown:
            raise NotFound(
                f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(self.queues)}"
            )
        if capacity < 0:
            raise InvalidArgument(f"capacity must be at least 1, got {capacity}")
        capacity = capacity or self.settings.default_agent_capacity
        for skill, rating in skills.items():
            _check_id("skill name", skill)
            if not 0 <= rating <= 10:
                raise InvalidArgument(f"skill {skill!r}: rating {rating} is outside 0..10")
        # Kept in the journal, so that a restart brings the agent back as provisioned.
        self.journal.agent_provisioned(
            AgentSpec(agent_id, name or agent_id, capacity, frozen_map(skills), queue_ids)
        )
        if agent_id not in self.agents:
            spec = AgentSpec(agent_id, name or agent_id, capacity, frozen_map(skills), queue_ids)
            self._start_agent(spec)
            return True
        self.agents[agent_id].tell(m.ChangeMembership(queue_ids, capacity, skills, name, None))
        return False

    def agent(self, agent_id: str) -> pykka.ActorRef[Any]:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise NotFound(f"unknown agent {agent_id!r}") from None

    def queue(self, queue_id: str) -> pykka.ActorRef[Any]:
        try:
            return self.queues[queue_id]
        except KeyError:
            raise NotFound(f"unknown queue {queue_id!r}") from None

    def new_link(self, agent_id: str) -> DesktopLink:
        return DesktopLink(agent_id, self.pushes, self.journal.after_commit)

    async def agent_snapshot(self, agent_id: str) -> AgentSnapshot:
        return await self.agent(agent_id).ask(m.AgentSnapshotRequest(), block=False)

    async def queue_snapshot(self, queue_id: str) -> QueueSnapshot:
        return await self.queue(queue_id).ask(m.QueueSnapshotRequest(), block=False)

    # --- conversations ---------------------------------------------------------------

    def submitted_before(self, client_key: str) -> bool:
        """A submit with this key was already taken (a retry creates nothing)."""
        return client_key in self.keys

    def submit(
        self,
        stream_id: str,
        *,
        customer_id: str = "",
        customer_attributes: Mapping | None = None,
        context: Mapping | None = None,
        priority: int = 0,
        required_skills: Mapping | None = None,
        preferred_agent_ids: tuple[str, ...] = (),
        client_key: str = "",
    ) -> tuple[str, str]:
        """Route new work and start its conversation; returns (conversation id, queue id).

        With a `client_key` already used, nothing is created: the first submit's answer is
        returned (a gateway retrying after a lost answer must not queue the customer twice).
        """
        if client_key:
            used = self.keys.get(client_key)
            if used is not None:
                if (used.work_stream_id, used.customer_id) != (stream_id, customer_id):
                    raise FailedPrecondition(
                        f"client_key {client_key!r} was used for work stream "
                        f"{used.work_stream_id!r}, customer {used.customer_id!r}; a retry must "
                        "repeat the request, and new work needs a new key"
                    )
                return used.conversation_id, used.queue_id
        stream = self.streams.get(stream_id)
        if stream is None:
            raise NotFound(
                f"unknown work stream {stream_id!r}; known: {', '.join(sorted(self.streams))}"
            )
        if len(preferred_agent_ids) > MAX_PREFERRED_AGENTS:
            raise InvalidArgument(
                f"at most {MAX_PREFERRED_AGENTS} preferred agents, best first; "
                f"got {len(preferred_agent_ids)}"
            )
        unknown = [a for a in preferred_agent_ids if a not in self.agents]
        if unknown:
            raise NotFound(f"preferred agent(s) {', '.join(unknown)} unknown")
        context = dict(context or {})
        attributes = dict(customer_attributes or {})
        # What conditions see; a stream with no conditions skips building it (~20 µs).
        variables = (
            route_variables(stream_id, context, customer_id, attributes, priority)
            if stream.rulesets or stream.route_rules
            else EMPTY_MAP
        )
        classification = classify(stream.rulesets, variables)
        outputs = classification.outputs
        if outputs.priority is not None:
            priority = outputs.priority
            variables.add_variable("priority", priority)
        skills = dict(required_skills or {})
        for skill, rating in outputs.skills.items():
            skills[skill] = max(rating, skills.get(skill, rating))
        now = self.clock.now()
        decision = decide_queue(
            stream, variables, lambda queue_id: self._overflowing(queue_id, now), self.splits
        )
        conversation_id = uuid.uuid4().hex
        work = Work(
            conversation_id=conversation_id,
            stream_id=stream_id,
            channel=stream.channel,
            customer_id=customer_id,
            customer_attributes=frozen_map(attributes),
            context=frozen_map(context),
            priority=priority,
            required_skills=frozen_map(skills),
            queue_id=decision.queue_id,
            created_at=now,
            attributes=outputs.attributes,
            severity=outputs.severity or 0,
        )
        ticket = Ticket(
            work=work,
            enqueued_at=now,
            seq=next(self._seq),
            cost=stream.cost,
            allowed_presences=stream.allowed_presences,
            skill_matching=stream.skill_matching,
            auto_accept=stream.auto_accept,
            offer_timeout_s=stream.offer_timeout_s,
            decline_limit=self.settings.decline_limit,
            wrap_up=stream.wrap_up,
            profiles=stream.profiles
            if outputs.capacity_profiles is None
            else outputs.capacity_profiles,
            pick=stream.mode is DistributionMode.PICK,
            preferred=tuple(dict.fromkeys(preferred_agent_ids)),
        )
        # Journalled before the answer can go out (the gateway waits for the commit).
        self.journal.saved(ticket, ConversationState.OPEN, "", False, now)
        if client_key:
            used = SubmitKey(stream_id, customer_id, conversation_id, decision.queue_id)
            self.keys[client_key] = used
            self.journal.key_used(client_key, used, now)
        ref = ConversationActor.start(ticket, stream, self)
        self.conversations[conversation_id] = ref
        ref.tell(m.Start(decision.trace, decision.rule, classification.trace))
        return conversation_id, decision.queue_id

    # --- after a restart -------------------------------------------------------------

    def recover(self, saved: Saved) -> dict[str, int]:
        """Put back what the journal holds: agents provisioned through the API, submit
        keys, desktop sequence numbers, and every open conversation where it was — queued
        work in its place with its age, offered work back in its queue, held work with its
        agent (capacity included; the agent is Offline with the grace period running).
        Returns how many conversations went where."""
        self.keys.update(saved.keys)
        for spec in saved.agents:
            queue_ids = tuple(q for q in spec.queue_ids if q in self.queues)
            if queue_ids != spec.queue_ids:
                # The configuration dropped a queue since (a restart is how one is dropped):
                # the agent comes back in the queues that are left, and is journaled so.
                dropped = [q for q in spec.queue_ids if q not in self.queues]
                log.warning("agent.queues_dropped", agent_id=spec.id, queue_ids=",".join(dropped))
            self.upsert_agent(spec.id, spec.name, spec.capacity, spec.skills, queue_ids)
        for agent_id, sequence in saved.sequences.items():
            if agent_id in self.agents:
                self.agents[agent_id].tell(m.NumberFrom(sequence))
        for agent_id, (day, used) in saved.profile_counts.items():
            if agent_id in self.agents:
                self.agents[agent_id].tell(m.CountedToday(day, used))
        counts: dict[str, int] = {}
        last_seq = 0
        for open_conversation in sorted(saved.conversations, key=lambda c: c.ticket.seq):
            where = self._restore(
                open_conversation, saved.holdings.get(open_conversation.ticket.conversation_id)
            )
            counts[where] = counts.get(where, 0) + 1
            last_seq = max(last_seq, open_conversation.ticket.seq)
        self._seq = itertools.count(last_seq + 1)
        return counts

    def _restore(self, saved: OpenConversation, holding: tuple[str, str, float] | None) -> str:
        ticket = saved.ticket
        stream = self.streams.get(ticket.work.stream_id) or _stand_in_stream(ticket)
        queue_id = self._queue_for(ticket, stream)
        if queue_id != ticket.work.queue_id:
            ticket.work = dataclasses.replace(ticket.work, queue_id=queue_id)
        agent_id, held_state, since = holding or ("", "", saved.since)
        if held_state == "offered" and agent_id in self.agents:
            # The desktop may have seen the offer: tell it the offer is gone.
            self.agents[agent_id].tell(m.OfferLost(ticket.conversation_id))
        if agent_id and agent_id in self.agents and held_state in _HELD_STATES:
            state, where = _HELD_STATES[held_state], held_state
            self.agents[agent_id].tell(m.Reclaim(ticket, queue_id, held_state, since))
        elif saved.state is ConversationState.WRAP_UP:
            state, where, agent_id = ConversationState.CLOSED, "closed", saved.agent_id
        elif saved.state is ConversationState.WAITING:
            state, where, agent_id = ConversationState.WAITING, "waiting", ""
        else:
            state, where, agent_id = ConversationState.OPEN, "queued", ""
        ref = ConversationActor.start(ticket, stream, self)
        self.conversations[ticket.conversation_id] = ref
        ref.tell(m.Recover(state, agent_id, since, saved.timeline, saved.offer_pending))
        return where

    def _queue_for(self, ticket: Ticket, stream: WorkStream) -> str:
        """Its queue, or (when a new configuration dropped it) one of the same type."""
        if ticket.work.queue_id in self.queues:
            return ticket.work.queue_id
        if stream.fallback_queue_id in self.queues:
            return stream.fallback_queue_id
        needed = QUEUE_TYPE_OF_CHANNEL[ticket.work.channel]
        same_type = [q for q, spec in self.queue_specs.items() if spec.type is needed]
        return (same_type or list(self.queues))[0]

    def _overflowing(self, queue_id: str, now: float) -> bool:
        spec = self.queue_specs[queue_id]
        return is_overflowing(
            spec.overflow,
            spec.hours,
            self.queue_waiting[queue_id],
            now,
            self.queue_estimate[queue_id],
        )

    def conversation(self, conversation_id: str) -> pykka.ActorRef[Any]:
        ref = self.conversations.get(conversation_id)
        if ref is None:
            if conversation_id in self.recently_closed:
                raise FailedPrecondition(f"conversation {conversation_id} is closed")
            raise NotFound(f"unknown conversation {conversation_id!r}")
        return ref

    async def conversation_snapshot(self, conversation_id: str) -> ConversationSnapshot | None:
        """The live or recently closed conversation; None when it is not in memory."""
        ref = self.conversations.get(conversation_id)
        if ref is not None:
            try:
                return await ref.ask(m.ConversationSnapshotRequest(), block=False)
            except pykka.ActorDeadError:
                pass  # closed between the look-up and the ask
        return self.recently_closed.get(conversation_id)

    # --- work taken from a queue -----------------------------------------------------

    async def pickable(self, agent_id: str) -> list[tuple[str, Ticket]]:
        """Pick-mode work waiting in the agent's queues: (queue id, ticket), best first."""
        snapshot = await self.agent_snapshot(agent_id)
        found = []
        for queue_id in snapshot.queue_ids:
            tickets = await self.queues[queue_id].ask(m.PickableRequest(agent_id), block=False)
            priority = self.queue_specs[queue_id].priority
            found += [(cross_queue_key(priority, t), queue_id, t) for t in tickets]
        found.sort(key=lambda entry: entry[0])
        return [(queue_id, ticket) for _, queue_id, ticket in found]

    async def take(self, agent_id: str, conversation_id: str, *, force: bool = False) -> str:
        """Hand waiting work straight to an agent: they picked it, or (`force`) a supervisor
        assigns it, past the agent's capacity if need be. Returns what it took over capacity
        (empty when nothing). Exactly one of two agents taking the same work wins; the other
        gets FailedPrecondition."""
        agent = self.agent(agent_id)
        snapshot = await self.conversation_snapshot(conversation_id)
        if snapshot is None:
            raise NotFound(f"unknown conversation {conversation_id!r}")
        if snapshot.state is not ConversationState.OPEN:
            holder = f" with agent {snapshot.agent_id}" if snapshot.agent_id else ""
            raise FailedPrecondition(
                f"conversation {conversation_id} was already taken: it is "
                f"{snapshot.state.value.replace('_', '-')}{holder}; only waiting work can be taken"
            )
        if snapshot.offer_pending:
            raise FailedPrecondition(
                f"conversation {conversation_id} is offered to agent {snapshot.agent_id}; "
                "it can be taken if that offer is declined or times out"
            )
        queue_id = snapshot.ticket.work.queue_id
        ticket = await self.queues[queue_id].ask(
            m.HandOver(conversation_id, agent_id, force), block=False
        )
        return await agent.ask(m.TakeFromQueue(ticket, queue_id, force), block=False)

    # --- work handed on by the agent who holds it ------------------------------------

    async def transfer_to_queue(
        self, agent_id: str, conversation_id: str, queue_id: str
    ) -> ConversationState:
        agent = self.agent(agent_id)
        queue = self.queue_specs.get(queue_id)
        if queue is None:
            raise NotFound(f"unknown queue {queue_id!r}; known: {', '.join(self.queues)}")
        snapshot = await self.conversation_snapshot(conversation_id)
        if snapshot is not None:
            needed = QUEUE_TYPE_OF_CHANNEL[snapshot.ticket.work.channel]
            if queue.type is not needed:
                raise FailedPrecondition(
                    f"queue {queue_id} is a {queue.type.value} queue; "
                    f"{snapshot.ticket.work.channel.value} work may only go to "
                    f"{needed.value} queues"
                )
        return await agent.ask(m.TransferToQueue(conversation_id, queue_id), block=False)

    async def park(self, agent_id: str, conversation_id: str) -> ConversationState:
        """Active work waits for the customer (asynchronous channels); its capacity is
        released once the conversation has agreed (the customer may have ended it)."""
        agent = self.agent(agent_id)
        await agent.ask(m.Park(conversation_id), block=False)
        parked = await self._conversation_agrees(conversation_id, m.Parked(agent_id))
        agent.tell(m.ParkDone(conversation_id, parked))
        if not parked:
            raise FailedPrecondition(
                f"conversation {conversation_id} was ended meanwhile; it was not parked"
            )
        return ConversationState.WAITING

    async def _conversation_agrees(self, conversation_id: str, message: object) -> bool:
        """Ask the conversation to confirm a change an agent began; False when it refuses
        or has closed meanwhile."""
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return False
        try:
            return await conversation.ask(message, block=False)
        except pykka.ActorDeadError:
            return False

    async def transfer_to_agent(
        self, agent_id: str, conversation_id: str, to_agent_id: str
    ) -> None:
        """Active work moves from one agent to another, capacity and all. The holder keeps it
        until the other has taken it, so it is never with nobody, and a refusal leaves it
        where it was."""
        source = self.agent(agent_id)
        target = self.agent(to_agent_id)
        ticket, queue_id = await source.ask(m.HandOff(conversation_id, to_agent_id), block=False)
        try:
            await target.ask(m.TransferIn(ticket, queue_id, agent_id), block=False)
        except BaseException:
            source.tell(m.HandOffCancelled(conversation_id))
            raise
        source.tell(m.HandOffDone(conversation_id, to_agent_id))
        kept = await self._conversation_agrees(
            conversation_id, m.Transferred(agent_id, to_agent_id)
        )
        if not kept:
            # It closed (or moved on) while being handed over: the new agent lets go.
            target.tell(m.WithdrawOffer(conversation_id, "closed while being transferred"))
            raise FailedPrecondition(
                f"conversation {conversation_id} closed while it was being transferred"
            )

    # --- gateways watching -----------------------------------------------------------

    def watch(self, stream_ids: frozenset[str]) -> GatewayWatch:
        watch = GatewayWatch(stream_ids)
        self.watchers.add(watch)
        return watch

    def end_watches(self, reason: str) -> None:
        for watch in list(self.watchers):
            watch.close(reason)

    def unwatch(self, watch: GatewayWatch) -> None:
        self.watchers.discard(watch)

    def publish(self, event: ConversationEvent) -> None:
        """Tell every gateway watching this conversation's work stream, once the journal
        has committed what the event tells of (as desktop messages). Never blocks."""
        watchers = [
            watch
            for watch in self.watchers
            if not watch.stream_ids or event.work_stream_id in watch.stream_ids
        ]
        if watchers:
            self.journal.after_commit(lambda: self._tell_watchers(watchers, event))

    @staticmethod
    def _tell_watchers(watchers: list, event: ConversationEvent) -> None:
        for watch in watchers:
            watch.events.put_nowait(event)

    def conversation_closed(self, snapshot: ConversationSnapshot) -> None:
        cid = snapshot.ticket.conversation_id
        self.conversations.pop(cid, None)
        self.recently_closed[cid] = snapshot
        if len(self.recently_closed) > RECENTLY_CLOSED:
            self.recently_closed.popitem(last=False)
        self.journal.closed(snapshot)

    def stop(self) -> None:
        """Stop agents and queues. Open conversations are simply let go: their state is in
        the journal, and stopping 100,000 actors one message at a time would only delay the
        exit."""
        for ref in [*self.agents.values(), *self.queues.values()]:
            ref.tell(pykka.messages._ActorStop())
        self.conversations.clear()


# What an agent's journalled holding becomes for the conversation.
_HELD_STATES = {
    "active": ConversationState.ACTIVE,
    "wrap_up": ConversationState.WRAP_UP,
    "waiting": ConversationState.WAITING,
}


def _stand_in_stream(ticket: Ticket) -> WorkStream:
    """For open work whose work stream a new configuration dropped: the rules it was
    submitted under, as far as the ticket carries them."""
    channel = ticket.work.channel
    return WorkStream(
        id=ticket.work.stream_id,
        channel=channel,
        mode=DistributionMode.PICK if ticket.pick else DistributionMode.PUSH,
        cost=ticket.cost,
        allowed_presences=ticket.allowed_presences,
        offer_timeout_s=ticket.offer_timeout_s,
        auto_accept=ticket.auto_accept,
        skill_matching=ticket.skill_matching,
        wrap_up=ticket.wrap_up,
        auto_close=frozen_map(DEFAULT_AUTO_CLOSE[channel]),
        route_rules=(),
        fallback_queue_id=ticket.work.queue_id,
        profiles=ticket.profiles,
    )


def _check_id(what: str, value: str) -> None:
    if not value or len(value) > 128 or not value.isprintable():
        raise InvalidArgument(f"{what} must be 1-128 printable characters, got {value!r}")


def _receiving(streams: Mapping[str, WorkStream]) -> frozenset[Presence]:
    """Presences in which some work stream may offer work."""
    return frozenset().union(*(s.allowed_presences for s in streams.values())) or frozenset(
        {Presence.AVAILABLE, Presence.BUSY}
    )


def _members_by_agent(queues: list[QueueSpec]) -> dict[str, list[str]]:
    members: dict[str, list[str]] = {}
    for spec in queues:
        for agent_id in spec.members:
            members.setdefault(agent_id, []).append(spec.id)
    return members


def _queues_of(agent: AgentSpec, members: dict[str, list[str]]) -> tuple[str, ...]:
    """An agent's queues: those it lists and those that list it, each once."""
    return tuple(dict.fromkeys((*agent.queue_ids, *members.get(agent.id, ()))))


def _with_queues(agent: AgentSpec, queue_ids: tuple[str, ...]) -> AgentSpec:
    return dataclasses.replace(agent, queue_ids=queue_ids)


def _offline_view(spec: AgentSpec) -> AgentView:
    return AgentView(
        agent_id=spec.id,
        presence=Presence.OFFLINE,
        free_units=spec.capacity,
        capacity=spec.capacity,
        skills=spec.skills,
        last_assigned_at=float("-inf"),
        last_released_at=float("-inf"),
        version=-1,
        name=spec.name,
        attributes=spec.attributes,
        profile_room=frozen_map({name: p.limit for name, p in spec.profiles.items()}),
    )
