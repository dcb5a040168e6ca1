"""Child processes for the attack tests: started with the repo's interpreter, always killed."""

from __future__ import annotations

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


def spawn(args: list[str], **kwargs) -> subprocess.Popen:
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
