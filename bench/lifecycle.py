"""Switchboard's throughput and latency as ratios to the bare transport, measured in one run.

    python bench/lifecycle.py [--desktops 1000] [--duration 10] [--rounds 1] [--wrap-time 0]
                              [--out FILE]

With `--rounds N`, steps 1-4 run N times in turn and the median ratio is reported (with
every round's figures in the results file): on a shared machine one round's ratio swings by
a quarter.

1. Starts `switchboard serve` (system clock, a fresh journal) on the load-test centre and
   runs `switchboard loadtest` against it flat out: submit, offer, accept, end, close, with
   `--desktops` desktops connected. Counts the desktop messages per lifecycle. Without
   `--wrap-time` desktops end and close in one call (3 unary calls per lifecycle), with it
   in two (4).
2. Runs the bare transport (bench/transport.py) with the same number of streams, the same
   unary calls per lifecycle and the same stream messages per lifecycle: the ceiling.
3. Submit alone, flat out (no desktop signed in, so everything queues), against a bare
   unary echo.
4. p99 submit -> offer on the desktop at half the full-lifecycle rate.
Prints a table and writes the figures and the machine to `--out`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from switchboard.clients.loadtest.command import run_load
from switchboard.clients.loadtest.run import Plan
from switchboard.clients.server_process import ServerProcess
from transport import ceiling

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "examples" / "loadtest" / "switchboard.yaml"


def with_server(plan: Plan, processes: int = 1) -> dict[str, Any]:
    server = ServerProcess(str(CONFIG), manual_clock=False)
    address = server.start()
    try:
        return run_load(Plan(**{**plan.__dict__, "address": address}), processes)
    finally:
        server.stop()
        server.clean_up()


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.platform(),
        "commit": commit,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--desktops", type=int, default=1000, help="[%(default)s]")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds [%(default)s]")
    parser.add_argument("--concurrency", type=int, default=64, help="[%(default)s]")
    parser.add_argument(
        "--wrap-time", type=float, default=0.0, help="seconds of wrap-up [%(default)s]"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="ours and the bare transport, in turn, this often [%(default)s]",
    )
    parser.add_argument("--out", help="write the figures here as JSON")
    args = parser.parse_args(argv)
    base = Plan(
        address="",
        desktops=args.desktops,
        duration_s=args.duration,
        concurrency=args.concurrency,
        wrap_s=args.wrap_time,
        progress=False,
    )
    unary = base.unary_per_lifecycle
    rounds = []
    for n in range(1, args.rounds + 1):
        # Ours and the bare transport in turn, so that a machine whose speed drifts (a shared
        # one) slows both sides of each ratio alike; the median ratio is the figure.
        tag = f"round {n}/{args.rounds}: " if args.rounds > 1 else ""
        print(f"{tag}full lifecycle, {args.desktops} desktops, flat out", flush=True)
        full = with_server(base)
        per_cycle = round(full["desktop_messages"] / max(1, full["closed"]))
        print(f"{tag}bare transport, same mix ({unary} unary + {per_cycle} messages)", flush=True)
        bare_full = ceiling(args.desktops, unary, per_cycle, args.duration, args.concurrency)
        print(f"{tag}submit alone, flat out", flush=True)
        submit = with_server(Plan(**{**base.__dict__, "desktops": 0, "drain_s": 0}))
        print(f"{tag}bare unary echo", flush=True)
        bare_unary = ceiling(0, 1, 0, args.duration, args.concurrency)
        rounds.append(
            {
                "full_lifecycle": full,
                "bare_same_mix": bare_full,
                "submit_alone": submit,
                "bare_unary_echo": bare_unary,
                "lifecycle_to_bare": round(full["lifecycles_per_s"] / bare_full["cycles_per_s"], 3),
                "submit_to_bare_echo": round(
                    submit["submits_per_s"] / bare_unary["unary_calls_per_s"], 3
                ),
            }
        )
    # The round whose lifecycle ratio is the median (the lower one of an even count), so
    # that its rates and its ratio are figures of one and the same round.
    middle = sorted(rounds, key=lambda r: r["lifecycle_to_bare"])[(len(rounds) - 1) // 2]
    half = max(1.0, middle["full_lifecycle"]["lifecycles_per_s"] / 2)
    print(f"latency at half the lifecycle rate ({half:.0f}/s)", flush=True)
    paced = with_server(Plan(**{**base.__dict__, "rate": half}))
    result = {
        "machine": machine(),
        "command": "python bench/lifecycle.py " + " ".join(argv or sys.argv[1:]),
        # The round whose lifecycle ratio is the median; every round is under "rounds".
        "full_lifecycle": middle["full_lifecycle"],
        "bare_same_mix": middle["bare_same_mix"],
        "submit_alone": middle["submit_alone"],
        "bare_unary_echo": middle["bare_unary_echo"],
        "half_rate": paced,
        "ratios": {
            key: {
                "median": statistics.median_low(r[key] for r in rounds),
                "min": min(r[key] for r in rounds),
                "max": max(r[key] for r in rounds),
            }
            for key in ("lifecycle_to_bare", "submit_to_bare_echo")
        },
        "rounds": [
            {
                "lifecycles_per_s": r["full_lifecycle"]["lifecycles_per_s"],
                "bare_cycles_per_s": r["bare_same_mix"]["cycles_per_s"],
                "lifecycle_to_bare": r["lifecycle_to_bare"],
                "submits_per_s": r["submit_alone"]["submits_per_s"],
                "bare_unary_calls_per_s": r["bare_unary_echo"]["unary_calls_per_s"],
                "submit_to_bare_echo": r["submit_to_bare_echo"],
            }
            for r in rounds
        ],
    }
    print(table(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


def table(r: dict[str, Any]) -> str:
    f, b, s, e, h = (
        r["full_lifecycle"],
        r["bare_same_mix"],
        r["submit_alone"],
        r["bare_unary_echo"],
        r["half_rate"],
    )
    ratios = r["ratios"]

    def ratio(key: str) -> str:
        spread = ratios[key]
        if len(r["rounds"]) == 1:
            return f"ratio {spread['median']:.0%}"
        each = ", ".join(f"{one[key]:.0%}" for one in r["rounds"])
        return f"ratio {spread['median']:.0%} (median; rounds {each})"

    rows = [
        (
            "full lifecycle, flat out",
            f"{f['lifecycles_per_s']:,.0f}/s ({f['plan']['desktops']} desktops); bare transport "
            f"{b['cycles_per_s']:,.0f}/s; {ratio('lifecycle_to_bare')}",
        ),
        (
            "submit alone, flat out",
            f"{s['submits_per_s']:,.0f}/s; bare unary echo {e['unary_calls_per_s']:,.0f}/s; "
            f"{ratio('submit_to_bare_echo')}",
        ),
        *(
            [("rates shown", "those of the round with the median lifecycle ratio")]
            if len(r["rounds"]) > 1
            else []
        ),
        (
            f"submit -> offer at {h['plan']['rate']:.0f}/s",
            f"p50 {h['submit_to_offer']['p50_ms']:.1f} ms, p99 "
            f"{h['submit_to_offer']['p99_ms']:.1f} ms (submit p99 {h['submit']['p99_ms']:.1f} ms)",
        ),
        ("errors", str({**f["errors"], **s["errors"], **h["errors"]} or "none")),
    ]
    width = max(len(a) for a, _ in rows)
    return "\n".join(f"{a.ljust(width)}  {b_}" for a, b_ in rows)


if __name__ == "__main__":
    sys.exit(main())
