"""`switchboard conversation ID` against a real server."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from tests.integration.support import Centre
from tests.unit.test_classification import CENTRE


async def run_cli(*args: str) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "switchboard.server.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_it_prints_the_state_and_the_whole_timeline(harness) -> None:
    centre = await Centre.start(harness, CENTRE)
    cid = (await centre.submit(context={"tier": "gold", "language": "en"})).conversation_id
    address = harness.connections[0].address
    result = await run_cli("conversation", cid, "--server", address)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"conversation {cid}" in out
    assert "state      open" in out
    assert "queue vip" in out and "priority 5" in out
    assert "attributes tier=gold" in out
    for kind in ("submitted", "classified", "routed", "queued"):
        assert f"  {kind}" in out
    assert "rule 'vip' matched" in out


async def test_an_unknown_id_is_reported(harness) -> None:
    await Centre.start(harness, CENTRE)
    result = await run_cli("conversation", "nope", "--server", harness.connections[0].address)
    assert result.returncode == 1
    assert "NOT_FOUND" in result.stderr and "nope" in result.stderr
