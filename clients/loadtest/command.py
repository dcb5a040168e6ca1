"""`switchboard loadtest`: drive a server hard with desktops and a gateway, report figures.

    switchboard loadtest [--target HOST:PORT | --serve] [--desktops 1000] [--processes 1]
                         [--rate N | --max] [--duration 10] [--handle-time 0] [--wrap-time 0]
                         [--drain 10] [--json FILE]

With `--serve` it starts `switchboard serve` on the bundled configuration
(examples/loadtest/switchboard.yaml, system clock, a fresh journal) and stops it after.
`--processes N` splits the desktops and the rate over N processes (each with its own
connections), for when one Python client process is the bottleneck; their figures are merged.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
from switchboard.clients.loadtest.run import OpenWork, Plan, run_plan, share
from switchboard.clients.loadtest.stats import summary

BUNDLED_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "loadtest" / "switchboard.yaml"


def add_loadtest_command(commands: Any) -> None:
    p = commands.add_parser("loadtest", help="drive a server with desktops and submits")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--target", help="HOST:PORT of a running server (system clock)")
    target.add_argument(
        "--serve", action="store_true", help="start a server on the bundled configuration"
    )
    p.add_argument("--config", default=str(BUNDLED_CONFIG), help="with --serve [%(default)s]")
    p.add_argument(
        "--desktops", type=_count(0), default=1000, help="agents signed in [%(default)s]"
    )
    p.add_argument("--capacity", type=_count(1), default=1, help="per agent [%(default)s]")
    p.add_argument("--processes", type=_count(1), default=1, help="client processes [%(default)s]")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument(
        "--rate", type=_seconds(positive=True), default=0.0, help="submits per second, in all"
    )
    rate.add_argument("--max", action="store_true", help="as fast as possible (the default)")
    p.add_argument(
        "--concurrency",
        type=_count(1),
        default=64,
        help="submits in flight per process [%(default)s]",
    )
    p.add_argument(
        "--duration",
        type=_seconds(positive=True),
        default=10.0,
        help="seconds of submitting [%(default)s]",
    )
    p.add_argument(
        "--drain",
        type=_seconds(),
        default=10.0,
        help="after the last submit, seconds to wait for open work to close [%(default)s]",
    )
    p.add_argument(
        "--handle-time",
        type=_seconds(),
        default=0.0,
        help="seconds an agent holds work [%(default)s]",
    )
    p.add_argument(
        "--wrap-time", type=_seconds(), default=0.0, help="seconds of wrap-up [%(default)s]"
    )
    p.add_argument(
        "--warmup", type=_seconds(), default=1.0, help="seconds whose latencies are not kept [1]"
    )
    p.add_argument("--queue", default="load", help="queue the agents serve [%(default)s]")
    p.add_argument("--stream", default="load", help="work stream to submit to [%(default)s]")
    p.add_argument(
        "--agent-prefix", default="load-", help="agent ids are PREFIX0, PREFIX1, ... [%(default)s]"
    )
    p.add_argument(
        "--reconnect",
        action="store_true",
        help="at the end, drop every desktop and reconnect them all at once",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--json", help="write the figures to this file as JSON")
    p.set_defaults(run=run_command)


def _count(least: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value

    return parse


def _seconds(*, positive: bool = False) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            wanted = "a number above 0" if positive else "a number, 0 or more"
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value

    return parse


def run_command(args: argparse.Namespace) -> int:
    server = None
    address = args.target
    if args.serve:
        from switchboard.clients.server_process import ServerProcess

        server = ServerProcess(args.config, manual_clock=False)
        address = server.start()
        print(f"server started on {address}", file=sys.stderr)
    try:
        plan = Plan(
            address=address,
            desktops=args.desktops,
            agent_prefix=args.agent_prefix,
            queue=args.queue,
            stream=args.stream,
            capacity=args.capacity,
            rate=args.rate,
            concurrency=args.concurrency,
            duration_s=args.duration,
            handle_s=args.handle_time,
            wrap_s=args.wrap_time,
            warmup_s=args.warmup,
            drain_s=args.drain,
            reconnect=args.reconnect,
            progress=not args.quiet,
        )
        try:
            figures = run_load(plan, args.processes)
        except TimeoutError:
            print(f"switchboard loadtest: no server answered at {address}", file=sys.stderr)
            return 2
        except grpc.RpcError as exc:  # set-up refused: unknown queue, server not there...
            print(
                f"switchboard loadtest: the server at {address} refused the set-up: "
                f"{exc.code().name}: {exc.details()}",  # type: ignore[attr-defined]
                file=sys.stderr,
            )
            return 2
    finally:
        if server is not None:
            server.stop()
            server.clean_up()
    print(report(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 1 if figures["errors"] else 0


def split(plan: Plan, processes: int) -> list[Plan]:
    """The plan shared out: each process its own agents and its part of the rate."""
    plans = []
    first = 0
    for k in range(processes):
        desktops = plan.desktops // processes + (1 if k < plan.desktops % processes else 0)
        plans.append(
            replace(
                plan,
                desktops=desktops,
                first_agent=plan.first_agent + first,
                rate=plan.rate / processes,
                label=f"[{k}] " if processes > 1 else "",
            )
        )
        first += desktops
    return plans


def run_load(plan: Plan, processes: int = 1) -> dict[str, Any]:
    started = time.perf_counter()
    if processes <= 1:
        outcomes = [run_plan(plan)]
    else:
        context = multiprocessing.get_context("spawn")
        shared = OpenWork(processes, context)
        with context.Pool(processes, initializer=share, initargs=(shared,)) as pool:
            outcomes = pool.map(run_plan, split(plan, processes))
    return merge(plan, processes, outcomes, time.perf_counter() - started)


def merge(
    plan: Plan, processes: int, outcomes: list[dict[str, Any]], wall_s: float
) -> dict[str, Any]:
    """One set of figures from every process's outcome."""

    def total(name: str) -> int:
        return sum(o[name] for o in outcomes)

    def joined(name: str) -> list[float]:
        return [v for o in outcomes for v in o[name]]

    submit_wall = max(o["submit_wall_s"] for o in outcomes) or 1e-9
    errors: dict[str, int] = {}
    for o in outcomes:
        for kind, n in o["errors"].items():
            errors[kind] = errors.get(kind, 0) + n
    return {
        "plan": {
            "desktops": plan.desktops,
            "processes": processes,
            "rate": plan.rate or "max",
            "concurrency_per_process": plan.concurrency,
            "duration_s": plan.duration_s,
            "handle_s": plan.handle_s,
            "wrap_s": plan.wrap_s,
            "warmup_s": plan.warmup_s,
        },
        "submitted": total("submitted"),
        "offered": total("offered"),
        "accepted": total("accepted"),
        "closed": total("closed"),
        "submits_per_s": round(total("submitted") / submit_wall, 1),
        # Over the time from the first submit to the last close: work closed while the
        # last submits drain counts, and so does the time it took.
        "lifecycles_per_s": round(
            total("closed") / max(submit_wall, *(o["finish_s"] for o in outcomes)), 1
        ),
        "desktop_messages": total("desktop_messages"),
        "submit": summary(joined("submit_ms")),
        "submit_to_offer": summary(joined("submit_to_offer_ms")),
        "submit_to_accepted": summary(joined("submit_to_accepted_ms")),
        "connect_s": round(max(o["connect_s"] for o in outcomes), 3),
        "reconnected": total("reconnected"),
        "reconnect_failed": total("reconnect_failed"),
        "reconnect_s": round(max(o["reconnect_s"] for o in outcomes), 3),
        "submit_wall_s": round(submit_wall, 3),
        "wall_s": round(wall_s, 3),
        "errors": errors,
    }


def report(f: dict[str, Any]) -> str:
    p = f["plan"]
    lines = [
        f"load test: {p['desktops']:,} desktops in {p['processes']} process(es), rate "
        f"{p['rate']}, {p['duration_s']:g} s, handle {p['handle_s']:g} s, wrap {p['wrap_s']:g} s",
        f"  desktops connected in {f['connect_s']:.2f} s",
        f"  submitted {f['submitted']:,} ({f['submits_per_s']:,.0f}/s); offered "
        f"{f['offered']:,}; accepted {f['accepted']:,}; closed {f['closed']:,} "
        f"({f['lifecycles_per_s']:,.0f} full lifecycles/s)",
    ]
    for name in ("submit", "submit_to_offer", "submit_to_accepted"):
        s = f[name]
        label = f"  {name.replace('_', ' ').replace(' to ', ' -> '):22}"
        if not s["count"]:
            lines.append(f"{label} no samples")  # (warm-up only, or nothing got that far)
            continue
        lines.append(
            f"{label} p50 {s['p50_ms']:7.2f} ms  "
            f"p90 {s['p90_ms']:7.2f} ms  p99 {s['p99_ms']:7.2f} ms  max {s['max_ms']:7.2f} ms"
        )
    if f["reconnected"] or f["reconnect_failed"]:
        lines.append(
            f"  all desktops reconnecting at once: {f['reconnected']:,} back in "
            f"{f['reconnect_s']:.2f} s, {f['reconnect_failed']} failed"
        )
    if not f["errors"]:
        lines.append("  errors: none")
    else:
        lines.append("  errors:")
        for what, count in sorted(f["errors"].items(), key=lambda item: -item[1]):
            lines.append(f"    {count:>9,}  {what}")
    return "\n".join(lines)
