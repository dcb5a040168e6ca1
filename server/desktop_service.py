"""DesktopService: the agent desktop's stream and the calls it answers offers with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import structlog
from switchboard.actors import messages as m
from switchboard.actors.centre import Centre
from switchboard.actors.desktop_link import DesktopLink
from switchboard.actors.domain.model import ConversationState, Presence
from switchboard.actors.errors import FailedPrecondition, InvalidArgument
from switchboard.server import translate, validation
from switchboard.server.errors import streaming, unary
from switchboard.server.lookups import open_conversation
from switchboard.server.storage import KEPT_DESKTOP_MESSAGES, Storage
from switchboard.v1 import common_pb2, desktop_pb2, desktop_pb2_grpc

log = structlog.get_logger("switchboard.desktop")


class DesktopService(desktop_pb2_grpc.DesktopServiceServicer):
    def __init__(self, centre: Centre, storage: Storage) -> None:
        self.centre = centre
        self.storage = storage

    @streaming
    async def Connect(
        self, request: desktop_pb2.ConnectRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[desktop_pb2.ConnectResponse]:
        agent_id = validation.require_id("agent_id", request.agent_id)
        agent = self.centre.agent(agent_id)
        presence, custom = None, ""
        if request.presence != common_pb2.PRESENCE_UNSPECIFIED or request.custom_presence:
            presence, custom = self._chosen_presence(request)
        resume_after = (
            request.resume_after_sequence if request.HasField("resume_after_sequence") else None
        )
        link = self.centre.new_link(agent_id)
        try:
            _, before = await agent.ask(
                m.Connect(link, presence, custom, resume_after), block=False
            )
            if resume_after is not None and resume_after < before:
                missed = await self.storage.desktop_messages(agent_id, resume_after, before)
                if len(missed) < before - resume_after:
                    raise FailedPrecondition(
                        f"messages after {resume_after} are no longer kept for agent "
                        f"{agent_id} (only the last {KEPT_DESKTOP_MESSAGES}); connect without "
                        "resume_after_sequence to start from the agent's full state"
                    )
                for message in missed:
                    yield desktop_pb2.ConnectResponse.FromString(message)
            while True:
                item = await link.outbox.get()
                if item is DesktopLink.CLOSE:
                    break
                yield translate.desktop_message(item)
        finally:
            link.detach()
            if agent.is_alive():
                agent.tell(m.Disconnect(link))
        # The engine ended the stream (a newer connection, or shutdown): say so.
        code = (
            grpc.StatusCode.UNAVAILABLE
            if link.closed_reason == "server shutting down"
            else grpc.StatusCode.ABORTED
        )
        await context.abort(code, f"desktop stream ended: {link.closed_reason}")

    def close_all(self, reason: str) -> None:
        for link in list(self.centre.pushes.links):
            link.close(reason)

    @unary
    async def SetPresence(
        self, request: desktop_pb2.SetPresenceRequest, context: grpc.aio.ServicerContext
    ) -> desktop_pb2.SetPresenceResponse:
        agent = self.centre.agent(validation.require_id("agent_id", request.agent_id))
        presence, custom = self._chosen_presence(request)
        shown = await agent.ask(m.SetPresence(presence, custom), block=False)
        return desktop_pb2.SetPresenceResponse(
            presence=translate.PRESENCE_TO_PROTO[shown],
            custom_presence=custom if shown is presence else "",
        )

    def _chosen_presence(self, request: Any) -> tuple[Presence, str]:
        """A base presence, or a custom one configured in settings.custom_presences."""
        name = request.custom_presence
        if not name:
            return translate.presence_from_proto(request.presence), ""
        known = self.centre.settings.custom_presences
        if name not in known:
            listed = ", ".join(sorted(known)) or "none are configured"
            raise InvalidArgument(
                f"custom_presence {name!r} is not configured (settings.custom_presences: {listed})"
            )
        base = known[name]
        if request.presence not in (
            common_pb2.PRESENCE_UNSPECIFIED,
            translate.PRESENCE_TO_PROTO[base],
        ):
            raise InvalidArgument(
                f"custom presence {name!r} is {base.value}; leave presence unset or set it to "
                f"{common_pb2.Presence.Name(translate.PRESENCE_TO_PROTO[base])}"
            )
        return base, name

    @unary
    async def AcceptOffer(
        self, request: desktop_pb2.AcceptOfferRequest, context: grpc.aio.ServicerContext
    ) -> desktop_pb2.AcceptOfferResponse:
        agent, cid = await self._agent_and_conversation(request)
        await agent.ask(m.AcceptOffer(cid), block=False)
        snapshot = await self.centre.conversation_snapshot(cid)
        response = desktop_pb2.AcceptOfferResponse()
        if snapshot is not None:
            response.conversation.CopyFrom(translate.conversation(snapshot))
        return response

    @unary
    async def RejectOffer(
        self, request: desktop_pb2.RejectOfferRequest, context: grpc.aio.ServicerContext
    ) -> desktop_pb2.RejectOfferResponse:
        agent, cid = await self._agent_and_conversation(request)
        await agent.ask(m.RejectOffer(cid), block=False)
        return desktop_pb2.RejectOfferResponse()

    @unary
    async def EndConversation(
        self, request: desktop_pb2.DesktopEndConversationRequest, context: grpc.aio.ServicerContext
    ) -> desktop_pb2.DesktopEndConversationResponse:
        agent, cid = await self._agent_and_conversation(request)
        state = await agent.ask(m.AgentEnds(cid, close=request.close), block=False)
        return desktop_pb2.DesktopEndConversationResponse(state=translate.STATE_TO_PROTO[state])

    @unary
    async def CloseConversation(
        self, request: desktop_pb2.CloseConversationRequest, context: grpc.aio.ServicerContext
    ) -> desktop_pb2.CloseConversationResponse:
        agent, cid = await self._agent_and_conversation(request)
        await agent.ask(m.AgentCloses(cid), block=False)
        return desktop_pb2.CloseConversationResponse()

    @unary
    async def ListPickableWork(
        self, request: desktop_pb2.ListPickableWorkRequest, context: grpc.aio.ServicerContext
    ) -> desktop_pb2.ListPickableWorkResponse:
        agent_id = validation.require_id("agent_id", request.agent_id)
        found = await self.centre.pickable(agent_id)
        return desktop_pb2.ListPickableWorkResponse(
            conversations=[
                translate.conversation_of_work(ticket.work, ConversationState.OPEN)
                for _, ticket in found
            ]
        )

    @unary
    async def TakeWork(
        self, request: desktop_pb2.TakeWorkRequest, context: grpc.aio.ServicerContext
    ) -> desktop_pb2.TakeWorkResponse:
        _, cid = await self._agent_and_conversation(request)
        await self.centre.take(request.agent_id, cid)
        return desktop_pb2.TakeWorkResponse(conversation=await self._conversation(cid))

    @unary
    async def ReleaseConversation(
        self, request: desktop_pb2.ReleaseConversationRequest, context: grpc.aio.ServicerContext
    ) -> desktop_pb2.ReleaseConversationResponse:
        agent, cid = await self._agent_and_conversation(request)
        state = await agent.ask(m.ReleaseWork(cid), block=False)
        return desktop_pb2.ReleaseConversationResponse(state=translate.STATE_TO_PROTO[state])

    @unary
    async def TransferConversation(
        self, request: desktop_pb2.TransferConversationRequest, context: grpc.aio.ServicerContext
    ) -> desktop_pb2.TransferConversationResponse:
        _, cid = await self._agent_and_conversation(request)
        target = request.WhichOneof("target")
        if target == "to_agent_id":
            to_agent = validation.require_id("to_agent_id", request.to_agent_id)
            await self.centre.transfer_to_agent(request.agent_id, cid, to_agent)
            return desktop_pb2.TransferConversationResponse(
                state=common_pb2.CONVERSATION_STATE_ACTIVE, agent_id=to_agent
            )
        if target == "to_queue_id":
            to_queue = validation.require_id("to_queue_id", request.to_queue_id)
            state = await self.centre.transfer_to_queue(request.agent_id, cid, to_queue)
            return desktop_pb2.TransferConversationResponse(
                state=translate.STATE_TO_PROTO[state], queue_id=to_queue
            )
        raise InvalidArgument("set to_agent_id or to_queue_id: where should it go?")

    @unary
    async def ParkConversation(
        self, request: desktop_pb2.ParkConversationRequest, context: grpc.aio.ServicerContext
    ) -> desktop_pb2.ParkConversationResponse:
        _, cid = await self._agent_and_conversation(request)
        state = await self.centre.park(request.agent_id, cid)
        return desktop_pb2.ParkConversationResponse(state=translate.STATE_TO_PROTO[state])

    @unary
    async def ResumeConversation(
        self, request: desktop_pb2.ResumeConversationRequest, context: grpc.aio.ServicerContext
    ) -> desktop_pb2.ResumeConversationResponse:
        agent, cid = await self._agent_and_conversation(request)
        state = await agent.ask(m.Resume(cid), block=False)
        return desktop_pb2.ResumeConversationResponse(state=translate.STATE_TO_PROTO[state])

    async def _conversation(self, cid: str) -> common_pb2.Conversation:
        snapshot = await self.centre.conversation_snapshot(cid)
        return translate.conversation(snapshot) if snapshot else common_pb2.Conversation(id=cid)

    async def _agent_and_conversation(self, request: Any) -> tuple[Any, str]:
        agent = self.centre.agent(validation.require_id("agent_id", request.agent_id))
        cid = validation.require_id("conversation_id", request.conversation_id)
        if cid not in self.centre.recently_closed:
            # Unknown ids are NOT_FOUND, closed ones FAILED_PRECONDITION; the agent decides
            # about the rest (offered to someone else, not held, ...).
            await open_conversation(self.centre, self.storage, cid)
        return agent, cid
