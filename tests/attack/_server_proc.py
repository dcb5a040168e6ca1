"""A Switchboard server in its own process, started in-process there (manual clock) so that a
test can also drive the engine's own entry points directly, and kill the process if it hangs.

usage: python -m tests.attack._server_proc CONFIG DB PORT_FILE
Writes the port to PORT_FILE once serving. Then reads commands, one per line, from stdin:
  upsert AGENT CAPACITY Q1,Q2;upsert AGENT CAPACITY Q3;...
runs every `;`-separated UpsertAgent of the line in one go on the event loop (exactly what
several UpsertAgent RPCs do when their handlers run in the same turn of the loop), and answers
"ok". End of input stops the server.
"""

from __future__ import annotations

import asyncio
import sys
import threading

from switchboard.server import logging as sb_logging
from switchboard.server.app import start
from switchboard.server.config import load_config

T0 = 1_000.0


async def main(config_path: str, db: str, port_file: str) -> None:
    sb_logging.configure("warning")
    running = await start(
        load_config(config_path), listen="127.0.0.1:0", db=db, manual_clock=True, clock_start=T0
    )
    with open(port_file, "w", encoding="utf-8") as f:
        f.write(str(running.port))
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def run_line(line: str) -> None:
        for command in filter(None, (c.strip() for c in line.split(";"))):
            verb, agent, capacity, queues = command.split()
            assert verb == "upsert", command
            running.centre.upsert_agent(agent, "", int(capacity), {}, tuple(queues.split(",")))
        print("ok", flush=True)

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(run_line, line)
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=read_stdin, daemon=True).start()
    await done.wait()
    await running.stop(0.5)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
