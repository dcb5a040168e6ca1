"""A connection to a Switchboard server: one channel, a stub per service, and desktops.

Used by the replay, the load test, the scenario runner and anyone integrating from Python.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from switchboard.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    common_pb2,
    desktop_pb2,
    desktop_pb2_grpc,
    gateway_pb2_grpc,
    supervisor_pb2_grpc,
)

CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 16 * 1024 * 1024)]

# Simulated calls (server/simulation.py): the time a call happens at, and its answer once the
# engine has settled.
AT_KEY = "switchboard-at"
SETTLE_KEY = "switchboard-settle"
SETTLED_KEY = "switchboard-settled-bin"


def agent_state(message: desktop_pb2.ConnectResponse) -> desktop_pb2.AgentUpdate | None:
    """The agent's state a desktop message tells, if any: an `agent_update` of its own, or the
    state riding on an event that changed it (`agent`)."""
    if message.HasField("agent"):
        return message.agent
    if message.HasField("agent_update"):
        return message.agent_update
    return None


class Connection:
    def __init__(self, address: str) -> None:
        self.address = address
        self.channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        self.gateway = gateway_pb2_grpc.GatewayServiceStub(self.channel)
        self.desktop = desktop_pb2_grpc.DesktopServiceStub(self.channel)
        self.supervisor = supervisor_pb2_grpc.SupervisorServiceStub(self.channel)
        self.admin = admin_pb2_grpc.AdminServiceStub(self.channel)
        # Set whenever a desktop of this connection has handled a message (see `settle`).
        self.delivered = asyncio.Event()
        # Simulation (a server on a manual clock): when set, calls made through `call`
        # happen at this time and are answered once the engine has settled, and
        # `expected` gathers how far each desktop stream was pushed (see `caught_up`).
        self.simulated_time: float | None = None
        self.settle_calls = False
        self.expected: dict[str, int] = {}

    async def call(self, method: Any, request: Any) -> Any:
        """Call a unary `method` of one of this connection's stubs, simulated if asked."""
        if not self.settle_calls and self.simulated_time is None:
            return await method(request)
        metadata = []
        if self.simulated_time is not None:
            # Plain decimal seconds, to the microsecond (what the server accepts).
            metadata.append((AT_KEY, f"{self.simulated_time:.6f}"))
        if self.settle_calls:
            metadata.append((SETTLE_KEY, "1"))
        call = method(request, metadata=tuple(metadata))
        response = await call
        if self.settle_calls:
            for key, value in await call.trailing_metadata() or ():
                if key == SETTLED_KEY:
                    self.heard(admin_pb2.AdvanceClockResponse.FromString(value))
                    break
            else:
                msg = f"the server at {self.address} does not answer {SETTLE_KEY}"
                raise RuntimeError(msg)
        return response

    def heard(self, answer: admin_pb2.AdvanceClockResponse) -> None:
        """The server says how far it pushed each desktop stream."""
        expected = self.expected
        for agent_id, sequence in answer.last_sequences.items():
            if sequence > expected.get(agent_id, 0):
                expected[agent_id] = sequence

    async def wait_ready(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.channel.channel_ready(), timeout)

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Desktop:
    """One agent's desktop: holds the Connect stream open and records what arrives on it.

    `on_message` (optional) is called for every message, in order, from the reading task; it
    may be a coroutine function (the replay's agents answer offers from it).
    """

    def __init__(
        self,
        connection: Connection,
        agent_id: str,
        on_message: Callable[[Desktop, desktop_pb2.ConnectResponse], Any] | None = None,
    ) -> None:
        self.connection = connection
        self.agent_id = agent_id
        self.on_message = on_message
        self.messages: list[desktop_pb2.ConnectResponse] = []
        self.last_sequence = 0  # of the last message handled
        self.ended: grpc.RpcError | None = None
        self._call: Any = None
        self._reader: asyncio.Task | None = None
        self._first = asyncio.Event()
        self._hung_up = False

    async def connect(
        self, presence: int = common_pb2.PRESENCE_UNSPECIFIED, *, resume: bool = False
    ) -> None:
        """Open the stream and return once the server has sent the first message on it.

        `resume`: carry on after the last message this desktop received (the server sends
        what it missed, once, in order, then the agent's state as it is now).
        """
        request = desktop_pb2.ConnectRequest(agent_id=self.agent_id, presence=presence)
        if resume:
            request.resume_after_sequence = self.last_sequence
        self._hung_up = False
        self.ended = None
        self._first = asyncio.Event()
        self._call = self.connection.desktop.Connect(request)
        self._reader = asyncio.create_task(self._read(), name=f"desktop-{self.agent_id}")
        first = asyncio.create_task(self._first.wait())
        await asyncio.wait({first, self._reader}, return_when=asyncio.FIRST_COMPLETED)
        first.cancel()
        if not self.messages and self.ended is not None:
            raise self.ended  # the server refused the stream (unknown agent, bad presence...)

    async def _read(self) -> None:
        try:
            async for message in self._call:
                self.messages.append(message)
                self._first.set()
                if self.on_message is not None:
                    result = self.on_message(self, message)
                    if asyncio.iscoroutine(result):
                        await result
                # Recorded once handled, so `settle` also waits for the answers it caused.
                self.last_sequence = message.sequence
                self.connection.delivered.set()
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.ended = exc
        finally:
            self._first.set()
            # A desktop that stopped reading is no longer waited for: wake whoever waits, or
            # they would sit out their whole timeout after a server went away.
            self.connection.delivered.set()

    @property
    def hung_up(self) -> bool:
        """This desktop ended its stream itself (not the server going away)."""
        return self._hung_up

    @property
    def reading(self) -> bool:
        """The stream is open and this desktop is still reading it."""
        return self._reader is not None and not self._reader.done() and not self._hung_up

    async def disconnect(self) -> None:
        self._hung_up = True
        if self._call is not None:
            self._call.cancel()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    # --- answering -------------------------------------------------------------------

    async def set_presence(self, presence: int) -> int:
        response = await self.connection.call(
            self.connection.desktop.SetPresence,
            desktop_pb2.SetPresenceRequest(agent_id=self.agent_id, presence=presence),
        )
        return response.presence

    async def accept(self, conversation_id: str) -> None:
        await self.connection.call(
            self.connection.desktop.AcceptOffer,
            desktop_pb2.AcceptOfferRequest(agent_id=self.agent_id, conversation_id=conversation_id),
        )

    async def reject(self, conversation_id: str) -> None:
        await self.connection.call(
            self.connection.desktop.RejectOffer,
            desktop_pb2.RejectOfferRequest(agent_id=self.agent_id, conversation_id=conversation_id),
        )

    async def end(self, conversation_id: str, *, close: bool = False) -> None:
        """End held work (into wrap-up); with `close`, close it too in the same call."""
        await self.connection.call(
            self.connection.desktop.EndConversation,
            desktop_pb2.DesktopEndConversationRequest(
                agent_id=self.agent_id, conversation_id=conversation_id, close=close
            ),
        )

    async def close(self, conversation_id: str) -> None:
        await self.connection.call(
            self.connection.desktop.CloseConversation,
            desktop_pb2.CloseConversationRequest(
                agent_id=self.agent_id, conversation_id=conversation_id
            ),
        )

    async def pickable(self) -> list[str]:
        """Ids of the pick-mode work waiting in this agent's queues, best first."""
        response = await self.connection.call(
            self.connection.desktop.ListPickableWork,
            desktop_pb2.ListPickableWorkRequest(agent_id=self.agent_id),
        )
        return [c.id for c in response.conversations]

    async def take(self, conversation_id: str) -> None:
        await self.connection.call(
            self.connection.desktop.TakeWork,
            desktop_pb2.TakeWorkRequest(agent_id=self.agent_id, conversation_id=conversation_id),
        )

    async def release(self, conversation_id: str) -> None:
        await self.connection.call(
            self.connection.desktop.ReleaseConversation,
            desktop_pb2.ReleaseConversationRequest(
                agent_id=self.agent_id, conversation_id=conversation_id
            ),
        )

    async def transfer(
        self, conversation_id: str, *, to_agent: str = "", to_queue: str = ""
    ) -> desktop_pb2.TransferConversationResponse:
        request = desktop_pb2.TransferConversationRequest(
            agent_id=self.agent_id, conversation_id=conversation_id
        )
        if to_agent:
            request.to_agent_id = to_agent
        if to_queue:
            request.to_queue_id = to_queue
        return await self.connection.call(self.connection.desktop.TransferConversation, request)

    async def park(self, conversation_id: str) -> None:
        await self.connection.call(
            self.connection.desktop.ParkConversation,
            desktop_pb2.ParkConversationRequest(
                agent_id=self.agent_id, conversation_id=conversation_id
            ),
        )

    async def resume(self, conversation_id: str) -> None:
        await self.connection.call(
            self.connection.desktop.ResumeConversation,
            desktop_pb2.ResumeConversationRequest(
                agent_id=self.agent_id, conversation_id=conversation_id
            ),
        )


async def settle(
    connection: Connection, desktops: list[Desktop], *, to: Any = None, timeout: float = 30.0
) -> admin_pb2.AdvanceClockResponse:
    """Advance a manual clock (or just settle) and wait until `desktops` have seen every
    message the server pushed on the streams it still has open.

    The server names, per agent with an open stream, the last sequence number it pushed. A
    desktop this client has hung up on cannot receive more, so until the server notices the
    hang-up the answer is asked for again. Only exact when `desktops` are all the server's
    desktops.
    """
    request = admin_pb2.AdvanceClockRequest()
    if to is not None:
        request.to.CopyFrom(to)
    response = await connection.admin.AdvanceClock(request)

    def missing() -> list[str]:
        seen: dict[str, int] = {}
        for desktop in desktops:
            if desktop.reading:
                seen[desktop.agent_id] = max(seen.get(desktop.agent_id, 0), desktop.last_sequence)
        return [
            agent for agent, last in response.last_sequences.items() if seen.get(agent, -1) < last
        ]

    async def ask_again() -> None:
        nonlocal response
        response = await connection.admin.AdvanceClock(admin_pb2.AdvanceClockRequest())

    await _until_delivered(connection, missing, timeout, ask_again)
    return response


async def caught_up(connection: Connection, desktops: list[Desktop], timeout: float = 30.0) -> None:
    """Wait until `desktops` have handled every message the server said it pushed to them
    (`Connection.expected`, from settled calls). Answers desktops send while handling a
    message raise what is expected before that message counts as handled, so on return
    everything those answers caused has been seen too. A desktop no longer reading (hung
    up, or its stream ended) is not waited for."""
    expected = connection.expected

    def missing() -> list[str]:
        return [
            d.agent_id
            for d in desktops
            if d.reading and d.last_sequence < expected.get(d.agent_id, 0)
        ]

    await _until_delivered(connection, missing, timeout)


async def _until_delivered(
    connection: Connection,
    missing: Callable[[], list[str]],
    timeout: float,
    when_quiet: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Wait, message by message as desktops handle them, until `missing()` names no agent.
    With `when_quiet`, a wait of RECHECK_S with no message calls it (to ask again)."""
    lagging = missing()
    try:
        async with asyncio.timeout(timeout):
            while lagging:
                connection.delivered.clear()
                if when_quiet is None:
                    await connection.delivered.wait()
                else:
                    try:
                        await asyncio.wait_for(connection.delivered.wait(), RECHECK_S)
                    except TimeoutError:
                        await when_quiet()
                lagging = missing()
    except TimeoutError:
        msg = f"desktops of {', '.join(sorted(lagging))} never got all their messages"
        raise TimeoutError(msg) from None


# How long `settle` waits for a message before asking the server again (it may have noticed
# a hang-up meanwhile).
RECHECK_S = 0.05
