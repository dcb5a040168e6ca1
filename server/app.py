"""Wiring: the clock, the dispatcher, the centre, storage and the gRPC server, in order.

Started in dependency order and stopped in reverse, as Mopidy's core does it.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from switchboard.actors.centre import Centre
from switchboard.actors.clock import ManualClock, SystemClock
from switchboard.actors.errors import FailedPrecondition
from switchboard.actors.runtime import Dispatcher, install_dispatcher
from switchboard.server.admin_service import AdminService
from switchboard.server.clock_control import ClockControl
from switchboard.server.config import Config, ConfigError, load_config
from switchboard.server.desktop_service import DesktopService
from switchboard.server.gateway_service import GatewayService
from switchboard.server.malformed import MalformedRequestInterceptor
from switchboard.server.simulation import SimulationInterceptor
from switchboard.server.storage import Storage
from switchboard.server.supervisor_service import SupervisorService
from switchboard.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    desktop_pb2,
    desktop_pb2_grpc,
    gateway_pb2,
    gateway_pb2_grpc,
    supervisor_pb2,
    supervisor_pb2_grpc,
)

log = structlog.get_logger("switchboard.server")

MAX_PENDING_CALLS = 50_000
GRPC_OPTIONS = [
    # Desktops reconnecting all at once must not be dropped (DESIGN.md, reconnect storms).
    ("grpc.max_concurrent_streams", 100_000),
    # Calls that arrive faster than the server asks gRPC core for them wait in core's pending
    # list; past 1,000 of them core starts cancelling new ones, and past 3,000 cancels them
    # all (`CANCELLED` with no reason given). A burst of 5,000 reads, or 10,000 desktops
    # reconnecting, is ordinary here, so the list may hold what 10,000 desktops and their
    # gateways have in flight at once.
    ("grpc.server.max_pending_requests", MAX_PENDING_CALLS),
    ("grpc.server.max_pending_requests_hard_limit", MAX_PENDING_CALLS),
    ("grpc.so_reuseport", 0),
    ("grpc.max_receive_message_length", 1024 * 1024),
]
SHUTDOWN_GRACE_S = 5.0
# The garbage collector's thresholds once the server is up (Python's are 700, 10, 10). A
# full collection pauses everything for 15-60 ms with 1,000 desktops connected, and with
# the default thresholds one came every few seconds under load: the work in flight in
# every young collection is promoted, and the promoted soon make the quarter of the old
# generation that sets off a full one. Fewer young collections promote less: at 369
# submits/s with 1,000 desktops the longest submit -> offer fell from 53-61 ms to 16-21 ms
# and the p99 from 5.7-8.1 to 4.7-5.1 ms, and flat out the server's CPU per lifecycle from
# 1,476-1,526 to 1,298-1,321 us (3 pairs of runs each; bench/README.md). Cycles are still
# collected, only in larger batches; memory held did not change.
GC_THRESHOLDS = (20_000, 20, 100)


@dataclass
class Running:
    server: grpc.aio.Server
    port: int
    centre: Centre
    storage: Storage
    dispatcher: Dispatcher
    desktops: DesktopService

    config_path: str | None = None

    def reload(self) -> list[str]:
        """Read the configuration file again and apply it; raises ConfigError (nothing
        changed) or FailedPrecondition (a change that needs a restart)."""
        if self.config_path is None:
            raise FailedPrecondition("this server was not started from a configuration file")
        config = load_config(self.config_path)
        changes = self.centre.reload(
            config.settings, config.streams, list(config.queues), list(config.agents)
        )
        log.info("server.reloaded", config=self.config_path, changes=changes)
        return changes

    async def stop(self, grace: float = SHUTDOWN_GRACE_S) -> None:
        """Stop taking calls, end desktop streams with UNAVAILABLE, flush, stop actors."""
        started = time.monotonic()
        log.info("server.stopping")
        self.desktops.close_all("server shutting down")
        self.centre.end_watches("server shutting down")
        try:
            # gRPC waits for calls to finish within the grace; a client that stopped reading
            # can hold a stream past it, so the wait itself is bounded too.
            await asyncio.wait_for(self.server.stop(grace), grace + 1.0)
        except TimeoutError:
            log.warning("server.stop_overran", grace=grace)
        calls_done = time.monotonic()
        await self.dispatcher.settled()
        await self.storage.close()
        self.centre.stop()
        log.info(
            "server.stopped",
            seconds=round(time.monotonic() - started, 3),
            calls_seconds=round(calls_done - started, 3),
        )


async def _recover(centre: Centre, storage: Storage, clock: Any, dispatcher: Dispatcher) -> None:
    """Put back what the journal holds before the first call is taken."""
    started = time.perf_counter()
    saved = await storage.load()
    if getattr(clock, "manual", False) and saved.clock is not None:
        await clock.advance_to(saved.clock, dispatcher.settled)  # time never goes back
    where = centre.recover(saved)
    await dispatcher.settled()
    log.info(
        "server.recovered",
        conversations=sum(where.values()),
        seconds=round(time.perf_counter() - started, 3),
        **where,
    )


async def start(
    config: Config,
    *,
    listen: str,
    db: str,
    manual_clock: bool = False,
    clock_start: float = 0.0,
    config_path: str | None = None,
) -> Running:
    dispatcher = install_dispatcher()
    clock = ManualClock(clock_start) if manual_clock else SystemClock()
    storage = Storage(db)
    centre = Centre(
        clock=clock,
        settings=config.settings,
        streams=config.streams,
        queues=list(config.queues),
        agents=list(config.agents),
        journal=storage,
    )
    await dispatcher.settled()
    clock_control = ClockControl(centre, dispatcher)
    server = grpc.aio.server(
        options=GRPC_OPTIONS,
        interceptors=[MalformedRequestInterceptor(), SimulationInterceptor(clock_control)],
    )
    desktops = DesktopService(centre, storage)
    gateway_pb2_grpc.add_GatewayServiceServicer_to_server(GatewayService(centre, storage), server)
    desktop_pb2_grpc.add_DesktopServiceServicer_to_server(desktops, server)
    supervisor_pb2_grpc.add_SupervisorServiceServicer_to_server(SupervisorService(centre), server)
    admin = AdminService(centre, dispatcher, clock_control)
    admin_pb2_grpc.add_AdminServiceServicer_to_server(admin, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    services = [
        d.services_by_name[name].full_name
        for d, name in [
            (gateway_pb2.DESCRIPTOR, "GatewayService"),
            (desktop_pb2.DESCRIPTOR, "DesktopService"),
            (supervisor_pb2.DESCRIPTOR, "SupervisorService"),
            (admin_pb2.DESCRIPTOR, "AdminService"),
        ]
    ]
    reflection.enable_server_reflection(
        [*services, reflection.SERVICE_NAME, "grpc.health.v1.Health"], server
    )
    # Bind before opening the journal, so that a taken port leaves no file behind.
    try:
        port = server.add_insecure_port(listen)
    except RuntimeError as exc:  # grpc's way of saying the address cannot be bound
        msg = f"cannot listen on {listen}: the address is in use or not valid for this host"
        raise OSError(msg) from exc
    await storage.open()
    await _recover(centre, storage, clock, dispatcher)
    await server.start()
    health_names = ["", *services]  # the server as a whole, and each service
    for name in health_names:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    storage.on_failing = _health_follows(health_servicer, health_names)
    log.info(
        "server.started",
        listen=listen,
        port=port,
        db=db,
        clock="manual" if manual_clock else "system",
        queues=len(centre.queues),
        agents=len(centre.agents),
        work_streams=len(centre.streams),
    )
    running = Running(server, port, centre, storage, dispatcher, desktops, config_path)
    admin.reload = running.reload
    return running


def _health_follows(health_servicer: Any, names: list[str]) -> Callable[[bool], None]:
    """What the journal calls when its commits start or stop failing (a full disk, a file
    taken away): nothing can be acknowledged meanwhile, so health checking says NOT_SERVING
    and a load balancer or an orchestrator can act on it."""
    setting: set[asyncio.Task] = set()  # kept until done: the loop holds tasks weakly

    def journal_failing(failing: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.NOT_SERVING
            if failing
            else health_pb2.HealthCheckResponse.SERVING
        )
        log.warning("server.health", status="not_serving" if failing else "serving")
        for name in names:
            task = asyncio.ensure_future(health_servicer.set(name, status))
            setting.add(task)
            task.add_done_callback(setting.discard)

    return journal_failing


async def serve(
    config: Config, *, listen: str, db: str, manual_clock: bool, port_file: str | None = None
) -> None:
    running = await start(
        config, listen=listen, db=db, manual_clock=manual_clock, config_path=config.source
    )
    # Everything built at start-up lives as long as the server: keep it out of GC passes
    # (measured in DESIGN.md to roughly halve tail latency with 100k live objects).
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    host = listen.rsplit(":", 1)[0]
    address = f"{host}:{running.port}"
    print(f"switchboard listening on {address}", flush=True)
    if port_file:
        with open(port_file, "w", encoding="utf-8") as f:
            f.write(address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, _reload_logged, running)
    await stop.wait()
    await running.stop()


def _reload_logged(running: Running) -> None:
    """SIGHUP: reload; a bad file is logged and changes nothing."""
    try:
        running.reload()
    except (ConfigError, FailedPrecondition) as exc:
        log.error("server.reload_refused", reason=str(exc))
