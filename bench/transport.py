"""The transport's ceiling on this machine: bare grpc.aio, no Switchboard in it.

A server process with two methods and nothing behind them (an echo unary call, and a server
stream that pushes a message whenever a unary call asks it to), and a client playing the same
mix of calls and stream messages as a Switchboard workload: per "cycle", `unary` unary calls,
and `messages` messages pushed on one of `streams` open streams, received by the client.
Switchboard's figures are read as a ratio to this (bench/lifecycle.py runs both in one go).

    python bench/transport.py [--streams 1000] [--unary 4] [--messages 5] [--duration 5]
                              [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import sys
import time
from typing import Any

import grpc

SERVICE = "bench.Bare"
UNARY = f"/{SERVICE}/Echo"
STREAM = f"/{SERVICE}/Listen"
# The bare server gets the same pending-call limits as Switchboard's (server/app.py), so
# that bursts are measured alike.
OPTIONS = [
    ("grpc.so_reuseport", 0),
    ("grpc.server.max_pending_requests", 50_000),
    ("grpc.server.max_pending_requests_hard_limit", 50_000),
]


def _identity(data: bytes) -> bytes:
    return data


class Bare:
    """The server's two methods. `Echo` with a payload naming a stream (b"s<index>:<n>")
    also pushes n messages on that stream, as a Switchboard call would cause pushes."""

    def __init__(self) -> None:
        self.streams: dict[int, asyncio.Queue] = {}

    async def echo(self, request: bytes, context: Any) -> bytes:
        if request.startswith(b"s"):
            index, count = request[1:].split(b":")
            queue = self.streams.get(int(index))
            if queue is not None:
                for _ in range(int(count)):
                    queue.put_nowait(b"m" * 120)  # about the size of an offer
        return request

    async def listen(self, request: bytes, context: Any) -> Any:
        index = int(request)
        queue: asyncio.Queue = asyncio.Queue()
        self.streams[index] = queue
        yield b"ready"
        while True:
            yield await queue.get()


async def _serve(port_out: Any) -> None:
    bare = Bare()
    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Echo": grpc.unary_unary_rpc_method_handler(bare.echo, _identity, _identity),
            "Listen": grpc.unary_stream_rpc_method_handler(bare.listen, _identity, _identity),
        },
    )
    server = grpc.aio.server(options=OPTIONS)
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    port_out.put(port)
    await server.wait_for_termination()


def _server_main(port_out: Any) -> None:
    asyncio.run(_serve(port_out))


def start_server() -> tuple[multiprocessing.Process, str]:
    """The bare server in its own process (as `switchboard serve` is); returns its address."""
    context = multiprocessing.get_context("spawn")
    port_out = context.Queue()
    process = context.Process(target=_server_main, args=(port_out,), daemon=True)
    process.start()
    return process, f"127.0.0.1:{port_out.get(timeout=30)}"


async def measure(
    address: str, streams: int, unary: int, messages: int, duration: float, concurrency: int
) -> dict[str, Any]:
    """Cycles per second with `concurrency` cycles in flight for `duration` seconds."""
    channels = [grpc.aio.insecure_channel(address) for _ in range(max(1, -(-streams // 100)))]
    for channel in channels:
        await channel.channel_ready()
    calls = [
        channels[i // 100].unary_unary(UNARY, _identity, _identity) for i in range(streams or 1)
    ]
    received = 0
    ready = [asyncio.Event() for _ in range(streams)]

    async def listen(i: int) -> None:
        nonlocal received
        call = channels[i // 100].unary_stream(STREAM, _identity, _identity)(str(i).encode())
        async for _ in call:
            ready[i].set()
            received += 1

    listeners = [asyncio.create_task(listen(i)) for i in range(streams)]
    await asyncio.gather(*(event.wait() for event in ready))
    received = 0
    cycles = 0
    end = time.perf_counter() + duration
    counter = itertools.count()

    async def worker() -> None:
        nonlocal cycles
        while time.perf_counter() < end:
            n = next(counter)
            stream = n % streams if streams else 0
            call = calls[stream]
            # One call asks for the cycle's pushes, the rest are plain round trips.
            await call(f"s{stream}:{messages}".encode() if streams else b"x")
            for _ in range(unary - 1):
                await call(b"x" * 64)
            cycles += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    got = received
    for task in listeners:
        task.cancel()
    for channel in channels:
        await channel.close()
    return {
        "streams": streams,
        "unary_per_cycle": unary,
        "messages_per_cycle": messages,
        "concurrency": concurrency,
        "cycles_per_s": round(cycles / wall, 1),
        "unary_calls_per_s": round(cycles * unary / wall, 1),
        "stream_messages_per_s": round(got / wall, 1),
    }


def ceiling(
    streams: int, unary: int, messages: int, duration: float, concurrency: int
) -> dict[str, Any]:
    process, address = start_server()
    try:
        return asyncio.run(measure(address, streams, unary, messages, duration, concurrency))
    finally:
        process.kill()
        process.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--unary", type=int, default=4)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args(argv)
    result = ceiling(args.streams, args.unary, args.messages, args.duration, args.concurrency)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
