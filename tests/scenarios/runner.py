"""Plays a behaviour scenario (../shared/scenarios/*.yaml) through a real server.

The scenario's centre becomes a Switchboard configuration (loaded by the real loader), each
agent gets a real desktop stream, and the timeline is driven on the server's manual clock.
After every instant the runner waits until the engine has settled and every message it
pushed has reached the desktops, then checks the expectations through the public API.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml
from switchboard.clients.connection import Connection, Desktop, settle
from switchboard.server.translate import timestamp
from switchboard.v1 import admin_pb2, common_pb2, gateway_pb2, supervisor_pb2

CHANNEL_QUEUE_TYPE = {"voice": "voice", "email": "record", "record": "record"}


class Unsupported(Exception):
    """The scenario uses something Switchboard cannot express yet."""


def presence_value(name: str) -> int:
    return common_pb2.Presence.Value(f"PRESENCE_{name.upper()}")


def state_name(value: int) -> str:
    return common_pb2.ConversationState.Name(value).removeprefix("CONVERSATION_STATE_").lower()


def config_of(centre: dict) -> str:
    """The scenario's centre as Switchboard YAML."""
    queue_types: dict[str, str] = {}
    streams = []
    for s in centre.get("streams", []):
        stream = {
            "id": s["id"],
            "channel": s["channel"],
            "mode": s.get("mode", "push"),
            "fallback_queue": s["route"],
        }
        if "profile" in s:
            stream["capacity_profile"] = s["profile"]
        else:
            stream["cost"] = s.get("cost", 1)
        for key, target in [
            ("skill_matching", "skill_matching"),
            ("offer_timeout_s", "offer_timeout_s"),
            ("auto_accept", "auto_accept"),
            ("wrapup", "wrap_up"),
        ]:
            if key in s:
                stream[target] = s[key]
        streams.append(stream)
        queue_types[s["route"]] = CHANNEL_QUEUE_TYPE.get(s["channel"], "messaging")
    queues = []
    for q in centre.get("queues", []):
        queue = {
            "id": q["id"],
            "priority": q.get("priority", 1),
            "method": q.get("method"),
            "members": q.get("members", []),
            "type": queue_types.get(q["id"], "messaging"),
        }
        for extra in ("overflow", "hours"):
            if extra in q:
                queue[extra] = q[extra]
        queues.append(queue)
    agents = []
    for a in centre.get("agents", []):
        agent = {"id": a["id"], "capacity": a.get("capacity", 1), "skills": a.get("skills", {})}
        if "profiles" in a:
            agent["capacity_profiles"] = a["profiles"]
        agents.append(agent)
    config = {"work_streams": streams, "queues": queues, "agents": agents}
    if "profiles" in centre:
        config["capacity_profiles"] = centre["profiles"]
    return yaml.safe_dump(config, sort_keys=False)


@dataclass
class Outcome:
    kind: str
    ok: bool
    code: grpc.StatusCode | None = None
    detail: str = ""


@dataclass
class ScenarioRun:
    path: Path
    connection: Connection
    desktops: dict[str, Desktop] = field(default_factory=dict)
    items: dict[str, str] = field(default_factory=dict)  # scenario item -> conversation id

    @property
    def data(self) -> dict:
        return yaml.safe_load(self.path.read_text())

    # --- actions ---------------------------------------------------------------------

    async def act(self, kind: str, args: dict) -> Outcome:
        try:
            await self._act(kind, args)
        except grpc.aio.AioRpcError as exc:
            return Outcome(kind, False, exc.code(), exc.details() or "")
        return Outcome(kind, True)

    async def _act(self, kind: str, args: dict) -> None:
        match kind:
            case "signin":
                desktop = Desktop(self.connection, args["agent"])
                self.desktops[args["agent"]] = desktop
                await desktop.connect(presence_value(args.get("presence", "available")))
            case "presence":
                await self.desktops[args["agent"]].set_presence(presence_value(args["presence"]))
            case "submit":
                request = gateway_pb2.SubmitWorkRequest(
                    work_stream_id=args["stream"],
                    priority=args.get("priority", 0),
                    required_skills=args.get("skills", {}),
                    context={k: str(v) for k, v in (args.get("context") or {}).items()},
                    customer=common_pb2.Customer(id=f"customer-{args['id']}"),
                )
                response = await self.connection.gateway.SubmitWork(request)
                self.items[args["id"]] = response.conversation_id
            case "accept" | "reject" | "end" | "close":
                desktop = self.desktops[args["agent"]]
                await getattr(desktop, kind)(self.items[args["item"]])
            case "take":
                await self.desktops[args["agent"]].take(self.items[args["item"]])
            case "abandon":
                await self.connection.gateway.AbandonConversation(
                    gateway_pb2.AbandonConversationRequest(conversation_id=self.items[args["item"]])
                )
            case "advance":
                pass  # the clock is moved to the step's t before every step
            case _:
                raise Unsupported(f"unknown action {kind!r}")

    # --- checks ----------------------------------------------------------------------

    async def conversation(self, item: str) -> common_pb2.Conversation:
        response = await self.connection.gateway.GetConversation(
            gateway_pb2.GetConversationRequest(conversation_id=self.items[item])
        )
        return response.conversation

    async def agent(self, agent_id: str) -> Any:
        response = await self.connection.supervisor.GetAgent(
            supervisor_pb2.GetAgentRequest(agent_id=agent_id)
        )
        return response.agent

    async def waiting(self, queue_id: str) -> list[str]:
        response = await self.connection.supervisor.GetQueue(
            supervisor_pb2.GetQueueRequest(queue_id=queue_id)
        )
        names = {cid: item for item, cid in self.items.items()}
        return [names.get(cid, cid) for cid in response.queue.waiting_ids]

    def desktop_saw(self, agent_id: str, item: str) -> bool:
        desktop = self.desktops.get(agent_id)
        cid = self.items[item]
        return desktop is not None and any(
            (m.HasField("offer") and m.offer.conversation.id == cid)
            or (m.HasField("assignment") and m.assignment.conversation.id == cid)
            for m in desktop.messages
        )

    async def check(self, expectation: dict, outcomes: list[Outcome], where: str) -> None:
        ((kind, args),) = expectation.items()
        match kind:
            case "offered":
                c = await self.conversation(args["item"])
                assert c.agent_id == args["agent"], (
                    f"{where}: {args['item']} is with {c.agent_id or 'nobody'} ({state_name(c.state)}), expected offered to {args['agent']}"
                )
                assert self.desktop_saw(args["agent"], args["item"]), (
                    f"{where}: desktop of {args['agent']} never got {args['item']}"
                )
            case "not_offered":
                c = await self.conversation(args["item"])
                assert c.agent_id != args["agent"], (
                    f"{where}: {args['item']} is offered to/held by {args['agent']}"
                )
            case "holds":
                a = await self.agent(args["agent"])
                held = sorted(self._name(cid) for cid in a.conversation_ids)
                assert held == sorted(args["items"]), (
                    f"{where}: {args['agent']} holds {held}, expected {sorted(args['items'])}"
                )
            case "holds_at_most":
                a = await self.agent(args["agent"])
                assert len(a.conversation_ids) <= args["count"], (
                    f"{where}: {args['agent']} holds {len(a.conversation_ids)}"
                )
            case "waiting":
                got = await self.waiting(args["queue"])
                assert got == args["items"], (
                    f"{where}: queue {args['queue']} has {got}, expected {args['items']}"
                )
            case "waiting_count":
                got = await self.waiting(args["queue"])
                assert len(got) == args["count"], (
                    f"{where}: queue {args['queue']} has {len(got)} waiting: {got}"
                )
            case "state":
                c = await self.conversation(args["item"])
                assert state_name(c.state) == args["state"], (
                    f"{where}: {args['item']} is {state_name(c.state)}, expected {args['state']}"
                )
            case "presence":
                a = await self.agent(args["agent"])
                got = common_pb2.Presence.Name(a.presence).removeprefix("PRESENCE_").lower()
                assert got == args["presence"], (
                    f"{where}: {args['agent']} is {got}, expected {args['presence']}"
                )
            case "error":
                failed = [o for o in outcomes if o.kind == args["step_action"]]
                assert failed and all(not o.ok for o in failed), (
                    f"{where}: {args['step_action']} did not fail: {outcomes}"
                )
                assert all(o.code and o.code.name == args["code"] for o in failed), (
                    f"{where}: got {[o.code for o in failed]}"
                )
            case "one_of":
                chosen = [o for o in outcomes if o.kind in args["actions"]]
                ok = [o for o in chosen if o.ok]
                assert len(ok) == args["ok"], (
                    f"{where}: {len(ok)} of {len(chosen)} succeeded: {chosen}"
                )
                assert all(
                    o.code and o.code.name == args["failed_code"] for o in chosen if not o.ok
                )
            case _:
                raise Unsupported(f"unknown expectation {kind!r}")

    def _name(self, cid: str) -> str:
        return next((item for item, c in self.items.items() if c == cid), cid)


async def play(path: Path, harness: Any) -> None:
    data = yaml.safe_load(path.read_text())
    connection = await harness.start(config_of(data["centre"]), manual_clock=True)
    run = ScenarioRun(path, connection)
    steps = data["steps"]
    instants: dict[float, list[dict]] = {}
    for step in steps:
        instants.setdefault(float(step["t"]), []).append(step)
    for t in sorted(instants):
        group = instants[t]
        await settle(connection, list(run.desktops.values()), to=timestamp(t))
        actions = []
        for step in group:
            (kind,) = [k for k in step if k not in ("t", "expect")]
            actions.append(run.act(kind, step[kind] or {}))
        outcomes = await asyncio.gather(*actions)
        for outcome in outcomes:
            expected_error = any(
                "error" in e or "one_of" in e for s in group for e in s.get("expect", [])
            )
            if not outcome.ok and not expected_error:
                raise AssertionError(
                    f"t={t:g}: {outcome.kind} failed: {outcome.code} {outcome.detail}"
                )
        await settle(connection, list(run.desktops.values()))
        for step in group:
            for expectation in step.get("expect", []):
                await run.check(expectation, outcomes, f"t={t:g}")
    await settle(connection, list(run.desktops.values()))
    for expectation in data.get("expect_end", []):
        await run.check(expectation, [], "end")
    for desktop in run.desktops.values():
        await desktop.disconnect()
    _ = admin_pb2
