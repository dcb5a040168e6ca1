"""examples/client.py, the README's example of the API, runs as shown against a real server,
also after a run that was stopped halfway."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import grpc
from switchboard.clients.server_process import ServerProcess
from switchboard.v1 import common_pb2, desktop_pb2, desktop_pb2_grpc, gateway_pb2, gateway_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "client.py"


def run_example(address: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), address], capture_output=True, text=True, timeout=60
    )


def assert_served_one_call(run: subprocess.CompletedProcess) -> None:
    assert run.returncode == 0, run.stderr[-2000:]
    assert "assignment: capacity used 1" in run.stdout
    assert "conversation_update: capacity used 0" in run.stdout
    assert any(line.endswith("is CONVERSATION_STATE_CLOSED:") for line in run.stdout.splitlines())
    assert "routed to queue retail" in run.stdout


async def leave_a_call_with_the_agent(address: str) -> str:
    """What a run stopped halfway leaves: a call assigned to example-agent, never closed."""
    async with grpc.aio.insecure_channel(address) as channel:
        desktop = desktop_pb2_grpc.DesktopServiceStub(channel)
        stream = desktop.Connect(
            desktop_pb2.ConnectRequest(
                agent_id="example-agent", presence=common_pb2.PRESENCE_AVAILABLE
            )
        )
        await stream.read()
        submitted = await gateway_pb2_grpc.GatewayServiceStub(channel).SubmitWork(
            gateway_pb2.SubmitWorkRequest(work_stream_id="bank-voice", context={"type": "PS"})
        )
        assert (await stream.read()).WhichOneof("event") == "assignment"
        stream.cancel()
        return submitted.conversation_id


async def state_of(address: str, conversation_id: str) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        found = await gateway_pb2_grpc.GatewayServiceStub(channel).GetConversation(
            gateway_pb2.GetConversationRequest(conversation_id=conversation_id)
        )
        return found.conversation.state


def test_the_example_client_serves_one_call_end_to_end() -> None:
    server = ServerProcess(str(REPO / "examples" / "bank" / "switchboard.yaml"), manual_clock=False)
    address = server.start()
    try:
        first = run_example(address)
        again = run_example(address)  # the agent is provisioned already
        left = asyncio.run(leave_a_call_with_the_agent(address))
        after_a_cut_run = run_example(address)
        left_state = asyncio.run(state_of(address, left))
    finally:
        server.stop()
        server.clean_up()
    assert_served_one_call(first)
    assert_served_one_call(again)
    assert_served_one_call(after_a_cut_run)
    assert "connected: 0 free" in after_a_cut_run.stdout  # the call left behind holds it
    assert left_state == common_pb2.CONVERSATION_STATE_CLOSED  # ended and closed first
