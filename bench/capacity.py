"""Capacity benchmark: one server process holding 10,000 agents and 100,000 open conversations.

    python bench/capacity.py [--agents 10000] [--conversations 100000] [--queues 10]
                             [--concurrency 400] [--probes 300] [--out FILE]

What it does, against a real `switchboard serve` child process over a real socket:

1. writes a configuration with one chat work stream routing `context.q == "qK"` to the
   messaging queue qK (fallback q0), and no agents;
2. starts the server (system clock) and times start-up: process start to port file written,
   and to the client channel being ready;
3. provisions the agents with AdminService.UpsertAgent (capacity 2, two queues each),
   `--concurrency` calls in flight at a time, then opens a desktop stream for each of the
   first `--desktops` agents (default: all), signed in as Away so that nothing is offered;
4. submits the conversations with GatewayService.SubmitWork, spread evenly over the queues,
   the same way. No agent ever signs in, so every conversation stays open and waiting;
5. checks the load is really held: ListQueues waiting counts sum to the conversations
   submitted, every conversation sits in the queue its route rule names, ListAgents returns
   every agent, and GetAgent on a sample shows the right queues and capacity;
6. with all that loaded, times `--probes` single SubmitWork calls made one after another
   (p50/p99) and ListQueues / GetQueue / ListAgents;
7. stops the server with SIGTERM and times the shutdown, expecting exit code 0;
8. starts it again on the same journal and times the recovery of everything that was open
   (start to port file: the server answers only once all of it is back), then checks again
   that every conversation is waiting in its queue and every agent is there.

The server's memory (VmRSS and its high-water mark VmHWM from /proc/PID/status) and CPU time
are read after each step. A second, shorter part starts a server whose YAML lists all the
agents, to time start-up with the agents in the configuration (skip it with
`--no-config-startup`).

Any failed call, wrong count or unclean exit makes the script exit with status 1 after
printing what it saw: the figures are only worth something if the load was really held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import grpc
from switchboard.clients.connection import Connection
from switchboard.clients.server_process import ServerProcess
from switchboard.v1 import admin_pb2, common_pb2, desktop_pb2, gateway_pb2, supervisor_pb2

AGENT_CAPACITY = 2
STREAM_ID = "chat"
STOP_TIMEOUT_S = 120.0  # generous, so that a slow shutdown is measured rather than killed
DEFAULT_STOP_TIMEOUT_S = 15.0  # what ServerProcess.stop() allows by default
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchFailure(RuntimeError):
    """The server did not hold the load (a call failed, a count is wrong, a dirty exit)."""


# --- the configuration -----------------------------------------------------------------


def queue_ids(count: int) -> list[str]:
    return [f"q{k}" for k in range(count)]


def agent_id(i: int) -> str:
    return f"agent-{i:05d}"


def agent_queues(i: int, queues: list[str]) -> list[str]:
    """Two queues per agent (one when there is only one queue), spread evenly."""
    first = queues[i % len(queues)]
    second = queues[(i + 1) % len(queues)]
    return [first] if first == second else [first, second]


def agent_skills(i: int) -> dict[str, int]:
    return {"english": 1 + i % 10, "billing": i % 7}


def config_yaml(queues: list[str], agents: int = 0) -> str:
    lines = [
        "# Written by bench/capacity.py: one chat work stream routed by context.q.",
        "settings:",
        f"  default_agent_capacity: {AGENT_CAPACITY}",
        "work_streams:",
        f"  - id: {STREAM_ID}",
        "    channel: chat",
        "    mode: push",
        "    route:",
    ]
    lines += [
        f"      - {{name: to-{q}, when: 'context.q == \"{q}\"', queue: {q}}}" for q in queues[1:]
    ]
    if len(queues) == 1:
        lines[-1] = "    route: []"
    lines += [f"    fallback_queue: {queues[0]}", "queues:"]
    lines += [f"  - {{id: {q}, type: messaging, method: highest_capacity}}" for q in queues]
    if agents:
        lines.append("agents:")
        for i in range(agents):
            skills = ", ".join(f"{k}: {v}" for k, v in agent_skills(i).items())
            lines.append(
                f"  - {{id: {agent_id(i)}, capacity: {AGENT_CAPACITY}, "
                f"skills: {{{skills}}}, queues: [{', '.join(agent_queues(i, queues))}]}}"
            )
    return "\n".join(lines) + "\n"


# --- measuring the server process ------------------------------------------------------


def memory_of(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of a process, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024  # kB -> MiB
    return {"rss_mib": round(fields["VmRSS"], 1), "peak_rss_mib": round(fields["VmHWM"], 1)}


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of `values` (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


class Phase:
    """Wall time, server CPU time and server memory around one step."""

    def __init__(self, server: ServerProcess, name: str, figures: dict[str, Any]) -> None:
        self.server = server
        self.name = name
        self.figures = figures

    def __enter__(self) -> dict[str, Any]:
        self.cpu = cpu_seconds_of(self.server.pid)
        self.started = time.perf_counter()
        self.result: dict[str, Any] = {}
        return self.result

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.started
        if exc[0] is not None:
            return
        self.result["wall_s"] = round(wall, 3)
        self.result["server_cpu_s"] = round(cpu_seconds_of(self.server.pid) - self.cpu, 2)
        self.result["memory_after"] = memory_of(self.server.pid)
        self.figures[self.name] = self.result


# --- driving the server ----------------------------------------------------------------


class Progress:
    """Reports every tenth of a step with the rate of that tenth, so that a rate that falls
    as the server fills up shows at once; gives up once the step exceeds its time budget."""

    def __init__(self, what: str, total: int, budget_s: float, pid: int) -> None:
        self.what = what
        self.total = total
        self.budget_s = budget_s
        self.pid = pid
        self.every = max(1, total // 10)
        self.done = 0
        self.started = self.mark = time.perf_counter()
        self.slices: list[dict[str, Any]] = []

    def tick(self) -> None:
        self.done += 1
        if self.done % self.every and self.done != self.total:
            return
        now = time.perf_counter()
        count = self.done - sum(s["calls"] for s in self.slices)
        rate = count / (now - self.mark) if now > self.mark else 0.0
        self.mark = now
        rss = memory_of(self.pid)["rss_mib"]
        self.slices.append(
            {"upto": self.done, "calls": count, "per_s": round(rate), "rss_mib": rss}
        )
        step(
            f"  {self.what}: {self.done:,}/{self.total:,}, {rate:,.0f}/s in the last "
            f"{count:,}; server RSS {rss:.0f} MiB"
        )
        if now - self.started > self.budget_s and self.done < self.total:
            raise BenchFailure(
                f"{self.what}: only {self.done:,} of {self.total:,} after "
                f"{now - self.started:.0f} s (budget {self.budget_s:g} s); rates by tenth: "
                + ", ".join(f"{s['per_s']}/s" for s in self.slices)
            )


async def run_all(
    calls: Iterable[Callable[[], Any]],
    concurrency: int,
    on_result: Callable[[Any], None],
    progress: Progress,
) -> Counter[str]:
    """Run the calls with at most `concurrency` in flight; count failures by status code."""
    errors: Counter[str] = Counter()
    pending = iter(calls)

    async def worker() -> None:
        for call in pending:  # the iterator is shared: each call is taken by one worker
            try:
                on_result(await call())
            except grpc.aio.AioRpcError as exc:
                errors[f"{exc.code().name}: {exc.details()}"] += 1
            progress.tick()

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
    return errors


def check_no_errors(step: str, errors: Counter[str]) -> None:
    if errors:
        listed = "; ".join(f"{n} x {what}" for what, n in errors.most_common(5))
        raise BenchFailure(f"{step}: {sum(errors.values())} call(s) failed: {listed}")


async def provision_agents(
    conn: Connection, count: int, queues: list[str], concurrency: int, progress: Progress
) -> dict[str, Any]:
    created = 0

    def count_created(response: admin_pb2.UpsertAgentResponse) -> None:
        nonlocal created
        created += response.created

    def upsert(i: int) -> Callable[[], Any]:
        request = admin_pb2.UpsertAgentRequest(
            agent_id=agent_id(i),
            name=f"Agent {i}",
            capacity=AGENT_CAPACITY,
            skills=agent_skills(i),
            queue_ids=agent_queues(i, queues),
        )
        return lambda: conn.admin.UpsertAgent(request)

    started = time.perf_counter()
    errors = await run_all((upsert(i) for i in range(count)), concurrency, count_created, progress)
    elapsed = time.perf_counter() - started
    check_no_errors("UpsertAgent", errors)
    if created != count:
        raise BenchFailure(f"UpsertAgent: {created} of {count} agents reported as created")
    return {"agents": count, "calls_per_s": round(count / elapsed), "by_tenth": progress.slices}


# One client process holds at most this many desktop streams, opened 200 at a time: when
# thousands of streams are opened in one burst, some are cancelled before they reach the
# server (the bare grpc.aio transport does the same; see bench/README.md).
STREAMS_PER_PROCESS = 1_000


def _hold_desktops(address: str, first: int, count: int, ready: Any, stop: Any) -> None:
    """A child process: open `count` desktop streams (agents `first`.., Away), report how
    many got their first message, and keep them open until told to stop."""

    async def hold() -> None:
        channels = [Connection(address) for _ in range(max(1, -(-count // 100)))]
        for channel in channels:
            await channel.wait_ready(60.0)

        async def first_message(call: Any) -> bool:
            try:
                await call.read()
            except grpc.aio.AioRpcError:
                return False
            return True

        def connect(i: int) -> Any:
            return channels[i // 100].desktop.Connect(
                desktop_pb2.ConnectRequest(
                    agent_id=agent_id(first + i), presence=common_pb2.PRESENCE_AWAY
                )
            )

        # In batches, and a stream cancelled in the burst tries again, as a desktop would
        # (see STREAMS_PER_PROCESS); `retries` says how often that was needed.
        calls: dict[int, Any] = {}
        retries = 0
        for start in range(0, count, 200):
            todo = list(range(start, min(count, start + 200)))
            for _attempt in range(5):
                batch = {i: connect(i) for i in todo}
                results = await asyncio.gather(*(first_message(c) for c in batch.values()))
                calls.update(batch)
                todo = [i for i, ok in zip(batch, results, strict=True) if not ok]
                if not todo:
                    break
                retries += len(todo)
        ready.put((count - len(todo), retries))
        while not stop.is_set():
            await asyncio.sleep(0.2)  # a client process idling with its streams open
        for call in calls.values():
            call.cancel()
        for channel in channels:
            await channel.close()

    asyncio.run(hold())


def connect_desktops(address: str, count: int) -> tuple[list[Any], Any, int]:
    """Open a desktop stream for each of the first `count` agents, signed in as Away (so
    nothing is offered and every conversation stays waiting), from child processes of
    STREAMS_PER_PROCESS streams each; returns the processes, their stop event and how many
    streams opened."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    processes = []
    for first in range(0, count, STREAMS_PER_PROCESS):
        size = min(STREAMS_PER_PROCESS, count - first)
        process = context.Process(
            target=_hold_desktops, args=(address, first, size, ready, stop), daemon=True
        )
        process.start()
        processes.append(process)
    reports = [ready.get(timeout=300) for _ in processes]
    return processes, stop, (sum(r[0] for r in reports), sum(r[1] for r in reports))


async def connected_count(conn: Connection) -> int:
    listing = await conn.supervisor.ListAgents(supervisor_pb2.ListAgentsRequest())
    return sum(agent.connected for agent in listing.agents)


def submit_request(j: int, queues: list[str]) -> gateway_pb2.SubmitWorkRequest:
    return gateway_pb2.SubmitWorkRequest(
        work_stream_id=STREAM_ID,
        customer=common_pb2.Customer(id=f"customer-{j}"),
        context={"q": queues[j % len(queues)], "language": "en"},
    )


async def submit_conversations(
    conn: Connection,
    count: int,
    queues: list[str],
    concurrency: int,
    progress: Progress,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Submit `count` conversations; returns figures and conversation id -> queue id."""
    placed: dict[str, str] = {}
    wrong_queue = 0

    def submit(j: int) -> Callable[[], Any]:
        request = submit_request(j, queues)
        expected = queues[j % len(queues)]

        async def call() -> tuple[gateway_pb2.SubmitWorkResponse, str]:
            return await conn.gateway.SubmitWork(request), expected

        return call

    def record(result: tuple[gateway_pb2.SubmitWorkResponse, str]) -> None:
        nonlocal wrong_queue
        response, expected = result
        placed[response.conversation_id] = response.queue_id
        wrong_queue += response.queue_id != expected

    started = time.perf_counter()
    errors = await run_all((submit(j) for j in range(count)), concurrency, record, progress)
    elapsed = time.perf_counter() - started
    check_no_errors("SubmitWork", errors)
    if wrong_queue:
        raise BenchFailure(f"SubmitWork: {wrong_queue} conversation(s) routed to the wrong queue")
    if len(placed) != count:
        raise BenchFailure(
            f"SubmitWork: {len(placed)} distinct conversation ids for {count} submits"
        )
    figures = {
        "conversations": count,
        "submits_per_s": round(count / elapsed),
        "by_tenth": progress.slices,
    }
    return figures, placed


async def timed(make_call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await make_call()
    return result, time.perf_counter() - started


async def verify_load(
    conn: Connection, placed: dict[str, str], agents: int, queues: list[str]
) -> dict[str, Any]:
    """Everything submitted is waiting where it was routed; every agent is there."""
    listing, list_queues_s = await timed(
        lambda: conn.supervisor.ListQueues(supervisor_pb2.ListQueuesRequest())
    )
    waiting = {q.queue_id: list(q.waiting_ids) for q in listing.queues}
    total = sum(len(ids) for ids in waiting.values())
    if total != len(placed):
        raise BenchFailure(f"ListQueues: {total} conversations waiting, {len(placed)} submitted")
    misplaced = sum(placed.get(cid) != qid for qid, ids in waiting.items() for cid in ids)
    if misplaced:
        raise BenchFailure(f"ListQueues: {misplaced} waiting conversations not in their queue")
    members = {q.queue_id: len(q.member_ids) for q in listing.queues}
    expected_members = Counter(q for i in range(agents) for q in agent_queues(i, queues))
    if members != dict(expected_members) and agents:
        raise BenchFailure(
            f"ListQueues: members per queue {members}, expected {dict(expected_members)}"
        )

    agent_list, list_agents_s = await timed(
        lambda: conn.supervisor.ListAgents(supervisor_pb2.ListAgentsRequest())
    )
    if len(agent_list.agents) != agents:
        raise BenchFailure(f"ListAgents: {len(agent_list.agents)} agents, expected {agents}")
    sample = sorted({0, agents // 2, agents - 1}) if agents else []
    for i in sample:
        status = (
            await conn.supervisor.GetAgent(supervisor_pb2.GetAgentRequest(agent_id=agent_id(i)))
        ).agent
        if (
            list(status.queue_ids) != agent_queues(i, queues)
            or status.capacity_total != AGENT_CAPACITY
            or status.capacity_used != 0
            or dict(status.skills) != agent_skills(i)
        ):
            raise BenchFailure(f"GetAgent {agent_id(i)}: unexpected status {status}")
    return {
        "waiting_total": total,
        "waiting_per_queue": {q: len(ids) for q, ids in sorted(waiting.items())},
        "agents_listed": len(agent_list.agents),
        "first_list_queues_s": round(list_queues_s, 3),
        "first_list_agents_s": round(list_agents_s, 3),
        "list_queues_bytes": listing.ByteSize(),
    }


async def probe_latency(
    conn: Connection, probes: int, queues: list[str], first: int, placed: dict[str, str]
) -> dict[str, Any]:
    """`probes` SubmitWork calls one at a time, with everything loaded (added to `placed`:
    they stay open too)."""
    latencies = []
    for j in range(first, first + probes):
        request = submit_request(j, queues)
        started = time.perf_counter()
        response = await conn.gateway.SubmitWork(request)
        latencies.append((time.perf_counter() - started) * 1000)
        placed[response.conversation_id] = response.queue_id
    return {
        "calls": probes,
        "p50_ms": round(percentile(latencies, 50), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "max_ms": round(max(latencies), 3),
        "mean_ms": round(statistics.fmean(latencies), 3),
    }


async def read_latency(conn: Connection, repeats: int = 3) -> dict[str, Any]:
    """Median of `repeats` timings of the read-only views, loaded."""

    async def median_of(make_call: Callable[[], Any]) -> float:
        times = [(await timed(make_call))[1] for _ in range(repeats)]
        return round(statistics.median(times) * 1000, 1)

    return {
        "list_queues_ms": await median_of(
            lambda: conn.supervisor.ListQueues(supervisor_pb2.ListQueuesRequest())
        ),
        "get_queue_ms": await median_of(
            lambda: conn.supervisor.GetQueue(supervisor_pb2.GetQueueRequest(queue_id="q0"))
        ),
        "list_agents_ms": await median_of(
            lambda: conn.supervisor.ListAgents(supervisor_pb2.ListAgentsRequest())
        ),
        "repeats": repeats,
    }


# --- one run ---------------------------------------------------------------------------


async def start_server(
    config: Path, figures: dict[str, Any], key: str, manual_clock: bool
) -> tuple[ServerProcess, Connection]:
    server = ServerProcess(str(config), manual_clock=manual_clock, log_level="warning")
    started = time.perf_counter()
    await asyncio.to_thread(server.start, 300.0)
    listening = time.perf_counter() - started
    conn = Connection(server.address)
    await conn.wait_ready(60.0)
    ready = time.perf_counter() - started
    figures[key] = {
        "to_port_file_s": round(listening, 3),
        "to_channel_ready_s": round(ready, 3),
        "server_cpu_s": round(cpu_seconds_of(server.pid), 2),
        "memory_after": memory_of(server.pid),
    }
    return server, conn


def stop_server(server: ServerProcess, figures: dict[str, Any], key: str) -> None:
    before = memory_of(server.pid)
    started = time.perf_counter()
    code = server.stop(STOP_TIMEOUT_S)
    figures[key] = {
        "wall_s": round(time.perf_counter() - started, 3),
        "exit_code": code,
        "memory_before": before,
    }
    if code != 0:
        raise BenchFailure(f"the server exited with {code} on SIGTERM; log: {server.log_path}")
    if figures[key]["wall_s"] > DEFAULT_STOP_TIMEOUT_S:
        raise BenchFailure(
            f"shutdown took {figures[key]['wall_s']:.1f} s, more than the "
            f"{DEFAULT_STOP_TIMEOUT_S:g} s ServerProcess.stop() allows by default"
        )


def server_log(server: ServerProcess) -> dict[str, Any]:
    """What the server logged at warning level or above (the listening line aside)."""
    lines = [
        line
        for line in server.log_path.read_text(errors="replace").splitlines()
        if line.strip() and not line.startswith("switchboard listening on")
    ]
    return {"lines": len(lines), "first": lines[:5]}


async def main_run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    queues = queue_ids(args.queues)
    figures: dict[str, Any] = {}
    config = workdir / "capacity.yaml"
    config.write_text(config_yaml(queues))

    server, conn = await start_server(config, figures, "startup", args.manual_clock)
    figures["server_pid"] = server.pid
    try:
        step(
            f"server up in {figures['startup']['to_channel_ready_s']:.2f} s "
            f"(pid {server.pid}); provisioning {args.agents} agents"
        )
        with Phase(server, "agents", figures) as result:
            progress = Progress("agents", args.agents, args.step_budget, server.pid)
            result.update(
                await provision_agents(conn, args.agents, queues, args.concurrency, progress)
            )
        holders: list[Any] = []
        stop_holding = None
        if args.desktops:
            step(f"connecting {args.desktops} desktop streams (Away)")
            with Phase(server, "desktops", figures) as result:
                holders, stop_holding, (opened, retried) = await asyncio.to_thread(
                    connect_desktops, server.address, args.desktops
                )
                result["opened"] = opened
                result["streams_retried"] = retried
                result["connected"] = await connected_count(conn)
            if figures["desktops"]["connected"] != args.desktops:
                raise BenchFailure(
                    f"{figures['desktops']['connected']} desktops connected, not {args.desktops}"
                )
        step(
            f"agents in {figures['agents']['wall_s']:.1f} s; "
            f"submitting {args.conversations} conversations"
        )
        with Phase(server, "conversations", figures) as result:
            progress = Progress("conversations", args.conversations, args.step_budget, server.pid)
            counts, placed = await submit_conversations(
                conn, args.conversations, queues, args.concurrency, progress
            )
            result.update(counts)
        step(f"conversations in {figures['conversations']['wall_s']:.1f} s; settling")
        with Phase(server, "settle", figures):
            await conn.admin.AdvanceClock(admin_pb2.AdvanceClockRequest())
        step("verifying queues and agents")
        with Phase(server, "verify", figures) as result:
            result.update(await verify_load(conn, placed, args.agents, queues))
        step(f"load verified; {args.probes} single SubmitWork calls and read timings")
        with Phase(server, "probe_submit", figures) as result:
            result.update(
                await probe_latency(conn, args.probes, queues, args.conversations, placed)
            )
        with Phase(server, "reads", figures) as result:
            result.update(await read_latency(conn))
        if args.desktops:
            still = await connected_count(conn)
            figures["desktops"]["still_connected_at_the_end"] = still
            figures["desktops"]["rss_with_everything_mib"] = memory_of(server.pid)["rss_mib"]
            if still != args.desktops:
                raise BenchFailure(f"only {still} of {args.desktops} desktops still connected")
            stop_holding.set()
            for process in holders:
                await asyncio.to_thread(process.join, 30)
        figures["server_total_cpu_s"] = round(cpu_seconds_of(server.pid), 2)
        await conn.close()
        step("stopping the server (SIGTERM)")
        stop_server(server, figures, "shutdown")
        step("restarting on the same journal (recovery)")
        started = time.perf_counter()
        await asyncio.to_thread(server.start, 600.0)
        listening = time.perf_counter() - started
        conn = Connection(server.address)
        await conn.wait_ready(60.0)
        figures["recovery"] = {
            "to_port_file_s": round(listening, 3),
            "to_channel_ready_s": round(time.perf_counter() - started, 3),
            "server_cpu_s": round(cpu_seconds_of(server.pid), 2),
            "memory_after": memory_of(server.pid),
        }
        figures["recovery"].update(await verify_load(conn, placed, args.agents, queues))
        await conn.close()
        stop_server(server, figures, "shutdown_after_recovery")
    finally:
        server.kill()
        figures["server_log"] = server_log(server)
    if figures["server_log"]["lines"]:
        step(f"the server logged {figures['server_log']['lines']} warning/error line(s)")
    return figures


async def config_startup_run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Start-up of a server whose YAML lists every agent."""
    queues = queue_ids(args.queues)
    config = workdir / "capacity-with-agents.yaml"
    config.write_text(config_yaml(queues, args.agents))
    from switchboard.server.config import load_config

    started = time.perf_counter()
    load_config(config)
    parse_s = time.perf_counter() - started
    figures: dict[str, Any] = {}
    step(f"config start-up: a YAML of {args.agents} agents ({config.stat().st_size // 1024} KiB)")
    server, conn = await start_server(config, figures, "startup", args.manual_clock)
    try:
        listing = await conn.supervisor.ListAgents(supervisor_pb2.ListAgentsRequest())
        if len(listing.agents) != args.agents:
            raise BenchFailure(f"config start-up: {len(listing.agents)} agents, not {args.agents}")
        await conn.close()
        stop_server(server, figures, "shutdown")
    finally:
        server.kill()
    figures["startup"]["config_parse_in_client_s"] = round(parse_s, 3)
    figures["config_kib"] = config.stat().st_size // 1024
    figures["server_log"] = server_log(server)
    return figures


def step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- the machine and the report --------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    versions = {}
    for package in ("grpcio", "protobuf", "pykka", "common-expression-language"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        **versions,
    }


def code_version() -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent

    def git(*argv: str) -> str:
        try:
            return subprocess.run(
                ["git", *argv], cwd=root, capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(git("status", "--porcelain")),
    }


def table(result: dict[str, Any]) -> str:
    p = result["params"]
    f = result["figures"]
    rows: list[tuple[str, str]] = []

    def mem(part: dict[str, Any]) -> str:
        m = part["memory_after"]
        return f"RSS {m['rss_mib']:.0f} MiB, peak {m['peak_rss_mib']:.0f} MiB"

    s, a, c = f["startup"], f["agents"], f["conversations"]
    rows.append(
        (
            "start-up (empty config)",
            f"{s['to_port_file_s']:.2f} s to port file, {s['to_channel_ready_s']:.2f} s to "
            f"channel ready; {mem(s)}",
        )
    )
    rows.append(
        (
            f"{p['agents']:,} agents (UpsertAgent)",
            f"{a['wall_s']:.2f} s, {a['calls_per_s']:,}/s; "
            f"server CPU {a['server_cpu_s']:.1f} s; "
            f"{mem(a)}",
        )
    )
    per_submit = c["server_cpu_s"] / c["conversations"] * 1e6 if c["conversations"] else 0
    rows.append(
        (
            f"{p['conversations']:,} conversations (SubmitWork)",
            f"{c['wall_s']:.2f} s, {c['submits_per_s']:,}/s; "
            f"server CPU {c['server_cpu_s']:.1f} s "
            f"({per_submit:.0f} µs/submit); {mem(c)}",
        )
    )
    if "desktops" in f:
        d = f["desktops"]
        rows.append(
            (
                f"{d['connected']:,} desktop streams open (Away)",
                f"connected in {d['wall_s']:.2f} s ({d['streams_retried']} retried); all "
                f"{d['still_connected_at_the_end']:,} "
                f"still open after the submits; RSS with everything "
                f"{d['rss_with_everything_mib']:.0f} MiB",
            )
        )
    rows.append(("settle after submits", f"{f['settle']['wall_s']:.3f} s"))
    v = f["verify"]
    rows.append(
        (
            "held (ListQueues / ListAgents)",
            f"{v['waiting_total']:,} waiting in {p['queues']} queues, "
            f"{v['agents_listed']:,} agents; "
            f"{mem(f['verify'])}",
        )
    )
    pr = f["probe_submit"]
    rows.append(
        (
            f"SubmitWork one at a time, loaded (n={pr['calls']})",
            f"p50 {pr['p50_ms']:.2f} ms, p99 {pr['p99_ms']:.2f} ms, max {pr['max_ms']:.2f} ms",
        )
    )
    r = f["reads"]
    rows.append(
        (
            f"reads, loaded (median of {r['repeats']})",
            f"ListQueues {r['list_queues_ms']:.0f} ms "
            f"({v['list_queues_bytes'] / 1e6:.1f} MB), "
            f"GetQueue {r['get_queue_ms']:.0f} ms, ListAgents {r['list_agents_ms']:.0f} ms",
        )
    )
    sh = f["shutdown"]
    rows.append(
        (
            "shutdown (SIGTERM)",
            f"{sh['wall_s']:.2f} s, exit code {sh['exit_code']}; "
            f"peak RSS over the run {sh['memory_before']['peak_rss_mib']:.0f} MiB",
        )
    )
    rows.append(("server CPU, whole run", f"{f['server_total_cpu_s']:.1f} s"))
    if "recovery" in f:
        rc = f["recovery"]
        rows.append(
            (
                "restart on the journal (recovery)",
                f"{rc['to_port_file_s']:.2f} s to port file with {rc['waiting_total']:,} "
                f"open conversations (the probe submits included) and "
                f"{rc['agents_listed']:,} agents back; {mem(rc)}",
            )
        )
    if "config_startup" in result:
        cs = result["config_startup"]
        st = cs["startup"]
        rows.append(
            (
                f"start-up, {p['agents']:,} agents in YAML ({cs['config_kib']} KiB)",
                f"{st['to_port_file_s']:.2f} s to port file (YAML parse alone "
                f"{st['config_parse_in_client_s']:.2f} s); {mem(st)}; "
                f"shutdown {cs['shutdown']['wall_s']:.2f} s",
            )
        )
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    rule = "-" * max(len(line) for line in lines)
    return "\n".join([rule, *lines, rule])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Capacity: one server holding N agents and M open conversations."
    )
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument(
        "--desktops",
        type=int,
        default=None,
        help="desktop streams held open, Away (default: one per agent; 0 for none)",
    )
    parser.add_argument("--queues", type=int, default=10)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=400,
        help="calls in flight at a time while provisioning and submitting",
    )
    parser.add_argument(
        "--probes",
        type=int,
        default=300,
        help="single SubmitWork calls timed one at a time, loaded",
    )
    parser.add_argument(
        "--step-budget",
        type=float,
        default=600.0,
        help="give up (and fail) when provisioning or submitting takes longer "
        "than this many seconds [%(default)s]",
    )
    parser.add_argument(
        "--manual-clock",
        action="store_true",
        help="run the server on a manual clock (default: the system clock)",
    )
    parser.add_argument(
        "--no-config-startup",
        dest="config_startup",
        action="store_false",
        help="skip the start-up with every agent listed in the YAML",
    )
    parser.add_argument("--out", help="write the figures here as JSON")
    args = parser.parse_args(argv)
    if args.desktops is None:
        args.desktops = args.agents
    if args.desktops > args.agents:
        parser.error("--desktops cannot exceed --agents (each desktop signs one agent in)")
    if args.agents < 0 or args.conversations < 0 or args.queues < 1 or args.concurrency < 1:
        parser.error("counts must not be negative, and --queues and --concurrency at least 1")

    result: dict[str, Any] = {
        "benchmark": "capacity",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": {
            k: getattr(args, k)
            for k in (
                "agents",
                "conversations",
                "queues",
                "concurrency",
                "probes",
                "manual_clock",
                "step_budget",
            )
        },
        "machine": machine(),
        "code": code_version(),
    }
    try:
        with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
            result["figures"] = asyncio.run(main_run(args, Path(tmp)))
            if args.config_startup and args.agents:
                result["config_startup"] = asyncio.run(config_startup_run(args, Path(tmp)))
    except BenchFailure as exc:
        print(f"capacity: FAILED: {exc}", file=sys.stderr)
        return 1
    result["ok"] = True
    print(table(result))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
