"""The bank's day replayed, timed, beside the transport's floor for that many round trips.

    python bench/replay.py [--runs 3] [--day FILE] [--config FILE] [--out FILE]

Runs `switchboard replay` (which starts its own server on a manual clock) `--runs` times and
takes the replay's own wall time and its number of gRPC calls. The replay plays the day one
event after another, each call waiting for the one before, so its time is bounded below by
calls x one sequential round trip; the bare transport's sequential round trip (bench/
transport.py at concurrency 1, a `grpc.aio` echo server in its own process) is measured in the
same run, so the figure reads as a ratio to that floor.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lifecycle import machine
from transport import ceiling

REPO = Path(__file__).resolve().parents[1]
DAY = REPO / "examples" / "bank" / "anonbank-1999-08-01.csv"
CONFIG = REPO / "examples" / "bank" / "switchboard.yaml"
SWITCHBOARD = Path(sys.executable).with_name("switchboard")

WALL = re.compile(r"wall time ([0-9.]+) s")
CALLS = re.compile(r"([0-9]+) events, ([0-9]+) gRPC calls")


def replay_once(day: Path, config: Path) -> dict[str, Any]:
    done = subprocess.run(
        [str(SWITCHBOARD), "replay", str(day), "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    said = done.stdout + done.stderr
    wall, calls = WALL.search(said), CALLS.search(said)
    if done.returncode != 0 or wall is None or calls is None:
        msg = f"the replay failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        raise RuntimeError(msg)
    return {
        "wall_s": float(wall.group(1)),
        "events": int(calls.group(1)),
        "calls": int(calls.group(2)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--day", type=Path, default=DAY)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--out", help="write the figures here as JSON")
    args = parser.parse_args(argv)
    runs = []
    for i in range(args.runs):
        print(f"replay {i + 1}/{args.runs}", flush=True)
        runs.append(replay_once(args.day, args.config))
    print("bare transport, one round trip at a time", flush=True)
    bare = ceiling(0, 1, 0, 5.0, 1)
    round_trip_ms = 1000.0 / bare["unary_calls_per_s"]
    wall = statistics.median(r["wall_s"] for r in runs)
    calls = runs[0]["calls"]
    result = {
        "machine": machine(),
        "command": "python bench/replay.py " + " ".join(argv or sys.argv[1:]),
        "runs": runs,
        "median_wall_s": wall,
        "calls": calls,
        "ms_per_call": round(wall * 1000 / calls, 3),
        "bare_round_trip_ms": round(round_trip_ms, 3),
        "floor_s": round(calls * round_trip_ms / 1000, 2),
    }
    print(
        f"replay of the day   {wall:.1f} s (median of {args.runs}), {calls:,} calls, "
        f"{result['ms_per_call']:.2f} ms per call\n"
        f"bare round trip     {round_trip_ms:.3f} ms: {calls:,} of them take "
        f"{result['floor_s']:.1f} s ({result['floor_s'] / wall:.0%} of the replay)"
    )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
