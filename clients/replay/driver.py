"""Plays a `BankDay` through a Switchboard server, as the bank's gateway and its agents.

Time: the server runs on its manual clock and the replay moves it from one event of the day
to the next. Between two events nothing can happen in the engine that the replay has not
caused (desktops answer offers at once, so no offer times out), so jumping straight to the
next event is exact, and a day that took 24 hours takes seconds and gives the same result
every run. Scaling real time instead would make the result depend on the machine's speed and
on sleeps.

Round trips: every call the replay makes is a simulated call (server/simulation.py). It
carries the time it happens at, so no AdvanceClock call is needed to get there, and it is
answered once the engine has settled, with how far each desktop stream was pushed; the
replay then waits, without asking again, until its desktops have seen (and answered) all of
it. An event costs its own calls and nothing more: on loopback gRPC each round trip costs
about 0.6 ms, which is what a replay's time is made of.

Events, in time order:
- an agent signs in at the start of the shift seen in the file and signs out at its end
  (Offline by hand, so no new offers; a call in progress is finished first);
- each queued call is submitted at its queue time, with its type as context, its priority
  and its customer;
- a caller who hung up in the queue abandons after their recorded patience, unless an agent
  has answered by then;
- an answered call lasts its recorded service time, then the agent ends and closes it
  (the bank's log has no wrap-up times).

Surviving a crash (`on_server_lost`, used by the crash test): when the server stops
answering, the replay waits for a new one on the same journal, reconnects every desktop
resuming its stream after the last message it saw, and plays the interrupted event again.
Every step may be repeated safely: submits carry the call's key as `client_key`, and a
repeated answer, end, close or abandon that finds the work already there is taken as done.
"""

from __future__ import annotations

import asyncio
import calendar
import datetime
import heapq
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import grpc
from switchboard.clients.connection import Connection, Desktop, caught_up, settle
from switchboard.clients.replay.bankday import BankDay, Call
from switchboard.clients.replay.figures import CallResult, queue_of_type
from switchboard.clients.replay.invariants import InvariantChecker
from switchboard.server.translate import seconds_of
from switchboard.v1 import admin_pb2, common_pb2, desktop_pb2, gateway_pb2

WORK_STREAM = "bank-voice"

# Within one instant: agents finish calls, then sign in, then calls arrive, then callers
# out of patience hang up, then agents whose shift is over sign out.
EVENT_ORDER = {"end": 0, "signin": 1, "submit": 2, "abandon": 3, "signout": 4}
AGENT_CAPACITY = 1
_JUST_SETTLE = admin_pb2.AdvanceClockRequest()


def day_start(date: str) -> float:
    """Midnight that began the day, as seconds since the epoch. The log's clock times are the
    bank's local times; the replay puts them on UTC so that no time-zone shift applies."""
    day = datetime.date.fromisoformat(date)
    return float(calendar.timegm(day.timetuple()))


class ServiceTimes:
    """How long a call lasts once answered.

    A call the bank served lasts what it lasted that day. A caller who hung up at the bank
    has no service time in the log, yet may be answered here; such a call lasts the median
    service time of that call type that day (of all types if the type has none), so that
    answering more callers costs agents the time it would really have cost.
    """

    def __init__(self, day: BankDay) -> None:
        by_type: dict[str, list[float]] = {}
        for call in day.calls:
            if call.bank_outcome == "served" and call.service_time > 0:
                by_type.setdefault(call.call_type, []).append(call.service_time)
        everything = sorted(t for times in by_type.values() for t in times)
        self.overall = statistics.median(everything) if everything else 0.0
        self.typical = {kind: statistics.median(times) for kind, times in by_type.items()}

    def of(self, call: Call) -> float:
        if call.bank_outcome == "served":
            return call.service_time
        return self.typical.get(call.call_type, self.overall)


@dataclass
class CallState:
    call: Call
    conversation_id: str = ""
    submitted_at: float = 0.0
    answered_at: float | None = None
    agent_id: str = ""
    abandoned_at: float | None = None


@dataclass
class ReplayResult:
    results: list[CallResult]
    violations: list[str]
    events: int
    rpcs: int
    errors: list[str] = field(default_factory=list)


class Replay:
    def __init__(
        self,
        connection: Connection,
        day: BankDay,
        *,
        stream: str = WORK_STREAM,
        on_server_lost: Callable[[], Awaitable[Connection]] | None = None,
    ) -> None:
        self.connection = connection
        self.on_server_lost = on_server_lost
        self.restarts = 0
        self.day = day
        self.stream = stream
        self.origin = day_start(day.date)
        self.now = self.origin
        self._events: list[tuple[float, int, str, Callable[[], Awaitable[None]]]] = []
        self.calls: dict[str, CallState] = {}
        self.by_conversation: dict[str, CallState] = {}
        self.desktops: dict[str, Desktop] = {}
        self.leaving: set[str] = set()
        # Agents whose shift is over and who hold nothing: they hang up once the engine has
        # settled, so that every message meant for them has arrived first.
        self.signing_off: set[str] = set()
        self.held: dict[str, set[str]] = {}
        # Work an agent was given before the replay knew its conversation id: a server killed
        # after committing a submit and telling the desktop, but before the submit's answer
        # went out. The submit is sent again once the server is back and claims it then.
        self.given_before_known: dict[str, str] = {}  # conversation id -> agent id
        self.service_times = ServiceTimes(day)
        self.checker = InvariantChecker({s.agent_id: AGENT_CAPACITY for s in day.shifts})
        self.rpcs = 0
        self.reactions = 0  # answers desktops sent on their own (accepting offers)
        self.acting = asyncio.Lock()  # held while one event of the day is being played
        self.events_run = 0
        self.errors: list[str] = []

    # --- scheduling ------------------------------------------------------------------

    def at(self, offset: float, label: str, action: Callable[[], Awaitable[None]]) -> None:
        """Schedule `action` at `offset` seconds after the day's midnight."""
        self.later(self.origin + offset, label, action)

    def later(self, when: float, label: str, action: Callable[[], Awaitable[None]]) -> None:
        # Events of one instant run in a fixed order (by kind, then by the call or agent they
        # concern), never in the order desktops happened to report them: runs must not differ.
        kind = label.split(" ", 1)[0]
        heapq.heappush(self._events, (when, EVENT_ORDER[kind], label, action))

    async def run(self) -> ReplayResult:
        clock = await self.connection.admin.GetClock(admin_pb2.GetClockRequest())
        if not clock.manual:
            msg = "the replay drives the server's clock: start the server with --clock manual"
            raise RuntimeError(msg)
        if seconds_of(clock.now) > self.origin:
            msg = "the server's clock is already past this day: start a fresh server"
            raise RuntimeError(msg)
        self._simulating(self.connection)
        await self._provision_agents()
        for shift in self.day.shifts:
            self.at(shift.start, f"signin {shift.agent_id}", self._sign_in_action(shift.agent_id))
            self.at(shift.end, f"signout {shift.agent_id}", self._sign_out_action(shift.agent_id))
        for call in self.day.calls:
            state = CallState(call)
            self.calls[call.key] = state
            self.at(call.queued_at, f"submit {call.key}", self._submit_action(state))
            if call.patience is not None:
                self.at(
                    call.queued_at + call.patience,
                    f"abandon {call.key}",
                    self._abandon_action(state),
                )
        while self._events:
            when = self._events[0][0]
            self.now = when
            self.connection.simulated_time = when  # the calls of this event happen now
            while self._events and self._events[0][0] == when:
                _, _, _, action = heapq.heappop(self._events)
                await self._surviving(action, locked=True)
                self.events_run += 1
                # Let the engine and the desktops finish with this event before the next one
                # of the same instant: a caller whose patience ends now must not race an
                # agent answering them now, or two runs could differ.
                await self._surviving(self._caught_up)
        await self._surviving(self._quiesce)
        for desktop in self.desktops.values():
            await desktop.disconnect()
        for cid, agent_id in sorted(self.given_before_known.items()):
            self.errors.append(f"{agent_id} was assigned {cid}, which the replay never submitted")
        return ReplayResult(
            self._results(), self.checker.violations, self.events_run, self.rpcs, self.errors
        )

    # --- surviving a server crash ----------------------------------------------------

    async def _surviving(
        self, step: Callable[[], Awaitable[None]], *, locked: bool = False
    ) -> None:
        """Run `step`; if the server went away meanwhile, reconnect and run it again."""
        while True:
            try:
                if locked:
                    async with self.acting:
                        await step()
                else:
                    await step()
                return
            except (grpc.aio.AioRpcError, TimeoutError) as exc:
                if self.on_server_lost is None or not _server_gone(exc):
                    raise
            await self._reconnect()

    async def _reconnect(self) -> None:
        assert self.on_server_lost is not None
        # The old streams are dead: drop what is left of them first, outside the lock. A
        # reader may be waiting for the lock to answer something the old stream delivered,
        # and hanging up waits for the reader: under the lock that would wait for ever.
        live = [(a, d) for a, d in sorted(self.desktops.items()) if not d.hung_up]
        for _, desktop in live:
            await desktop.disconnect()
        async with self.acting:
            self.connection = await self.on_server_lost()
            self._simulating(self.connection)
            self.restarts += 1
            for desktop in self.desktops.values():
                desktop.connection = self.connection
            for agent_id, desktop in live:
                presence = (
                    common_pb2.PRESENCE_OFFLINE
                    if agent_id in self.leaving
                    else common_pb2.PRESENCE_AVAILABLE
                )
                await desktop.connect(presence, resume=True)

    def _simulating(self, connection: Connection) -> None:
        connection.settle_calls = True
        connection.simulated_time = self.now

    async def _caught_up(self) -> None:
        """Wait until the desktops have seen everything the event's calls caused; then let
        signed-off agents hang up."""
        await caught_up(self.connection, list(self.desktops.values()))
        await self._hang_up_signed_off()

    async def _hang_up_signed_off(self) -> None:
        for agent_id in sorted(self.signing_off):
            await self.desktops[agent_id].disconnect()
        self.signing_off.clear()

    async def _quiesce(self) -> None:
        """Settle until the desktops' answers cause nothing further; then let signed-off
        agents hang up."""
        while True:
            reactions = self.reactions
            self.rpcs += 1
            await settle(self.connection, list(self.desktops.values()))
            if self.reactions == reactions:
                break  # no desktop answered anything since the engine last settled
        await self._hang_up_signed_off()

    # --- agents ----------------------------------------------------------------------

    async def _provision_agents(self) -> None:
        for shift in self.day.shifts:
            skills = dict(self.day.skills.get(shift.agent_id, {}))
            if "PE" in skills:  # who answered calls in English speaks English
                skills["english"] = skills["PE"]
            queues = sorted({queue_of_type(t) for t in skills}) or [queue_of_type("PS")]
            await self.connection.admin.UpsertAgent(
                admin_pb2.UpsertAgentRequest(
                    agent_id=shift.agent_id,
                    name=shift.agent_id,
                    capacity=AGENT_CAPACITY,
                    skills=skills,
                    queue_ids=queues,
                )
            )
            self.rpcs += 1
            self.held[shift.agent_id] = set()

    def _sign_in_action(self, agent_id: str) -> Callable[[], Awaitable[None]]:
        async def sign_in() -> None:
            # A stream is not answered once settled: move the clock before connecting, and
            # ask for the settled answer after (AdminService.AdvanceClock, as a simulated call).
            await self.connection.call(self.connection.admin.AdvanceClock, _JUST_SETTLE)
            desktop = Desktop(self.connection, agent_id, on_message=self._on_desktop_message)
            self.desktops[agent_id] = desktop
            await desktop.connect(common_pb2.PRESENCE_AVAILABLE)
            await self.connection.call(self.connection.admin.AdvanceClock, _JUST_SETTLE)
            self.rpcs += 3

        return sign_in

    def _sign_out_action(self, agent_id: str) -> Callable[[], Awaitable[None]]:
        async def sign_out() -> None:
            desktop = self.desktops[agent_id]
            await desktop.set_presence(common_pb2.PRESENCE_OFFLINE)
            self.rpcs += 1
            self.leaving.add(agent_id)
            if not self.held[agent_id]:
                self.signing_off.add(agent_id)

        return sign_out

    async def _on_desktop_message(
        self, desktop: Desktop, message: desktop_pb2.ConnectResponse
    ) -> None:
        agent_id = desktop.agent_id
        kind = message.WhichOneof("event")
        if message.HasField("agent"):  # the agent's state after the event, riding on it
            after = message.agent
            self.checker.capacity(agent_id, after.capacity_used, after.capacity_total)
        if kind == "offer":
            cid = message.offer.conversation.id
            self.checker.offered(agent_id, cid)
            try:
                # Wait until the event in progress is done (an agent ending a call also
                # closes it before answering its next offer), so the order never varies.
                async with self.acting:
                    await desktop.accept(cid)
                self.rpcs += 1
            except grpc.aio.AioRpcError as exc:
                # The caller hung up between the offer and the answer: nothing to do. (A
                # server that went away will offer it again once it is back.)
                if exc.code() != grpc.StatusCode.FAILED_PRECONDITION and not _server_gone(exc):
                    self.errors.append(
                        f"accept {cid} by {agent_id}: {exc.code().name} {exc.details()}"
                    )
            finally:
                # Counted once answered (not when the offer arrived): a settle that saw this
                # offer handled must be followed by one that sees what the answer caused.
                self.reactions += 1
        elif kind == "assignment":
            cid = message.assignment.conversation.id
            self.checker.assigned(agent_id, cid)
            # Auto-accepted work can reach the desktop before the submit that caused it has
            # its answer: wait until that event is done, so the call is known by its id.
            async with self.acting:
                self._answered(agent_id, cid)
        elif kind == "offer_withdrawn":
            self.checker.released(agent_id, message.offer_withdrawn.conversation_id)
        elif kind == "conversation_update":
            update = message.conversation_update
            # The bank's work stream does not block capacity in wrap-up (wrap_up: none), so an
            # ended call stops counting against the agent as soon as it reaches wrap-up.
            if update.state in (
                common_pb2.CONVERSATION_STATE_WRAP_UP,
                common_pb2.CONVERSATION_STATE_CLOSED,
            ):
                self.checker.released(agent_id, update.conversation_id)
        elif kind == "agent_update":
            update = message.agent_update
            self.checker.capacity(agent_id, update.capacity_used, update.capacity_total)

    def _answered(self, agent_id: str, cid: str) -> None:
        state = self.by_conversation.get(cid)
        if state is None:
            # Its submit's answer was lost with the server; the retry will claim it (and the
            # run reports it if nothing does).
            self.given_before_known[cid] = agent_id
            return
        state.answered_at = self.now
        state.agent_id = agent_id
        self.held[agent_id].add(cid)
        duration = self.service_times.of(state.call)
        self.later(self.now + duration, f"end {state.call.key}", self._end_action(agent_id, cid))

    def _end_action(self, agent_id: str, cid: str) -> Callable[[], Awaitable[None]]:
        async def end() -> None:
            desktop = self.desktops[agent_id]
            # The bank's log has no wrap-up: the agent is free when the call ends, so the
            # call is ended and closed in one go.
            self.rpcs += 1
            try:
                await desktop.end(cid, close=True)
            except grpc.aio.AioRpcError as exc:
                # Played again after a crash, the end may have been done already (then the
                # close is still to do) or the close too.
                if not (self.restarts and exc.code() == grpc.StatusCode.FAILED_PRECONDITION):
                    raise
                self.rpcs += 1
                await self._done_already_counts(desktop.close(cid))
            self.held[agent_id].discard(cid)
            if agent_id in self.leaving and not self.held[agent_id]:
                self.signing_off.add(agent_id)

        return end

    # --- the gateway -----------------------------------------------------------------

    def _submit_action(self, state: CallState) -> Callable[[], Awaitable[None]]:
        call = state.call

        async def submit() -> None:
            request = gateway_pb2.SubmitWorkRequest(
                work_stream_id=self.stream,
                customer=common_pb2.Customer(id=call.customer_id),
                # What the bank's IVR knew; the configuration's classification decides
                # what it means (priority customers ahead, English calls to English speakers).
                context={"type": call.call_type, "bank_priority": str(call.file_priority)},
                client_key=call.key,  # a retry after a crash creates nothing new
            )
            response = await self.connection.call(self.connection.gateway.SubmitWork, request)
            self.rpcs += 1
            state.conversation_id = response.conversation_id
            state.submitted_at = self.now
            self.by_conversation[response.conversation_id] = state
            agent_id = self.given_before_known.pop(response.conversation_id, None)
            if agent_id is not None:
                self._answered(agent_id, response.conversation_id)

        return submit

    def _abandon_action(self, state: CallState) -> Callable[[], Awaitable[None]]:
        async def abandon() -> None:
            if state.answered_at is not None:
                return  # answered before the caller ran out of patience
            try:
                await self.connection.call(
                    self.connection.gateway.AbandonConversation,
                    gateway_pb2.AbandonConversationRequest(
                        conversation_id=state.conversation_id, reason="caller hung up"
                    ),
                )
                self.rpcs += 1
                state.abandoned_at = self.now
            except grpc.aio.AioRpcError as exc:
                if self.restarts and exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                    # Played again after a crash: the first attempt got through.
                    response = await self.connection.gateway.GetConversation(
                        gateway_pb2.GetConversationRequest(conversation_id=state.conversation_id)
                    )
                    if response.conversation.close_reason == "abandoned":
                        state.abandoned_at = self.now
                        return
                if _server_gone(exc):
                    raise
                self.errors.append(f"abandon {state.call.key}: {exc.code().name} {exc.details()}")

        return abandon

    async def _done_already_counts(self, call: Awaitable[None]) -> None:
        try:
            await call
        except grpc.aio.AioRpcError as exc:
            if not (self.restarts and exc.code() == grpc.StatusCode.FAILED_PRECONDITION):
                raise

    # --- results ---------------------------------------------------------------------

    def _results(self) -> list[CallResult]:
        results = []
        for state in self.calls.values():
            queue_id = queue_of_type(state.call.call_type)
            if state.answered_at is not None:
                results.append(
                    CallResult(
                        state.call.key,
                        queue_id,
                        "served",
                        state.answered_at - state.submitted_at,
                        state.agent_id,
                        self.service_times.of(state.call),
                    )
                )
            elif state.abandoned_at is not None:
                results.append(
                    CallResult(
                        state.call.key,
                        queue_id,
                        "abandoned",
                        state.abandoned_at - state.submitted_at,
                        "",
                    )
                )
            else:
                results.append(CallResult(state.call.key, queue_id, "unserved", None, ""))
        return results


def _server_gone(exc: BaseException) -> bool:
    """The server stopped answering (killed, restarting), as opposed to refusing a call."""
    if isinstance(exc, TimeoutError):
        return True
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    )
