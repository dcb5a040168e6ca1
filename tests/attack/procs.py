"""Child processes for the attack tests: started with the repo's interpreter, always killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SWITCHBOARD = str(Path(sys.executable).with_name("switchboard"))


# Sets a soft limit on the size of files the child may write, then becomes the child. A
# `preexec_fn` would do the same, but it makes subprocess fork the test process, whose gRPC
# threads' fork handlers then run in the forked copy (seen: an abort in grpc's epoll poller).
_LIMIT_FILE_SIZE_THEN_EXEC = (
    "import os, resource, sys;"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY));"
    "os.execv(sys.argv[2], sys.argv[2:])"
)


def spawn(args: list[str], *, file_size_limit: int | None = None, **kwargs) -> subprocess.Popen:
    """Start `args` in the repository; `file_size_limit`: a soft RLIMIT_FSIZE in bytes (a
    disk that fills up), which the test may lift again with `resource.prlimit`."""
    if file_size_limit is not None:
        args = [sys.executable, "-c", _LIMIT_FILE_SIZE_THEN_EXEC, str(file_size_limit), *args]
    return subprocess.Popen(args, cwd=REPO, env={**os.environ}, **kwargs)


def reap(process: subprocess.Popen) -> None:
    """Kill a child we started (by its pid) if it is still running, and wait for it."""
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)  # a frozen child must be able to die
        process.kill()
    process.wait(timeout=10)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def wait_for_file(path: Path, process: subprocess.Popen, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        if process.poll() is not None:
            err = process.stderr.read() if process.stderr else ""
            raise RuntimeError(f"child exited with {process.returncode}: {err}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} not written within {timeout} s")
        time.sleep(0.02)  # waiting on a child process, not on the engine
    return path.read_text().strip()


@contextmanager
def children() -> Iterator[list[subprocess.Popen]]:
    """Every process appended to the list is killed when the block ends, however it ends."""
    started: list[subprocess.Popen] = []
    try:
        yield started
    finally:
        for process in started:
            reap(process)


def serve_manual(
    tmp_path: Path,
    db: Path,
    name: str,
    config: str,
    *,
    listen: str = "127.0.0.1:0",
    log_level: str = "warning",
    stdout: int = subprocess.DEVNULL,
    **kwargs,
) -> tuple[subprocess.Popen, Path]:
    """`switchboard serve` on a manual clock in a child process, with `config` written to
    NAME.yaml; returns the process and the file it writes its address to."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(config)
    port_file = tmp_path / f"{name}.port"
    process = spawn(
        [SWITCHBOARD, "serve", "--config", str(path), "--listen", listen,
         "--port-file", str(port_file), "--db", str(db), "--clock", "manual",
         "--log-level", log_level],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )  # fmt: skip
    return process, port_file


async def started(process: subprocess.Popen, port_file: Path):
    """A ready `Connection` to a child started by `serve_manual`, once it listens."""
    from switchboard.clients.connection import Connection

    address = await asyncio.to_thread(wait_for_file, port_file, process)
    conn = Connection(address)
    await conn.wait_ready()
    return conn
