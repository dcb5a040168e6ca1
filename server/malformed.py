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
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        method = handler_call_details.method
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
