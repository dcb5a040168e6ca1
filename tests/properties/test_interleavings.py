"""Property tests: random interleavings of everything agents, customers and the clock do,
driven through the real actors, with the distribution invariants checked after every step
(and after every timer that fires while the clock moves).

Invariants (SPEC.md, "Distribution: which agent"):
- a conversation is offered to or held by at most one agent;
- no agent holds more than their capacity, units or blocking capacity profiles;
- nothing is lost: every live conversation is exactly where its state says (queued once,
  offered to or held by its agent);
- no work is stranded: queued push work has no eligible member agent with room;
- freed capacity goes to the oldest eligible work: work an agent was just given is never
  younger than work left waiting that they could have had instead;
- wrap-up blocking holds: blocked wrap-up keeps its capacity, in every queue the agent serves.

Run more examples with HYPOTHESIS_PROFILE=deep (see conftest.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from hypothesis import given, note
from hypothesis import strategies as st
from switchboard.actors import messages as m
from switchboard.actors.centre import Centre
from switchboard.actors.clock import ManualClock
from switchboard.actors.domain.eligibility import why_not_eligible
from switchboard.actors.domain.model import ConversationState, Presence
from switchboard.actors.domain.ordering import cross_queue_key
from switchboard.actors.domain.presence import next_presence
from switchboard.actors.errors import EngineError
from switchboard.actors.runtime import install_dispatcher
from switchboard.server.config import parse_config

CONFIG = """
settings: {decline_limit: 2, reconnect_grace_s: 60, after_reject: keep}
capacity_profiles:
  - {id: hot, limit: 1}
work_streams:
  - {id: chat, channel: chat, fallback_queue: q1, offer_timeout_s: 20, wrap_up: always}
  - {id: vip, channel: chat, fallback_queue: q1, skill_matching: exact, wrap_up: 10}
  - {id: sms, channel: sms, fallback_queue: q2, affinity: true, wrap_up: 15,
     auto_close: {waiting: 300}}
  - {id: hot, channel: chat, fallback_queue: q1, capacity_profile: hot, cost: 1,
     auto_accept: true, wrap_up: none}
  - {id: mail, channel: email, mode: pick, fallback_queue: r1}
queues:
  - {id: q1, priority: 1, method: round_robin, members: [a1, a2, a3]}
  - {id: q2, priority: 2, method: most_idle, members: [a2, a3, a4]}
  - {id: r1, type: record, members: [a1, a4]}
agents:
  - {id: a1, capacity: 1, skills: {english: 8}, capacity_profiles: [hot]}
  - {id: a2, capacity: 1, skills: {english: 3}}
  - {id: a3, capacity: 2, skills: {english: 5}, capacity_profiles: [hot]}
  - {id: a4, capacity: 1}
"""
AGENTS = ["a1", "a2", "a3", "a4"]
STREAMS = ["chat", "vip", "sms", "hot", "mail"]
QUEUES = ["q1", "q2", "r1"]
PRESENCES = [Presence.AVAILABLE, Presence.BUSY, Presence.AWAY, Presence.BUSY_DND]

agent = st.sampled_from(AGENTS)
pick = st.integers(min_value=0, max_value=7)  # which item, modulo how many there are
answer = ("accept", "reject", "end", "close", "release", "park", "resume")

# Each kind of step, and how often it comes up (submits and answers most, so that queues
# fill up and agents keep taking work).
STEPS = {
    "submit": (8, st.tuples(st.sampled_from(STREAMS), st.integers(0, 2), st.integers(1, 9))),
    "connect": (1, st.tuples(agent)),
    "disconnect": (1, st.tuples(agent)),
    "presence": (2, st.tuples(agent, st.sampled_from(PRESENCES))),
    # Answers go to the k-th item in the right state across all agents, so that most steps
    # do something rather than miss.
    **{kind: (4 if kind in ("accept", "end", "close") else 1, st.tuples(pick)) for kind in answer},
    "transfer_agent": (1, st.tuples(pick, agent)),
    "transfer_queue": (1, st.tuples(pick, st.sampled_from(QUEUES))),
    "take": (2, st.tuples(agent, pick)),
    "abandon": (1, st.tuples(pick)),
    "customer_writes": (1, st.tuples(pick)),
    "advance": (3, st.tuples(st.floats(0.5, 400.0))),
}
single = st.sampled_from(
    [kind for kind, (weight, _) in STEPS.items() for _ in range(weight)]
).flatmap(lambda kind: STEPS[kind][1].map(lambda args: (kind, *args)))
# Two things at once (an agent releasing while the customer ends, two agents taking the
# same work...): their calls interleave wherever they wait.
together = st.tuples(st.just("together"), single, single).filter(
    lambda t: "advance" not in (t[1][0], t[2][0])
)
step = st.one_of(single, single, single, together)


class Violation(AssertionError):
    pass


class World:
    """One centre on a manual clock, the desktops' links, and what was submitted."""

    def __init__(self) -> None:
        config = parse_config(CONFIG, "property.yaml")
        self.dispatcher = install_dispatcher()
        self.clock = ManualClock(1_000.0)
        self.centre = Centre(
            clock=self.clock,
            settings=config.settings,
            streams=config.streams,
            queues=list(config.queues),
            agents=list(config.agents),
        )
        self.links: dict[str, Any] = {}
        self.submitted: list[str] = []
        self.steps = 0
        self.held_before: dict[str, set[str]] = {}

    def actor(self, ref: Any) -> Any:
        return ref._actor_weakref()

    def agents(self) -> dict[str, Any]:
        return {a: self.actor(self.centre.agents[a]) for a in AGENTS}

    def queues(self) -> dict[str, Any]:
        return {q: self.actor(self.centre.queues[q]) for q in QUEUES}

    def item(self, states: tuple[str, ...], k: int) -> tuple[str, str] | None:
        """The k-th (agent, conversation) over all agents, among work in `states`."""
        found = [
            (agent_id, cid)
            for agent_id, a in self.agents().items()
            for cid, held in a.work.items()
            if held.state in states
        ]
        return found[k % len(found)] if found else None

    # --- doing things ----------------------------------------------------------------

    async def do(self, action: tuple) -> None:
        kind = action[0]
        self.held_before = {a: set(actor.work) for a, actor in self.agents().items()}
        try:
            await self._do(kind, action[1:])
        except EngineError:
            pass  # refused, as a real desktop or gateway would be told
        await self.dispatcher.settled()
        self.check(kind)

    async def _do(self, kind: str, args: tuple) -> None:
        centre = self.centre
        match kind:
            case "together":
                first, second = args
                await asyncio.gather(self._try(first), self._try(second))
            case "submit":
                stream, priority, rating = args
                skills = {"english": rating} if stream == "vip" else {}
                cid, _ = centre.submit(stream, priority=priority, required_skills=skills)
                self.submitted.append(cid)
            case "connect":
                (agent_id,) = args
                link = centre.new_link(agent_id)
                self.links[agent_id] = link
                await centre.agents[agent_id].ask(m.Connect(link, Presence.AVAILABLE), block=False)
            case "disconnect":
                (agent_id,) = args
                link = self.links.pop(agent_id, None)
                if link is not None:
                    link.detach()
                    centre.agents[agent_id].tell(m.Disconnect(link))
            case "presence":
                agent_id, presence = args
                await centre.agents[agent_id].ask(m.SetPresence(presence), block=False)
            case "park":
                (k,) = args
                found = self.item(("active",), k)
                if found is not None:
                    await centre.park(*found)
            case "accept" | "reject" | "end" | "close" | "release" | "resume":
                (k,) = args
                await self._agent_call(kind, k)
            case "transfer_agent":
                k, target = args
                found = self.item(("active",), k)
                if found is not None:
                    await centre.transfer_to_agent(*found, target)
            case "transfer_queue":
                k, queue_id = args
                found = self.item(("active",), k)
                if found is not None:
                    await centre.transfer_to_queue(*found, queue_id)
            case "take":
                agent_id, k = args
                found = await centre.pickable(agent_id)
                if found:
                    _, ticket = found[k % len(found)]
                    await centre.take(agent_id, ticket.conversation_id)
            case "abandon" | "customer_writes":
                (k,) = args
                live = [c for c in self.submitted if c in centre.conversations]
                if live:
                    ref = centre.conversations[live[k % len(live)]]
                    message = m.CustomerAbandons("") if kind == "abandon" else m.CustomerWrites()
                    await ref.ask(message, block=False)
            case "advance":
                (seconds,) = args
                await self.clock.advance_to(self.clock.now() + seconds, self._settle_and_check)

    async def _try(self, action: tuple) -> None:
        try:
            await self._do(action[0], action[1:])
        except EngineError:
            pass

    async def _settle_and_check(self) -> None:
        await self.dispatcher.settled()
        self.check("timer")
        self.held_before = {a: set(actor.work) for a, actor in self.agents().items()}

    async def _agent_call(self, kind: str, k: int) -> None:
        states, message = {
            "accept": (("offered",), m.AcceptOffer),
            "reject": (("offered",), m.RejectOffer),
            "end": (("active",), m.AgentEnds),
            "close": (("wrap_up",), m.AgentCloses),
            "release": (("active",), m.ReleaseWork),
            "park": (("active",), m.Park),
            "resume": (("waiting",), m.Resume),
        }[kind]
        found = self.item(states, k)
        if found is not None:
            agent_id, cid = found
            await self.centre.agents[agent_id].ask(message(cid), block=False)

    # --- the invariants --------------------------------------------------------------

    def check(self, after: str) -> None:
        self.steps += 1
        agents, queues = self.agents(), self.queues()
        holders: dict[str, str] = {}
        for agent_id, a in agents.items():
            for cid, held in a.work.items():
                if held.state == "waiting":
                    continue  # parked: the agent keeps the link, not the work
                if cid in holders:
                    raise Violation(f"after {after}: {cid} is with {holders[cid]} and {agent_id}")
                holders[cid] = agent_id
            self._check_capacity(after, agent_id, a)
        waiting: dict[str, str] = {}
        for queue_id, q in queues.items():
            if q.book.proposed:
                raise Violation(f"after {after}: {queue_id} still has proposals in flight")
            for ticket in q.book.waiting():
                if ticket.conversation_id in waiting or ticket.conversation_id in holders:
                    raise Violation(f"after {after}: {ticket.conversation_id} is in two places")
                waiting[ticket.conversation_id] = queue_id
        self._check_nothing_lost(after, holders, waiting)
        self._check_nothing_stranded(after, agents, queues)
        self._check_oldest_first(after, agents, queues)

    def _check_capacity(self, after: str, agent_id: str, a: Any) -> None:
        used = sum(h.ticket.cost for h in a.work.values() if h.holds_capacity)
        if used != a.used:
            raise Violation(f"after {after}: {agent_id} counts {a.used} units, holds {used}")
        if a.used > a.spec.capacity:
            raise Violation(f"after {after}: {agent_id} holds {a.used} of {a.spec.capacity}")
        for name, profile in a.counts.profiles.items():
            if a.counts.used[name] > profile.limit:
                raise Violation(f"after {after}: {agent_id} is past capacity profile {name}")
        for cid, held in a.work.items():
            if held.state == "wrap_up" and held.ticket.wrap_up.blocks_until_close:
                if not held.holds_capacity:
                    raise Violation(f"after {after}: {agent_id} wrap-up of {cid} stopped blocking")

    def _check_nothing_lost(self, after: str, holders: dict, waiting: dict) -> None:
        for cid, ref in self.centre.conversations.items():
            c = self.actor(ref)
            if c.state is ConversationState.OPEN and c.offer_pending:
                where = holders.get(cid)
                if where != c.agent_id:
                    raise Violation(f"after {after}: {cid} offered to {c.agent_id}, at {where}")
            elif c.state is ConversationState.OPEN:
                if waiting.get(cid) != c.ticket.work.queue_id:
                    raise Violation(f"after {after}: open {cid} is not in its queue")
            elif c.state in (ConversationState.ACTIVE, ConversationState.WRAP_UP):
                if holders.get(cid) != c.agent_id:
                    raise Violation(
                        f"after {after}: {c.state.value} {cid} is with {holders.get(cid)}, "
                        f"not {c.agent_id}"
                    )

    def _check_nothing_stranded(self, after: str, agents: dict, queues: dict) -> None:
        for queue_id, q in queues.items():
            for ticket in q.book.waiting():
                if ticket.pick:
                    continue
                for agent_id, a in agents.items():
                    if queue_id in a.spec.queue_ids and why_not_eligible(a._view(), ticket) is None:
                        raise Violation(
                            f"after {after}: {ticket.conversation_id} waits in {queue_id} "
                            f"while {agent_id} could take it"
                        )

    def _check_oldest_first(self, after: str, agents: dict, queues: dict) -> None:
        """Work just given to an agent is not younger than work they could have had."""
        if after in ("take", "transfer_agent", "together"):
            return  # the agent (or their colleague) chose that work on purpose
        for agent_id, a in agents.items():
            for cid in set(a.work) - self.held_before.get(agent_id, set()):
                held = a.work[cid]
                given = held.ticket
                if given.preferred:
                    continue  # affinity and preferred agents go ahead of the rest
                view = a._view()
                holding = sum(1 for h in a.work.values() if h.holds_capacity) - 1
                before = dataclasses.replace(
                    view,
                    free_units=view.free_units + given.cost,
                    presence=next_presence(a.chosen, a.used - given.cost, a.spec.capacity, holding),
                )
                given_key = cross_queue_key(queues[held.queue_id].spec.priority, given)
                for queue_id in a.spec.queue_ids:
                    q = queues[queue_id]
                    for ticket in q.book.waiting():
                        if ticket.pick or ticket.declines.get(agent_id):
                            continue
                        if cross_queue_key(q.spec.priority, ticket) >= given_key:
                            continue
                        if why_not_eligible(before, ticket) is None:
                            raise Violation(
                                f"after {after}: {agent_id} was given {cid} while older "
                                f"{ticket.conversation_id} waits in {queue_id}"
                            )


async def play(steps: list[tuple], *, narrate: bool = True) -> int:
    """Play `steps` after every agent has signed in; returns how many checks ran."""
    world = World()
    try:
        for agent_id in AGENTS:
            await world.do(("connect", agent_id))
        for action in steps:
            if narrate:  # printed with a failing example, to read what led there
                note(f"{world.clock.now() - 1000:.1f}s {action}")
            await world.do(action)
    finally:
        world.centre.stop()
        await world.dispatcher.settled()
    return world.steps


@given(st.lists(step, min_size=20, max_size=80))
def test_random_interleavings_keep_every_distribution_invariant(steps: list[tuple]) -> None:
    asyncio.run(play(steps))


def test_a_known_busy_day_keeps_the_invariants() -> None:
    """A fixed run through every kind of step, so a failure here reads without shrinking."""
    steps: list[tuple] = [("connect", a) for a in AGENTS]
    for i in range(40):
        steps += [
            ("submit", STREAMS[i % 5], i % 3, 1 + i % 9),
            ("accept", i),
            ("park", i),
            ("customer_writes", i),
            ("end", i),
            ("transfer_agent", i, AGENTS[(i + 3) % 4]),
            ("take", AGENTS[(i + 3) % 4], i),
            ("advance", 7.5),
            ("close", i),
            ("release", i),
            ("resume", i),
            ("disconnect" if i % 7 == 0 else "connect", AGENTS[i % 4]),
            ("reject", i),
            ("abandon", i * 3),
        ]
    steps.append(("advance", 500.0))
    assert asyncio.run(play(steps, narrate=False)) > len(steps)
