"""AdminService: provisioning agents, and driving a manual clock."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from switchboard.actors.centre import Centre
from switchboard.actors.errors import FailedPrecondition, InvalidArgument
from switchboard.actors.runtime import Dispatcher
from switchboard.server import translate, validation
from switchboard.server.clock_control import LAST_TIMESTAMP_S, ClockControl
from switchboard.server.config import ConfigError
from switchboard.server.errors import unary
from switchboard.v1 import admin_pb2, admin_pb2_grpc


class AdminService(admin_pb2_grpc.AdminServiceServicer):
    def __init__(self, centre: Centre, dispatcher: Dispatcher, clock: ClockControl) -> None:
        self.centre = centre
        self.dispatcher = dispatcher
        self.clock = clock
        self.reload: Callable[[], list[str]] | None = None  # set once the server is wired

    @unary
    async def UpsertAgent(
        self, request: admin_pb2.UpsertAgentRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.UpsertAgentResponse:
        created = self.centre.upsert_agent(
            validation.require_id("agent_id", request.agent_id),
            validation.text("name", request.name, validation.MAX_NAME),
            request.capacity,
            validation.skills("skills", request.skills),
            tuple(validation.require_id("queue_ids", q) for q in request.queue_ids),
        )
        return admin_pb2.UpsertAgentResponse(created=created)

    @unary
    async def AdvanceClock(
        self, request: admin_pb2.AdvanceClockRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.AdvanceClockResponse:
        if request.HasField("to") and not (
            0 <= request.to.seconds <= LAST_TIMESTAMP_S and 0 <= request.to.nanos < 10**9
        ):
            raise InvalidArgument(
                f"to must lie between 1970-01-01 and 9999-12-31 (got {request.to.seconds} s)"
            )
        target = translate.seconds_of(request.to) if request.HasField("to") else None
        fired = await self.clock.advance(target)
        return self.clock.where_things_are(fired)

    @unary
    async def GetClock(
        self, request: admin_pb2.GetClockRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.GetClockResponse:
        clock = self.centre.clock
        return admin_pb2.GetClockResponse(
            now=translate.timestamp(clock.now()), manual=getattr(clock, "manual", False)
        )

    @unary
    async def ReloadConfig(
        self, request: admin_pb2.ReloadConfigRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ReloadConfigResponse:
        if self.reload is None:
            raise FailedPrecondition("reloading is not wired on this server")
        try:
            changes = self.reload()
        except ConfigError as exc:
            raise InvalidArgument(f"the configuration was not reloaded: {exc}") from None
        await self.dispatcher.settled()
        return admin_pb2.ReloadConfigResponse(changes=changes)
