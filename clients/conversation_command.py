"""`switchboard conversation ID`: what happened to one conversation, and why."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys

import grpc
from switchboard.clients.connection import Connection
from switchboard.v1 import common_pb2, gateway_pb2


def add_conversation_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "conversation",
        help="print a conversation's state and timeline",
        description="Asks a running server for one conversation (open, or closed and in the "
        "journal) and prints its state and every step of its timeline.",
    )
    parser.add_argument("conversation_id")
    parser.add_argument("--server", default="127.0.0.1:50051", help="HOST:PORT [%(default)s]")
    parser.set_defaults(run=run_command)


def run_command(args: argparse.Namespace) -> int:
    try:
        conversation = asyncio.run(fetch(args.server, args.conversation_id))
    except grpc.aio.AioRpcError as exc:
        print(f"switchboard conversation: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1 if exc.code() == grpc.StatusCode.NOT_FOUND else 2
    except TimeoutError:
        print(f"switchboard conversation: no server answers at {args.server}", file=sys.stderr)
        return 2
    print(render(conversation))
    return 0


async def fetch(address: str, conversation_id: str) -> common_pb2.Conversation:
    async with Connection(address) as connection:
        await connection.wait_ready(timeout=5)
        response = await connection.gateway.GetConversation(
            gateway_pb2.GetConversationRequest(conversation_id=conversation_id)
        )
        return response.conversation


def _when(ts: object) -> str:
    moment = datetime.datetime.fromtimestamp(
        ts.seconds + ts.nanos / 1e9,
        tz=datetime.UTC,  # type: ignore[attr-defined]
    )
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def render(c: common_pb2.Conversation) -> str:
    state = common_pb2.ConversationState.Name(c.state).removeprefix("CONVERSATION_STATE_")
    channel = common_pb2.Channel.Name(c.channel).removeprefix("CHANNEL_").lower()
    lines = [
        f"conversation {c.id}",
        f"  state      {state.lower()}" + (f" ({c.close_reason})" if c.close_reason else ""),
        f"  stream     {c.work_stream_id} ({channel}), queue {c.queue_id or '-'}, "
        f"agent {c.agent_id or '-'}" + (" (offer ringing)" if c.offer_pending else ""),
        f"  customer   {c.customer.id or '-'}, priority {c.priority}"
        + (f", severity {c.severity}" if c.severity else ""),
    ]
    for label, mapping in (
        ("context", c.context),
        ("skills", c.required_skills),
        ("attributes", c.attributes),
    ):
        if mapping:
            pairs = ", ".join(f"{k}={v}" for k, v in sorted(mapping.items()))
            lines.append(f"  {label:<10} {pairs}")
    lines.append("  timeline (UTC)")
    for entry in c.timeline:
        who = " ".join(
            x
            for x in (
                f"queue {entry.queue_id}" if entry.queue_id else "",
                f"agent {entry.agent_id}" if entry.agent_id else "",
            )
            if x
        )
        lines.append(
            f"    {_when(entry.at)}  {entry.kind:<10} {entry.detail}"
            + (f"  [{who}]" if who else "")
        )
    return "\n".join(lines)
