"""One load-test process: its agents' desktops and a gateway submitting work, against a
server on the system clock.

Desktops behave like quick agents: every offer is accepted at once (AcceptOffer), held for
the handle time, ended, kept in wrap-up for the wrap time and closed; with no wrap time,
ended and closed in one call (EndConversation with close, the desktop's "end and close").
They answer with the unary calls of DesktopService rather than messages on their stream:
that is the API real desktops use, because every answer gets its own status (a refusal
says why, a retry is safe) and passes through ordinary gRPC proxies; the stream carries only
what the server pushes.

Latencies are measured on the client: from just before SubmitWork is sent to the moment the
offer arrives on the desktop's stream, and to the moment AcceptOffer has answered.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import grpc
from switchboard.clients.connection import Connection
from switchboard.clients.loadtest.stats import percentile
from switchboard.v1 import admin_pb2, common_pb2, desktop_pb2, gateway_pb2

DESKTOPS_PER_CHANNEL = 100  # HTTP/2 streams share a connection; spread them over several


@dataclass(frozen=True)
class Plan:
    """What one load test does. `unary_per_lifecycle` says how many unary calls a piece of
    work costs under it (the bare transport's mix is built from it)."""

    address: str
    desktops: int
    first_agent: int = 0
    agent_prefix: str = "load-"
    queue: str = "load"
    stream: str = "load"
    capacity: int = 1
    rate: float = 0.0  # submits per second; 0: as fast as `concurrency` allows
    concurrency: int = 64  # submits in flight at most
    duration_s: float = 10.0
    handle_s: float = 0.0
    wrap_s: float = 0.0
    drain_s: float = 10.0  # after the last submit, how long to wait for work to finish
    warmup_s: float = 1.0  # latencies of work submitted in the first seconds are not kept
    provision: bool = True
    reconnect: bool = False  # at the end, drop every desktop and reconnect them all at once
    progress: bool = True
    label: str = ""

    @property
    def unary_per_lifecycle(self) -> int:
        # submit, accept, then end and close: one call without wrap time, two with it
        return 3 if self.wrap_s == 0 else 4


@dataclass
class Outcome:
    submitted: int = 0
    offered: int = 0
    accepted: int = 0
    closed: int = 0
    errors: Counter = field(default_factory=Counter)
    submit_ms: list[float] = field(default_factory=list)
    submit_to_offer_ms: list[float] = field(default_factory=list)
    submit_to_accepted_ms: list[float] = field(default_factory=list)
    desktop_messages: int = 0
    connect_s: float = 0.0
    reconnected: int = 0
    reconnect_failed: int = 0
    reconnect_s: float = 0.0
    submit_wall_s: float = 0.0
    finish_s: float = 0.0  # from the first submit to the last close here
    wall_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        result = asdict(self)
        result["errors"] = dict(self.errors)
        return result


class OpenWork:
    """Work submitted and not yet closed, and processes still submitting, counted across
    every process of one load test: work one process submits is often closed by another's
    desktops, so no process can tell on its own when everything is done."""

    def __init__(self, processes: int = 1, context: Any = multiprocessing) -> None:
        self.open = context.Value("q", 0)
        self.submitting = context.Value("i", processes)

    def add(self, n: int) -> None:
        with self.open.get_lock():
            self.open.value += n

    def done_submitting(self) -> None:
        with self.submitting.get_lock():
            self.submitting.value -= 1

    @property
    def finished(self) -> bool:
        return self.submitting.value == 0 and self.open.value <= 0


class LoadRun:
    def __init__(self, plan: Plan, shared: OpenWork | None = None) -> None:
        self.plan = plan
        self.outcome = Outcome()
        self.channels: list[Connection] = []
        self.sent_at: dict[str, float] = {}  # conversation id -> when its submit was sent
        self.offered_at: dict[str, float] = {}  # offers that arrived before the answer did
        self.accepted_at: dict[str, float] = {}  # and assignments (auto-accepted work)
        self.calls: list[Any] = []
        self.tasks: set[asyncio.Task] = set()
        self.work = shared or OpenWork()
        self.offers: set[str] = set()  # offered to this process's desktops, not yet assigned
        self.submit_started = 0.0
        self.last_closed = 0.0  # when the last piece of work was closed here
        self.measure_from = float("inf")  # submits sent before this are the warm-up

    async def run(self) -> Outcome:
        plan = self.plan
        started = time.perf_counter()
        count = max(1, -(-plan.desktops // DESKTOPS_PER_CHANNEL))
        self.channels = [Connection(plan.address) for _ in range(count)]
        await asyncio.gather(*(c.wait_ready(10.0) for c in self.channels))
        agents = [f"{plan.agent_prefix}{plan.first_agent + i}" for i in range(plan.desktops)]
        if plan.provision:
            await self._provision(agents)
        await self._connect_all(agents)
        self.outcome.connect_s = time.perf_counter() - started
        reporter = asyncio.create_task(self._report()) if plan.progress else None
        submit_started = self.submit_started = time.perf_counter()
        self.measure_from = submit_started + plan.warmup_s
        await self._submit_for(plan.duration_s)
        self.outcome.submit_wall_s = time.perf_counter() - submit_started
        self.work.done_submitting()
        # Without desktops nobody will finish the work submitted: nothing to wait for. With
        # them, every process's desktops stay until all work is closed (or the drain ends):
        # another process may still be submitting, and its work may be offered here.
        deadline = time.perf_counter() + (plan.drain_s if plan.desktops else 0.0)
        while not self.work.finished and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)  # the client waiting for its agents, not engine logic
        self.outcome.finish_s = max(0.0, self.last_closed - submit_started)
        self.outcome.wall_s = time.perf_counter() - started
        if reporter is not None:
            reporter.cancel()
        if plan.reconnect:
            await self._reconnect_all(agents)
        for call in self.calls:
            call.cancel()
        for task in list(self.tasks):
            task.cancel()
        for channel in self.channels:
            await channel.close()
        return self.outcome

    # --- agents ----------------------------------------------------------------------

    def _channel(self, i: int) -> Connection:
        return self.channels[i // DESKTOPS_PER_CHANNEL % len(self.channels)]

    async def _provision(self, agents: list[str]) -> None:
        limit = asyncio.Semaphore(200)

        async def upsert(i: int, agent_id: str) -> None:
            async with limit:
                await self._channel(i).admin.UpsertAgent(
                    admin_pb2.UpsertAgentRequest(
                        agent_id=agent_id,
                        capacity=self.plan.capacity,
                        queue_ids=[self.plan.queue],
                    )
                )

        await asyncio.gather(*(upsert(i, a) for i, a in enumerate(agents)))

    async def _connect_all(self, agents: list[str]) -> None:
        ready = [asyncio.Event() for _ in agents]
        for i, agent_id in enumerate(agents):
            self._spawn(self._desktop(i, agent_id, ready[i]))
        await asyncio.gather(*(event.wait() for event in ready))

    async def _reconnect_all(self, agents: list[str]) -> None:
        """Every desktop hangs up, then all reconnect at once (after a network blip, say);
        each must get its first message back."""
        for call in self.calls:
            call.cancel()
        self.calls = []
        await asyncio.sleep(0.2)  # let the server notice the hang-ups
        started = time.perf_counter()
        ready = [asyncio.Event() for _ in agents]
        for i, agent_id in enumerate(agents):
            self._spawn(self._desktop(i, agent_id, ready[i]))
        await asyncio.gather(*(event.wait() for event in ready))
        self.outcome.reconnect_s = time.perf_counter() - started
        failed = sum(v for k, v in self.outcome.errors.items() if k.startswith("desktop stream"))
        self.outcome.reconnect_failed = failed
        self.outcome.reconnected = len(agents) - failed

    async def _desktop(self, i: int, agent_id: str, ready: asyncio.Event) -> None:
        channel = self._channel(i)
        call = channel.desktop.Connect(
            desktop_pb2.ConnectRequest(agent_id=agent_id, presence=common_pb2.PRESENCE_AVAILABLE)
        )
        self.calls.append(call)
        try:
            async for message in call:
                ready.set()
                self.outcome.desktop_messages += 1
                if message.HasField("offer"):
                    self.offers.add(message.offer.conversation.id)
                    self._offered(channel, agent_id, message.offer.conversation.id)
                elif message.HasField("assignment"):
                    cid = message.assignment.conversation.id
                    if cid in self.offers:
                        self.offers.discard(cid)  # what this desktop's AcceptOffer caused
                    else:  # a work stream that auto-accepts: assigned without an offer
                        self._offered(channel, agent_id, cid, accepted=True)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.outcome.errors[f"desktop stream: {exc.code().name}"] += 1
        finally:
            ready.set()

    def _offered(
        self, channel: Connection, agent_id: str, cid: str, *, accepted: bool = False
    ) -> None:
        """Work reached a desktop: offered, or (`accepted`) assigned outright."""
        now = time.perf_counter()
        self.outcome.offered += 1
        sent = self.sent_at.get(cid)
        if sent is None:
            self.offered_at[cid] = now  # the offer beat the submit's answer here
        elif sent >= self.measure_from:
            self.outcome.submit_to_offer_ms.append((now - sent) * 1000)
        if accepted:
            self._accepted(cid, now)
        self._spawn(self._work_on(channel, agent_id, cid, accept=not accepted))

    def _accepted(self, cid: str, now: float) -> None:
        self.outcome.accepted += 1
        sent = self.sent_at.get(cid)
        if sent is None:
            self.accepted_at[cid] = now  # assigned before the submit's answer came back
        elif sent >= self.measure_from:
            self.outcome.submit_to_accepted_ms.append((now - sent) * 1000)

    async def _work_on(self, channel: Connection, agent_id: str, cid: str, accept: bool) -> None:
        desktop = channel.desktop
        try:
            if accept:
                await desktop.AcceptOffer(
                    desktop_pb2.AcceptOfferRequest(agent_id=agent_id, conversation_id=cid)
                )
                self._accepted(cid, time.perf_counter())
            if self.plan.handle_s:
                await asyncio.sleep(self.plan.handle_s)  # the agent talking to the customer
            if self.plan.wrap_s:
                await desktop.EndConversation(
                    desktop_pb2.DesktopEndConversationRequest(
                        agent_id=agent_id, conversation_id=cid
                    )
                )
                await asyncio.sleep(self.plan.wrap_s)  # the agent writing notes
                await desktop.CloseConversation(
                    desktop_pb2.CloseConversationRequest(agent_id=agent_id, conversation_id=cid)
                )
            else:
                # No notes to write: the desktop's "end and close" (one call, one step).
                await desktop.EndConversation(
                    desktop_pb2.DesktopEndConversationRequest(
                        agent_id=agent_id, conversation_id=cid, close=True
                    )
                )
            self.outcome.closed += 1
            self.last_closed = time.perf_counter()
            self.work.add(-1)
        except grpc.aio.AioRpcError as exc:
            self.outcome.errors[f"desktop answer: {exc.code().name}"] += 1

    # --- the gateway -----------------------------------------------------------------

    async def _submit_for(self, seconds: float) -> None:
        plan = self.plan
        end = time.perf_counter() + seconds
        in_flight = asyncio.Semaphore(plan.concurrency)
        if plan.rate <= 0:

            async def worker(w: int) -> None:
                for n in itertools.count():
                    if time.perf_counter() >= end:
                        return
                    await self._submit(self._channel(w * 7 + n))

            await asyncio.gather(*(worker(w) for w in range(plan.concurrency)))
            return
        start = time.perf_counter()
        pending: set[asyncio.Task] = set()
        for n in itertools.count():
            due = start + n / plan.rate
            if due >= end:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the offered load, client side
            if in_flight.locked():
                # The server is not keeping up: say so rather than queue without bound.
                self.outcome.errors["submit skipped: too many in flight"] += 1
                continue

            async def one(channel: Connection) -> None:
                async with in_flight:
                    await self._submit(channel)

            task = asyncio.create_task(one(self._channel(n)))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)

    async def _submit(self, channel: Connection) -> None:
        sent = time.perf_counter()
        try:
            response = await channel.gateway.SubmitWork(
                gateway_pb2.SubmitWorkRequest(
                    work_stream_id=self.plan.stream,
                    customer=common_pb2.Customer(id=f"{self.plan.label}c{self.outcome.submitted}"),
                )
            )
        except grpc.aio.AioRpcError as exc:
            self.outcome.errors[f"submit: {exc.code().name}"] += 1
            return
        answered = time.perf_counter()
        self.outcome.submitted += 1
        self.work.add(1)
        measured = sent >= self.measure_from
        if measured:
            self.outcome.submit_ms.append((answered - sent) * 1000)
        cid = response.conversation_id
        self.sent_at[cid] = sent
        early = self.offered_at.pop(cid, None)
        if early is not None and measured:
            self.outcome.submit_to_offer_ms.append((early - sent) * 1000)
        early = self.accepted_at.pop(cid, None)
        if early is not None and measured:
            self.outcome.submit_to_accepted_ms.append((early - sent) * 1000)

    # --- progress --------------------------------------------------------------------

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _report(self) -> None:
        last, last_at = 0, time.perf_counter()
        while True:
            await asyncio.sleep(1.0)
            o = self.outcome
            now = time.perf_counter()
            rate = (o.submitted - last) / (now - last_at)
            last, last_at = o.submitted, now
            recent = o.submit_to_offer_ms[-2000:]
            print(
                f"{self.plan.label}submitted {o.submitted:,} ({rate:,.0f}/s)  offered "
                f"{o.offered:,}  accepted {o.accepted:,}  closed {o.closed:,}  "
                f"submit->offer {_p50_p99(recent)}  errors {sum(o.errors.values()):,}",
                flush=True,
            )


def _p50_p99(samples: list[float]) -> str:
    if not samples:
        return "p50 - p99 -"  # none measured yet (the warm-up)
    return f"p50 {percentile(samples, 50):.1f} ms p99 {percentile(samples, 99):.1f} ms"


_shared: OpenWork | None = None  # in a child of `--processes N`: the count all share


def share(work: OpenWork) -> None:
    """A child process's set-up: the open-work count of the whole load test."""
    global _shared
    _shared = work


def run_plan(plan: Plan) -> dict[str, Any]:
    """Run one plan in this process (alone, or as a child of `--processes N`)."""
    return asyncio.run(LoadRun(plan, _shared).run()).as_dict()
