"""Start `switchboard serve` as a child process and stop it cleanly: for the demo, the
replay and benchmarks, which must talk to a real server over a real socket."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class ServerProcess:
    def __init__(
        self,
        config: str,
        *,
        db: str | None = None,
        manual_clock: bool = True,
        log_file: str | None = None,
        log_level: str = "warning",
        extra_args: list[str] | None = None,
    ) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="switchboard-"))
        self.port_file = self.workdir / "address"
        self.db = db or str(self.workdir / "switchboard.db")
        self.log_path = Path(log_file) if log_file else self.workdir / "server.log"
        self.args = [
            sys.executable,
            "-m",
            "switchboard.server.cli",
            "serve",
            "--config",
            config,
            "--listen",
            "127.0.0.1:0",
            "--db",
            self.db,
            "--clock",
            "manual" if manual_clock else "system",
            "--port-file",
            str(self.port_file),
            "--log-level",
            log_level,
            *(extra_args or []),
        ]
        self.process: subprocess.Popen | None = None
        self.address = ""

    def start(self, timeout: float = 30.0) -> str:
        """Start (or start again, on the same journal) and return the address."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.port_file.unlink(missing_ok=True)
        # stdout carries only the "listening on" line (the address is read from the port
        # file): kept apart, so that a log in JSON lines is JSON throughout. The child keeps
        # its own copies of both files.
        with self.log_path.open("a") as log, (self.workdir / "stdout").open("a") as said:
            self.process = subprocess.Popen(self.args, stdout=said, stderr=log, env={**os.environ})
        deadline = time.monotonic() + timeout
        while not self.port_file.exists() or not self.port_file.read_text():
            if self.process.poll() is not None:
                msg = f"the server exited with {self.process.returncode}:\n{self.log_path.read_text()}"
                raise RuntimeError(msg)
            if time.monotonic() > deadline:
                self.kill()
                msg = f"the server did not start within {timeout:g} s; see {self.log_path}"
                raise RuntimeError(msg)
            time.sleep(0.02)  # a client waiting for a child process, not engine logic
        self.address = self.port_file.read_text().strip()
        return self.address

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait; returns the exit code (0 is a clean shutdown)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def clean_up(self) -> None:
        """Remove the temporary folder (journal, port file, and the log unless it was put
        elsewhere); call once the server has stopped."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
