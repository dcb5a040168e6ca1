"""`switchboard replay FILE`: play a day of the bank's calls and print the report."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from pathlib import Path

import grpc
from switchboard.clients.connection import Connection
from switchboard.clients.replay.bankday import BankDay, load_day, parse_clock
from switchboard.clients.replay.driver import Replay
from switchboard.clients.replay.figures import bank_figures, figures_of
from switchboard.clients.replay.report import render
from switchboard.clients.server_process import ServerProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "bank"
DEFAULT_CONFIG = EXAMPLES / "switchboard.yaml"


def add_replay_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "replay",
        help="replay a day of the bank's calls through a server and report",
        description="Replays a day of the Anonymous Bank log over gRPC: the gateway and one "
        "desktop per agent. Without --server, starts its own server (manual "
        "clock) with --config and stops it at the end.",
    )
    parser.add_argument(
        "file", help="the day's CSV file (e.g. examples/bank/anonbank-1999-08-01.csv)"
    )
    parser.add_argument(
        "--server", help="HOST:PORT of a running server started with --clock manual"
    )
    parser.add_argument(
        "--config",
        default=str(DEFAULT_CONFIG),
        help="configuration for the server the replay starts [%(default)s]",
    )
    parser.add_argument("--server-log", help="where the started server logs [a temporary file]")
    parser.add_argument("--from", dest="start", help="only calls queued from HH:MM:SS on")
    parser.add_argument("--until", help="only calls queued before HH:MM:SS")
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default="warning",
        help="the replay's and the started server's [%(default)s]",
    )
    parser.add_argument(
        "--log-format",
        choices=["console", "json"],
        default="console",
        help="the replay's and the started server's [%(default)s]",
    )
    parser.set_defaults(run=run_command)


def slice_day(day: BankDay, start: str | None, until: str | None) -> BankDay:
    """The calls queued in [start, until), and the shifts clipped to that window."""
    if not start and not until:
        return day
    low = parse_clock(start) if start else 0.0
    high = parse_clock(until) if until else float("inf")
    if low >= high:
        msg = f"--from {start} is not before --until {until}"
        raise ValueError(msg)
    calls = tuple(c for c in day.calls if low <= c.queued_at < high)
    if not calls:
        msg = f"no call of {day.date} was queued between {start or '0:00:00'} and {until or 'midnight'}"
        raise ValueError(msg)
    shifts = tuple(
        dataclasses.replace(s, start=max(s.start, low), end=min(s.end, high))
        for s in day.shifts
        if s.end > low and s.start < high
    )
    bank_agents = {c.bank_server for c in calls if c.bank_server}
    shifts = tuple(s for s in shifts if s.agent_id in bank_agents or s.end > s.start)
    return dataclasses.replace(day, calls=calls, shifts=shifts)


def run_command(args: argparse.Namespace) -> int:
    try:
        day = slice_day(load_day(args.file), args.start, args.until)
    except (OSError, ValueError) as exc:
        print(f"switchboard replay: {exc}", file=sys.stderr)
        return 2
    server = None
    address = args.server
    if address is None:
        server = ServerProcess(
            args.config,
            log_file=args.server_log,
            log_level=args.log_level,
            extra_args=["--log-format", args.log_format],
        )
        try:
            address = server.start()
        except RuntimeError as exc:
            print(f"switchboard replay: {exc}", file=sys.stderr)
            return 2
        print(f"started a server on {address} (manual clock)", file=sys.stderr)
    try:
        started = time.monotonic()
        outcome = asyncio.run(replay(address, day))
        wall = time.monotonic() - started
    except ReplayRefused as exc:
        print(f"switchboard replay: {exc}", file=sys.stderr)
        return 2
    finally:
        code = server.stop() if server is not None else 0
    ours = figures_of(outcome.results, submitted=len(day.calls))
    bank = bank_figures(day)
    title = (
        day.date
        if not (args.start or args.until)
        else (f"{day.date}, calls queued {args.start or '0:00:00'}-{args.until or '24:00:00'}")
    )
    print(render(title, ours, bank, wall_seconds=wall, violations=outcome.violations))
    print(f"{outcome.events} events, {outcome.rpcs} gRPC calls", file=sys.stderr)
    for error in outcome.errors:
        print(f"replay error: {error}", file=sys.stderr)
    failed = bool(outcome.violations or outcome.errors or code != 0)
    if server is not None:
        state = "cleanly" if code == 0 else f"with exit code {code}"
        print(f"server shut down {state}", file=sys.stderr)
        if failed or args.server_log:
            print(f"server log: {server.log_path}", file=sys.stderr)
        else:
            server.clean_up()
    return 1 if failed else 0


class ReplayRefused(Exception):
    """The replay cannot run against this server; the message says why."""


async def replay(address: str, day: BankDay):
    async with Connection(address) as connection:
        try:
            await connection.wait_ready()
        except TimeoutError:
            raise ReplayRefused(f"no server answers at {address}") from None
        try:
            return await Replay(connection, day).run()
        except RuntimeError as exc:
            raise ReplayRefused(str(exc)) from None
        except grpc.aio.AioRpcError as exc:
            raise ReplayRefused(
                f"the server refused a call: {exc.code().name}: {exc.details()}"
            ) from None
