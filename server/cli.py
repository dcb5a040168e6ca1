"""The `switchboard` command: serve, replay, conversation, loadtest."""

from __future__ import annotations

import argparse
import asyncio
import sys

from switchboard.server import logging as sb_logging
from switchboard.server.config import ConfigError, load_config
from switchboard.server.storage import StorageError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gRPC server")
    serve.add_argument("--config", required=True, help="YAML configuration file")
    serve.add_argument(
        "--listen",
        default="127.0.0.1:50051",
        help="HOST:PORT to listen on (port 0: any free port) [%(default)s]",
    )
    serve.add_argument("--db", default="switchboard.db", help="SQLite journal file [%(default)s]")
    serve.add_argument(
        "--clock",
        choices=["system", "manual"],
        default="system",
        help="manual: time moves only through AdminService.AdvanceClock or a call carrying "
        "switchboard-at metadata (replays, simulations, tests) [%(default)s]",
    )
    serve.add_argument("--port-file", help="write HOST:PORT here once listening")
    _logging_options(serve)

    from switchboard.clients.conversation_command import add_conversation_command
    from switchboard.clients.loadtest.command import add_loadtest_command
    from switchboard.clients.replay.command import add_replay_command

    add_replay_command(commands)
    add_conversation_command(commands)
    add_loadtest_command(commands)

    args = parser.parse_args(argv)
    sb_logging.configure(
        getattr(args, "log_level", "warning"), getattr(args, "log_format", "console")
    )
    if args.command == "serve":
        problem = listen_problem(args.listen)
        if problem:
            print(f"switchboard: --listen {args.listen}: {problem}", file=sys.stderr)
            return 2
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(f"switchboard: bad configuration: {exc}", file=sys.stderr)
            return 2
        from switchboard.server.app import serve as run_server

        try:
            asyncio.run(
                run_server(
                    config,
                    listen=args.listen,
                    db=args.db,
                    manual_clock=args.clock == "manual",
                    port_file=args.port_file,
                )
            )
        except StorageError as exc:
            print(f"switchboard: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"switchboard: {exc}", file=sys.stderr)
            return 2
        return 0
    return args.run(args)


def listen_problem(listen: str) -> str | None:
    """What is wrong with a HOST:PORT, or None. gRPC itself would wrap a port past 65535."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host:
        return "expected HOST:PORT, e.g. 127.0.0.1:50051"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        return f"{port!r} is not a port (0-65535; 0 picks a free one)"
    return None


def _logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default="info",
        help="[%(default)s]",
    )
    parser.add_argument("--log-format", choices=["console", "json"], default="console")


if __name__ == "__main__":
    sys.exit(main())
