"""Requests whose bytes do not parse as their message get INVALID_ARGUMENT, not UNKNOWN.

gRPC runs the request deserializer before any handler and answers UNKNOWN (with a server
traceback) when it raises. This interceptor wraps each deserializer so that a parse failure
becomes a `Malformed` value, which the handler wrappers in `errors.py` refuse cleanly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError


@dataclass(frozen=True, slots=True)
class Malformed:
    method: str
    reason: str


def _safe(deserializer: Callable[[bytes], Any] | None, method: str) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data) if deserializer else data
        except (DecodeError, UnicodeDecodeError, ValueError) as exc:
            return Malformed(method, str(exc) or type(exc).__name__)

    return deserialize


class MalformedRequestInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self) -> None:
        # Each handler seen, by identity, with its wrapped form: built once, not on every
        # call (the handler is kept, so its id is never reused for another).
        self._wrapped: dict[int, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        known = self._wrapped.get(id(handler))
        if known is not None:
            return known[1]
        wrapped = self._wrap(handler, handler_call_details.method)
        self._wrapped[id(handler)] = (handler, wrapped)
        return wrapped

    @staticmethod
    def _wrap(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        safe = _safe(handler.request_deserializer, method)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                handler.unary_unary,
                request_deserializer=safe,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                handler.unary_stream,
                request_deserializer=safe,
                response_serializer=handler.response_serializer,
            )
        return handler
