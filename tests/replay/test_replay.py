"""The replay of the bank's real day, on a slice, through a real server over gRPC."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from switchboard.clients.replay.bankday import load_day
from switchboard.clients.replay.command import slice_day
from switchboard.clients.replay.driver import Replay
from switchboard.clients.replay.figures import figures_of

REPO = Path(__file__).resolve().parents[2]
DAY = REPO / "examples" / "bank" / "anonbank-1999-08-01.csv"
CONFIG = REPO / "examples" / "bank" / "switchboard.yaml"


async def replay_slice(harness, start: str, until: str, db: str | None = None):
    day = slice_day(load_day(DAY), start, until)
    connection = await harness.start(CONFIG.read_text(), manual_clock=True, db=db)
    outcome = await Replay(connection, day).run()
    await harness.stop()
    return day, outcome


async def test_a_morning_is_played_with_every_call_accounted_for(harness) -> None:
    day, outcome = await replay_slice(harness, "08:00:00", "09:30:00")
    figures = figures_of(outcome.results, submitted=len(day.calls))
    assert len(day.calls) > 150
    assert figures.submitted == figures.served + figures.abandoned + figures.unserved
    assert figures.served > 0 and figures.abandoned > 0
    assert outcome.violations == []
    assert outcome.errors == []
    # Every served call was answered by an agent who was on shift and in a fitting queue.
    on_shift = {s.agent_id for s in day.shifts}
    assert {r.agent_id for r in outcome.results if r.outcome == "served"} <= on_shift
    # A caller never waits longer than their recorded patience.
    patience = {c.key: c.patience for c in day.calls}
    for result in outcome.results:
        if result.outcome == "abandoned":
            assert result.wait == patience[result.key]


async def test_the_replay_is_deterministic(harness, tmp_path) -> None:
    # Two fresh servers (a journal would bring the first run's clock and work back).
    _, first = await replay_slice(harness, "10:00:00", "10:45:00", str(tmp_path / "1.db"))
    _, second = await replay_slice(harness, "10:00:00", "10:45:00", str(tmp_path / "2.db"))
    key = lambda r: (r.key, r.outcome, r.wait, r.agent_id)  # noqa: E731
    assert sorted(map(key, first.results)) == sorted(map(key, second.results))


def test_the_command_starts_a_server_replays_and_shuts_it_down_cleanly(tmp_path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "switchboard.server.cli",
            "replay",
            str(DAY),
            "--config",
            str(CONFIG),
            "--from",
            "12:00:00",
            "--until",
            "12:30:00",
            "--server-log",
            str(tmp_path / "server.log"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Invariants held" in result.stdout
    assert "server shut down cleanly" in result.stderr
    for line in (
        "submitted",
        "served",
        "abandoned",
        "unserved",
        "wait p90",
        "answered within 20 s",
    ):
        assert line in result.stdout
