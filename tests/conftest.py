"""Shared fixtures: a real Switchboard server on a loopback port, in the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from switchboard.clients.connection import Connection
from switchboard.server import logging as sb_logging
from switchboard.server.app import Running, start
from switchboard.server.config import parse_config

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

sb_logging.configure("warning")


class ServerHarness:
    """Starts a server from YAML text and hands out connections to it."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.running: Running | None = None
        self.connections: list[Connection] = []

    async def start(
        self,
        yaml_text: str,
        *,
        manual_clock: bool = True,
        clock_start: float = 0.0,
        db: str | None = None,
    ) -> Connection:
        self.config_path = self.tmp_path / "centre.yaml"
        self.config_path.write_text(yaml_text)
        config = parse_config(yaml_text, str(self.config_path))
        self.running = await start(
            config,
            listen="127.0.0.1:0",
            db=db or str(self.tmp_path / "switchboard.db"),
            manual_clock=manual_clock,
            clock_start=clock_start,
            config_path=str(self.config_path),
        )
        return self.connect()

    def connect(self) -> Connection:
        assert self.running is not None
        connection = Connection(f"127.0.0.1:{self.running.port}")
        self.connections.append(connection)
        return connection

    async def stop(self) -> None:
        for connection in self.connections:
            await connection.close()
        if self.running is not None:
            await self.running.stop(grace=0.5)
            self.running = None


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[ServerHarness]:
    h = ServerHarness(tmp_path)
    try:
        yield h
    finally:
        await h.stop()
