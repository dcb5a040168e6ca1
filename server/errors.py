"""One mapping from engine refusals to gRPC status codes, applied to every handler."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pykka
import structlog
from switchboard.actors import errors
from switchboard.server.malformed import Malformed

STATUS_OF = {
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}

log = structlog.get_logger("switchboard.grpc")


def status_of(exc: errors.EngineError) -> grpc.StatusCode:
    for kind, code in STATUS_OF.items():
        if isinstance(exc, kind):
            return code
    return grpc.StatusCode.UNKNOWN


def unary(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a unary handler: engine refusals become their status code, with the message."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        if isinstance(request, Malformed):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _malformed(request))
        try:
            response = await handler(self, request, context)
            # Nothing is answered before what it changed is committed (a crash after the
            # answer must not undo what the caller was told). A simulated call that settles
            # first commits once, after settling (`simulation.py`).
            if not getattr(context, "commits_after_settling", False):
                await self.centre.journal.synced()
            return response
        except errors.EngineError as exc:
            await context.abort(status_of(exc), str(exc))
        except pykka.ActorDeadError:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "it was closed meanwhile")
        return None  # unreachable: abort raises

    return wrapper


def streaming(handler: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    @functools.wraps(handler)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        if isinstance(request, Malformed):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _malformed(request))
        try:
            async for item in handler(self, request, context):
                yield item
        except errors.EngineError as exc:
            await context.abort(status_of(exc), str(exc))

    return wrapper


def _malformed(request: Malformed) -> str:
    return f"the request to {request.method} is not a valid protobuf message: {request.reason}"
