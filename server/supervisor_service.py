"""SupervisorService: views of queues and agents, and force-assigning work."""

from __future__ import annotations

import asyncio

import grpc
from switchboard.actors.centre import Centre
from switchboard.server import translate, validation
from switchboard.server.errors import unary
from switchboard.v1 import supervisor_pb2, supervisor_pb2_grpc


class SupervisorService(supervisor_pb2_grpc.SupervisorServiceServicer):
    def __init__(self, centre: Centre) -> None:
        self.centre = centre

    @unary
    async def ListQueues(
        self, request: supervisor_pb2.ListQueuesRequest, context: grpc.aio.ServicerContext
    ) -> supervisor_pb2.ListQueuesResponse:
        snapshots = await asyncio.gather(
            *(self.centre.queue_snapshot(q) for q in self.centre.queues)
        )
        now = self.centre.clock.now()
        return supervisor_pb2.ListQueuesResponse(
            queues=[translate.queue_status(s, now) for s in snapshots]
        )

    @unary
    async def GetQueue(
        self, request: supervisor_pb2.GetQueueRequest, context: grpc.aio.ServicerContext
    ) -> supervisor_pb2.GetQueueResponse:
        snapshot = await self.centre.queue_snapshot(
            validation.require_id("queue_id", request.queue_id)
        )
        return supervisor_pb2.GetQueueResponse(
            queue=translate.queue_status(snapshot, self.centre.clock.now())
        )

    @unary
    async def ListAgents(
        self, request: supervisor_pb2.ListAgentsRequest, context: grpc.aio.ServicerContext
    ) -> supervisor_pb2.ListAgentsResponse:
        snapshots = await asyncio.gather(
            *(self.centre.agent_snapshot(a) for a in self.centre.agents)
        )
        return supervisor_pb2.ListAgentsResponse(
            agents=[translate.agent_status(s) for s in snapshots]
        )

    @unary
    async def GetAgent(
        self, request: supervisor_pb2.GetAgentRequest, context: grpc.aio.ServicerContext
    ) -> supervisor_pb2.GetAgentResponse:
        snapshot = await self.centre.agent_snapshot(
            validation.require_id("agent_id", request.agent_id)
        )
        return supervisor_pb2.GetAgentResponse(agent=translate.agent_status(snapshot))

    @unary
    async def AssignConversation(
        self, request: supervisor_pb2.AssignConversationRequest, context: grpc.aio.ServicerContext
    ) -> supervisor_pb2.AssignConversationResponse:
        cid = validation.require_id("conversation_id", request.conversation_id)
        agent_id = validation.require_id("agent_id", request.agent_id)
        over = await self.centre.take(agent_id, cid, force=True)
        snapshot = await self.centre.conversation_snapshot(cid)
        response = supervisor_pb2.AssignConversationResponse(over_capacity=over)
        if snapshot is not None:
            response.conversation.CopyFrom(translate.conversation(snapshot))
        return response
