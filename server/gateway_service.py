"""GatewayService: what channel gateways call on behalf of customers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from switchboard.actors import messages as m
from switchboard.actors.centre import Centre
from switchboard.actors.errors import NotFound
from switchboard.actors.gateway_watch import GatewayWatch
from switchboard.server import translate, validation
from switchboard.server.errors import streaming, unary
from switchboard.server.lookups import open_conversation
from switchboard.server.storage import Storage
from switchboard.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc


class GatewayService(gateway_pb2_grpc.GatewayServiceServicer):
    def __init__(self, centre: Centre, storage: Storage) -> None:
        self.centre = centre
        self.storage = storage

    @unary
    async def SubmitWork(
        self, request: gateway_pb2.SubmitWorkRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.SubmitWorkResponse:
        stream_id = validation.require_id("work_stream_id", request.work_stream_id)
        retry = bool(request.client_key) and self.centre.submitted_before(request.client_key)
        conversation_id, queue_id = self.centre.submit(
            stream_id,
            customer_id=validation.optional_id("customer.id", request.customer.id),
            customer_attributes=validation.string_map(
                "customer.attributes", request.customer.attributes
            ),
            context=validation.string_map("context", request.context),
            priority=validation.priority(request.priority),
            required_skills=validation.skills("required_skills", request.required_skills),
            preferred_agent_ids=tuple(
                validation.require_id(f"preferred_agent_ids[{i}]", agent_id)
                for i, agent_id in enumerate(request.preferred_agent_ids)
            ),
            client_key=validation.optional_id("client_key", request.client_key),
        )
        state = common_pb2.CONVERSATION_STATE_OPEN
        if retry:
            # Say where the conversation is now, not where it was at first.
            snapshot = await self.centre.conversation_snapshot(conversation_id)
            if snapshot is not None:
                state = translate.STATE_TO_PROTO[snapshot.state]
                queue_id = snapshot.ticket.work.queue_id
        return gateway_pb2.SubmitWorkResponse(
            conversation_id=conversation_id, queue_id=queue_id, state=state
        )

    @unary
    async def GetConversation(
        self, request: gateway_pb2.GetConversationRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.GetConversationResponse:
        cid = validation.require_id("conversation_id", request.conversation_id)
        snapshot = await self.centre.conversation_snapshot(cid)
        if snapshot is not None:
            return gateway_pb2.GetConversationResponse(
                conversation=translate.conversation(snapshot)
            )
        stored = await self.storage.find_conversation(cid)
        if stored is None:
            raise NotFound(f"unknown conversation {cid!r}")
        return gateway_pb2.GetConversationResponse(conversation=stored)

    @unary
    async def AbandonConversation(
        self, request: gateway_pb2.AbandonConversationRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.AbandonConversationResponse:
        cid = validation.require_id("conversation_id", request.conversation_id)
        reason = request.reason[:200]
        conversation = await open_conversation(self.centre, self.storage, cid)
        state = await conversation.ask(m.CustomerAbandons(reason), block=False)
        return gateway_pb2.AbandonConversationResponse(state=translate.STATE_TO_PROTO[state])

    @unary
    async def EndConversation(
        self, request: gateway_pb2.GatewayEndConversationRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.GatewayEndConversationResponse:
        cid = validation.require_id("conversation_id", request.conversation_id)
        conversation = await open_conversation(self.centre, self.storage, cid)
        state = await conversation.ask(m.CustomerEnds(), block=False)
        return gateway_pb2.GatewayEndConversationResponse(state=translate.STATE_TO_PROTO[state])

    @unary
    async def RecordCustomerMessage(
        self, request: gateway_pb2.RecordCustomerMessageRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.RecordCustomerMessageResponse:
        cid = validation.require_id("conversation_id", request.conversation_id)
        conversation = await open_conversation(self.centre, self.storage, cid)
        state = await conversation.ask(m.CustomerWrites(), block=False)
        return gateway_pb2.RecordCustomerMessageResponse(state=translate.STATE_TO_PROTO[state])

    @streaming
    async def WatchConversations(
        self, request: gateway_pb2.WatchConversationsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gateway_pb2.WatchConversationsResponse]:
        stream_ids = frozenset(
            validation.require_id("work_stream_ids", s) for s in request.work_stream_ids
        )
        unknown = sorted(stream_ids - set(self.centre.streams))
        if unknown:
            raise NotFound(f"unknown work stream(s) {', '.join(unknown)}")
        watch = self.centre.watch(stream_ids)
        try:
            # First message: the watch is in place; nothing after it is missed.
            yield gateway_pb2.WatchConversationsResponse(kind="watching")
            while True:
                event = await watch.events.get()
                if event is GatewayWatch.CLOSE:
                    break
                yield gateway_pb2.WatchConversationsResponse(
                    conversation_id=event.conversation_id,
                    work_stream_id=event.work_stream_id,
                    state=translate.STATE_TO_PROTO[event.state],
                    kind=event.kind,
                    reason=event.reason,
                    detail=event.detail,
                    at=translate.timestamp(event.at),
                    queue_id=event.queue_id,
                )
        finally:
            self.centre.unwatch(watch)
        await context.abort(grpc.StatusCode.UNAVAILABLE, f"watch ended: {watch.closed_reason}")
