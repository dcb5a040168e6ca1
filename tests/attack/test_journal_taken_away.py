"""A journal deleted under a running server: nothing more is acknowledged, and health
checking says NOT_SERVING so that a load balancer or orchestrator can act on it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from switchboard.clients.server_process import ServerProcess
from switchboard.v1 import gateway_pb2, gateway_pb2_grpc

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "loadtest" / "switchboard.yaml"


async def test_a_deleted_journal_acknowledges_nothing_and_health_says_not_serving() -> None:
    server = ServerProcess(str(CONFIG), manual_clock=False)
    address = server.start()
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            gateway = gateway_pb2_grpc.GatewayServiceStub(channel)
            health = health_pb2_grpc.HealthStub(channel)
            check = health_pb2.HealthCheckRequest(service="")
            serving = health_pb2.HealthCheckResponse.SERVING
            assert (await health.Check(check)).status == serving
            await gateway.SubmitWork(gateway_pb2.SubmitWorkRequest(work_stream_id="load"))

            os.remove(server.db)
            try:
                await gateway.SubmitWork(
                    gateway_pb2.SubmitWorkRequest(work_stream_id="load"), timeout=1.5
                )
                raise AssertionError("a submit was acknowledged after its journal was deleted")
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            for _ in range(50):  # the first failed commit flips it; give it up to 5 s
                if (await health.Check(check)).status != serving:
                    break
                await asyncio.sleep(0.1)
            assert (await health.Check(check)).status == health_pb2.HealthCheckResponse.NOT_SERVING
            gateway_health = health_pb2.HealthCheckRequest(service="switchboard.v1.GatewayService")
            assert (await health.Check(gateway_health)).status != serving
    finally:
        server.kill()
        server.clean_up()
