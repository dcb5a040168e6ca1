"""A desktop in its own process, for tests that kill or freeze it (SIGKILL, SIGSTOP).

usage: python -m tests.attack._desktop_proc ADDRESS AGENT_ID [PRESENCE_NUMBER]
Prints "connected" once the server's first message arrived, then "message <kind>" for each
message (stdout is only read by tests that want it), until the stream ends.
"""

from __future__ import annotations

import asyncio
import sys

from switchboard.clients.connection import Connection, Desktop
from switchboard.v1 import common_pb2


async def main(address: str, agent_id: str, presence: int) -> None:
    connection = Connection(address)
    await connection.wait_ready()

    def show(desktop: Desktop, message) -> None:
        print("message", message.WhichOneof("event"), flush=True)

    desktop = Desktop(connection, agent_id, on_message=show)
    await desktop.connect(presence)
    print("connected", flush=True)
    if desktop._reader is not None:
        await desktop._reader
    print("ended", desktop.ended.code() if desktop.ended else None, flush=True)


if __name__ == "__main__":
    presence = int(sys.argv[3]) if len(sys.argv) > 3 else common_pb2.PRESENCE_AVAILABLE
    asyncio.run(main(sys.argv[1], sys.argv[2], presence))
