"""Small helpers shared by the integration tests: calls, desktops and what they received.

Everything here talks to a real server over gRPC; time only moves through the manual clock
(`settle(..., to=at(t))`), so the tests give the same result on every run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from switchboard.clients.connection import Connection, Desktop, settle
from switchboard.server.translate import timestamp
from switchboard.v1 import common_pb2, desktop_pb2, gateway_pb2, supervisor_pb2

# Every test clock starts here, so that no timestamp is the protobuf default (0).
T0 = 1_000.0

AVAILABLE = common_pb2.PRESENCE_AVAILABLE
BUSY = common_pb2.PRESENCE_BUSY
BUSY_DND = common_pb2.PRESENCE_BUSY_DND
AWAY = common_pb2.PRESENCE_AWAY
OFFLINE = common_pb2.PRESENCE_OFFLINE
INACTIVE = common_pb2.PRESENCE_INACTIVE

OPEN = common_pb2.CONVERSATION_STATE_OPEN
ACTIVE = common_pb2.CONVERSATION_STATE_ACTIVE
WRAP_UP = common_pb2.CONVERSATION_STATE_WRAP_UP
CLOSED = common_pb2.CONVERSATION_STATE_CLOSED


def at(t: float) -> Any:
    """The protobuf timestamp `t` seconds after the test clock started."""
    return timestamp(T0 + t)


def seconds(ts: Any) -> float:
    """A protobuf timestamp as seconds since the test clock started."""
    return ts.seconds + ts.nanos / 1e9 - T0


class Centre:
    """One running test server: its connection and the desktops signed in so far."""

    def __init__(self, connection: Connection) -> None:
        self.conn = connection
        self.desktops: dict[str, Desktop] = {}

    @classmethod
    async def start(cls, harness: Any, yaml_text: str, **kwargs: Any) -> Centre:
        kwargs.setdefault("clock_start", T0)
        connection = await harness.start(yaml_text, manual_clock=True, **kwargs)
        return cls(connection)

    # --- desktops ---------------------------------------------------------------------

    async def signin(self, agent_id: str, presence: int = AVAILABLE) -> Desktop:
        desktop = Desktop(self.conn, agent_id)
        await desktop.connect(presence)
        if desktop.ended is not None:
            raise desktop.ended
        self.desktops[agent_id] = desktop
        await self.settle()
        return desktop

    async def settle(self, t: float | None = None) -> None:
        """Let the engine settle (after moving the clock to `t`, if given) and wait until
        every desktop has received everything pushed so far."""
        await settle(
            self.conn, list(self.desktops.values()), to=None if t is None else at(t), timeout=10.0
        )

    # --- gateway ----------------------------------------------------------------------

    async def submit(self, stream: str = "chat", **fields: Any) -> gateway_pb2.SubmitWorkResponse:
        response = await self.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(work_stream_id=stream, **fields)
        )
        await self.settle()
        return response

    async def conversation(self, cid: str) -> common_pb2.Conversation:
        response = await self.conn.gateway.GetConversation(
            gateway_pb2.GetConversationRequest(conversation_id=cid)
        )
        return response.conversation

    async def abandon(self, cid: str, reason: str = "") -> int:
        response = await self.conn.gateway.AbandonConversation(
            gateway_pb2.AbandonConversationRequest(conversation_id=cid, reason=reason)
        )
        await self.settle()
        return response.state

    # --- supervisor -------------------------------------------------------------------

    async def agent(self, agent_id: str) -> supervisor_pb2.AgentStatus:
        response = await self.conn.supervisor.GetAgent(
            supervisor_pb2.GetAgentRequest(agent_id=agent_id)
        )
        return response.agent

    async def queue(self, queue_id: str) -> supervisor_pb2.QueueStatus:
        response = await self.conn.supervisor.GetQueue(
            supervisor_pb2.GetQueueRequest(queue_id=queue_id)
        )
        return response.queue

    async def waiting(self, queue_id: str) -> list[str]:
        return list((await self.queue(queue_id)).waiting_ids)

    # --- what an agent is doing -------------------------------------------------------

    async def snapshot(self) -> dict:
        """Everything a supervisor can see, to compare before and after a refused call."""
        agents = await self.conn.supervisor.ListAgents(supervisor_pb2.ListAgentsRequest())
        queues = await self.conn.supervisor.ListQueues(supervisor_pb2.ListQueuesRequest())
        return {
            "agents": [a.SerializeToString(deterministic=True) for a in agents.agents],
            "queues": [q.SerializeToString(deterministic=True) for q in queues.queues],
        }


def kinds(desktop: Desktop) -> list[str]:
    """The kind of each message the desktop received, in order, with its detail. The agent's
    state that rides on an event (ConnectResponse.agent) is listed right after that event,
    as "agent ..." like a state update of its own."""
    result = []
    for message in desktop.messages:
        kind = message.WhichOneof("event")
        match kind:
            case "offer":
                result.append(f"offer {message.offer.conversation.id}")
            case "assignment":
                result.append(f"assignment {message.assignment.conversation.id}")
            case "offer_withdrawn":
                w = message.offer_withdrawn
                result.append(f"withdrawn {w.conversation_id} {w.reason}")
            case "conversation_update":
                u = message.conversation_update
                state = common_pb2.ConversationState.Name(u.state).removeprefix(
                    "CONVERSATION_STATE_"
                )
                result.append(f"update {u.conversation_id} {state}")
            case "agent_update":
                result.append(_agent_line(message.agent_update))
            case _:
                result.append(str(kind))
        if message.HasField("agent"):
            result.append(_agent_line(message.agent))
    return result


def _agent_line(update: desktop_pb2.AgentUpdate) -> str:
    presence = common_pb2.Presence.Name(update.presence).removeprefix("PRESENCE_")
    return f"agent {presence} {update.capacity_used}/{update.capacity_total}"


def offers(desktop: Desktop) -> list[str]:
    return [m.offer.conversation.id for m in desktop.messages if m.HasField("offer")]


def last_offer(desktop: Desktop) -> Any:
    found = [m.offer for m in desktop.messages if m.HasField("offer")]
    assert found, f"{desktop.agent_id} received no offer: {kinds(desktop)}"
    return found[-1]


def withdrawals(desktop: Desktop) -> list[tuple[str, str]]:
    return [
        (m.offer_withdrawn.conversation_id, m.offer_withdrawn.reason)
        for m in desktop.messages
        if m.HasField("offer_withdrawn")
    ]


def presence_name(value: int) -> str:
    return common_pb2.Presence.Name(value)


def state_name(value: int) -> str:
    return common_pb2.ConversationState.Name(value)


async def refused(
    call: Awaitable[Any], code: grpc.StatusCode, *mentions: str
) -> grpc.aio.AioRpcError:
    """Await `call`, which must fail with exactly `code` and a message naming `mentions`."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    error = info.value
    assert error.code() == code, f"expected {code.name}, got {error.code().name}: {error.details()}"
    details = error.details() or ""
    for text in mentions:
        assert text in details, f"{text!r} is not in the message {details!r}"
    return error


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0
) -> None:
    """Wait for something the server does on its own (noticing a closed stream, say).

    Not a timing assumption: it polls until the condition holds and fails after `timeout`.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.005)
