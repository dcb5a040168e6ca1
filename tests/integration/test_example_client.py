"""examples/client.py, the README's example of the API, runs as shown against a real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from switchboard.clients.server_process import ServerProcess

REPO = Path(__file__).resolve().parents[2]


def test_the_example_client_serves_one_call_end_to_end() -> None:
    server = ServerProcess(str(REPO / "examples" / "bank" / "switchboard.yaml"), manual_clock=False)
    address = server.start()
    try:
        runs = [
            subprocess.run(
                [sys.executable, str(REPO / "examples" / "client.py"), address],
                capture_output=True,
                text=True,
                timeout=60,
            )
            for _ in range(2)  # a second run finds the agent already provisioned
        ]
    finally:
        server.stop()
        server.clean_up()
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
        lines = run.stdout.splitlines()
        assert "assignment: capacity used 1" in run.stdout
        assert "conversation_update: capacity used 0" in run.stdout
        assert any(line.endswith("is CONVERSATION_STATE_CLOSED:") for line in lines)
        assert "routed to queue retail" in run.stdout
