"""Simulated calls: any call may say when it happens and ask to be answered once settled.

A replay or a simulation drives a server started with `--clock manual`. Moving the clock
with AdminService.AdvanceClock before each call and settling after it costs two extra round
trips per call, which on loopback gRPC (about 0.6 ms each on a 2-core machine) is most of a
replay's time. Instead a call may carry, in its request metadata:

- `switchboard-at: <seconds since the epoch>`: first move the manual clock forward to this
  time, as AdvanceClock would (time never goes back; a time already past means now). The
  call happens at that time whatever its answer: a refused call has still moved the clock;
- `switchboard-settle: 1` or `true` (unary calls; `0` or `false`: no): once the call is done,
  wait until the engine has settled and send, in the trailing metadata
  `switchboard-settled-bin`, the AdvanceClock answer (the time, the timers the call fired,
  and, per open desktop stream, the last message pushed on it), so that the client can wait
  for its desktops to see everything the call caused.

Calls without these keys go through untouched.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from switchboard.actors.errors import EngineError
from switchboard.server.clock_control import ClockControl
from switchboard.server.errors import status_of
from switchboard.server.malformed import Malformed

AT_KEY = "switchboard-at"
SETTLE_KEY = "switchboard-settle"
SETTLED_KEY = "switchboard-settled-bin"

_SECONDS = re.compile(r"[0-9]{1,15}(\.[0-9]{1,9})?")  # plain decimal seconds, nothing else


class SimulationInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, clock: ClockControl) -> None:
        self.clock = clock
        self._simulated: dict[str, grpc.RpcMethodHandler] = {}  # by method, built once

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or not any(
            key in (AT_KEY, SETTLE_KEY) for key, _ in handler_call_details.invocation_metadata
        ):
            return handler
        method = handler_call_details.method
        simulated = self._simulated.get(method)
        if simulated is None:
            simulated = self._simulated[method] = self._wrap(handler)
        return simulated

    def _wrap(self, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _unary(self, behaviour: Any) -> Any:
        async def simulated(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if isinstance(request, Malformed):
                return await behaviour(request, context)  # refused; time stays where it is
            at, settle = await _keys(context)
            wanted = await self._settle_wanted(settle, context)
            fired = await self._move_to(at, context)
            journal = self.clock.centre.journal
            try:
                response = await behaviour(request, _CommittedFirst(context, journal, wanted))
                if wanted:
                    fired += await self.clock.advance(None)
                    answer = self.clock.where_things_are(fired)
                    context.set_trailing_metadata(((SETTLED_KEY, answer.SerializeToString()),))
            finally:
                # Whatever the answer (a refusal, or a service that never waits for the
                # journal, like health), the time the call moved the clock to is committed
                # before it goes out.
                await journal.synced()
            return response

        return simulated

    def _stream(self, behaviour: Any) -> Any:
        async def simulated(request: Any, context: grpc.aio.ServicerContext) -> Any:
            at, settle = await _keys(context)
            if settle is not None:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{SETTLE_KEY} applies to unary calls only: a stream has no end to answer "
                    "at; call AdminService.AdvanceClock to settle",
                )
            if not isinstance(request, Malformed):
                await self._move_to(at, context)
                # A stream's first message goes out before it ends: the time it tells of
                # must be on disk by then.
                await self.clock.centre.journal.synced()
            async for item in behaviour(request, context):
                yield item

        return simulated

    @staticmethod
    async def _settle_wanted(value: str | None, context: grpc.aio.ServicerContext) -> bool:
        if value is None or value in ("0", "false"):
            return False
        if value in ("1", "true"):
            return True
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"metadata {SETTLE_KEY} must be 1 or true (or 0 or false); got {value[:40]!r}",
        )
        return False  # unreachable: abort raises

    async def _move_to(self, value: str | None, context: grpc.aio.ServicerContext) -> int:
        """Move the clock to the call's time; returns the number of timers fired."""
        if value is None:
            return 0
        target = float(value) if _SECONDS.fullmatch(value) else math.nan
        if not math.isfinite(target):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"metadata {AT_KEY} must be the time in seconds since the epoch, in plain "
                f"decimals (at most 15 digits, and 9 after the point), like '933494400.5'; "
                f"got {value[:40]!r}",
            )
        try:
            return await self.clock.advance(target)
        except EngineError as exc:
            await context.abort(status_of(exc), f"metadata {AT_KEY}: {exc}")
        return 0  # unreachable: abort raises


class _CommittedFirst:
    """The call's context, but a refusal waits for the journal: `context.abort` sends the
    status at once, before the handler's own code (and the interceptor's `finally`) runs
    on, and a refused call has still moved the clock.

    `commits_after_settling`: the call settles before it is answered and the interceptor
    commits then, so the handler need not commit on its own first (one commit, not two)."""

    def __init__(
        self, context: grpc.aio.ServicerContext, journal: Any, commits_after_settling: bool
    ) -> None:
        self._context = context
        self._journal = journal
        self.commits_after_settling = commits_after_settling

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    async def abort(self, *args: Any, **kwargs: Any) -> None:
        await self._journal.synced()
        await self._context.abort(*args, **kwargs)


async def _keys(context: grpc.aio.ServicerContext) -> tuple[str | None, str | None]:
    """The call's simulation keys; each may be given once (two copies that disagree leave
    no way to tell which was meant)."""
    found: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        if key in (AT_KEY, SETTLE_KEY):
            if key in found:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"metadata {key} is given more than once; give it once",
                )
            found[key] = value
    return found.get(AT_KEY), found.get(SETTLE_KEY)
