"""A gateway and an agent's desktop in one script: the smallest complete use of the API.

    make serve                                          # in one terminal
    .venv/bin/python examples/client.py                 # in another (or: client.py HOST:PORT)

Against the bank configuration that `make serve` runs, it provisions an agent in the
`retail` queue (AdminService), opens the agent's desktop stream as Available
(DesktopService.Connect), submits a call (GatewayService.SubmitWork), answers what reaches
the desktop (an offer is accepted; the bank's work stream assigns without offering), ends
and closes the conversation in one call, and prints the stream's messages and the
conversation's timeline. It uses nothing but grpcio and the generated code, as a gateway
or desktop written in any language would.

One run at a time: runs share one agent, and a second desktop stream for an agent
replaces the first (ABORTED). A run stopped halfway leaves its call with the agent; the
next run ends and closes it first.
"""

from __future__ import annotations

import asyncio
import sys
import uuid

import grpc
from switchboard.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    common_pb2,
    desktop_pb2,
    desktop_pb2_grpc,
    gateway_pb2,
    gateway_pb2_grpc,
)

AGENT = "example-agent"
CLOSED = common_pb2.CONVERSATION_STATE_CLOSED


async def main(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        gateway = gateway_pb2_grpc.GatewayServiceStub(channel)
        desktop = desktop_pb2_grpc.DesktopServiceStub(channel)

        try:
            await admin.UpsertAgent(
                admin_pb2.UpsertAgentRequest(
                    agent_id=AGENT, name="Example Agent", capacity=1, queue_ids=["retail"]
                )
            )
        except grpc.aio.AioRpcError as exc:  # another configuration, say: no queue "retail"
            sys.exit(f"cannot provision {AGENT}: {exc.code().name}: {exc.details()}")
        # The desktop's stream: everything for this agent arrives on it, numbered.
        stream = desktop.Connect(
            desktop_pb2.ConnectRequest(agent_id=AGENT, presence=common_pb2.PRESENCE_AVAILABLE)
        )
        first = await stream.read()  # the agent's state as it connects
        state = first.agent_update
        print(f"#{first.sequence} connected: {state.capacity_total - state.capacity_used} free")
        # Work an earlier run left with the agent (it was stopped halfway): end and close it,
        # or it would hold the agent's capacity and this run's call would wait for it.
        for leftover in state.conversation_ids:
            print(f"ending and closing {leftover}, left with the agent by an earlier run")
            await end_and_close(desktop, leftover)

        submitted = await gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(
                work_stream_id="bank-voice",
                context={"type": "PS"},
                # Sent again with the same key after a lost answer, a submit is not doubled.
                client_key=f"example-{uuid.uuid4()}",
            )
        )
        cid = submitted.conversation_id
        print(f"submitted {cid} into queue {submitted.queue_id}")

        while True:
            message = await stream.read()
            if message is grpc.aio.EOF:
                break
            event = message.WhichOneof("event")
            print(f"#{message.sequence} {event}: capacity used {message.agent.capacity_used}")
            # Whatever reaches the agent is answered, this run's call or not.
            if event == "offer":
                await desktop.AcceptOffer(
                    desktop_pb2.AcceptOfferRequest(
                        agent_id=AGENT, conversation_id=message.offer.conversation.id
                    )
                )
            elif event == "assignment":
                # The agent talks to the customer here, then presses "end and close".
                await end_and_close(desktop, message.assignment.conversation.id)
            elif event == "conversation_update":
                update = message.conversation_update
                if update.conversation_id == cid and update.state == CLOSED:
                    break
        stream.cancel()  # the desktop closes; the agent stays signed in for a grace period

        found = await gateway.GetConversation(
            gateway_pb2.GetConversationRequest(conversation_id=cid)
        )
        print(f"{cid} is {common_pb2.ConversationState.Name(found.conversation.state)}:")
        for entry in found.conversation.timeline:
            print(f"  {entry.at.ToDatetime():%H:%M:%S.%f}  {entry.kind:<12} {entry.detail}")


async def end_and_close(desktop: desktop_pb2_grpc.DesktopServiceStub, cid: str) -> None:
    try:
        await desktop.EndConversation(
            desktop_pb2.DesktopEndConversationRequest(
                agent_id=AGENT, conversation_id=cid, close=True
            )
        )
    except grpc.aio.AioRpcError as exc:  # it ended meanwhile: the customer hung up, say
        print(f"{cid}: {exc.code().name}: {exc.details()}")


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"))
    except KeyboardInterrupt:
        sys.exit(130)  # stopped by hand: the next run ends and closes what this one left
