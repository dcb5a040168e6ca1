"""Work left waiting while an eligible agent has room (SPEC invariants: "if an eligible agent
exists and the work is queued, it is offered within one assignment cycle"; "freed capacity
serves the oldest eligible waiting work before newer arrivals").

Found by this attack (fixed in 58829d5): an agent who gained room for several conversations at
once (signing in, coming back from Away) ran one round, each queue proposed its single best
item, and nothing asked for more; the older work stayed queued beside a Busy agent with free
capacity and newer arrivals overtook it.
"""

from __future__ import annotations

from switchboard.v1 import gateway_pb2

from tests.attack.checks import check_invariants
from tests.integration.support import AVAILABLE, AWAY, Centre, offers

CONFIG = """
work_streams:
  - id: chat
    channel: chat
    fallback_queue: q1
    offer_timeout_s: 30
queues:
  - {id: q1, members: [a1]}
agents:
  - {id: a1, capacity: 3}
"""


async def submit_many(centre: Centre, n: int) -> list[str]:
    cids = []
    for _ in range(n):
        r = await centre.conn.gateway.SubmitWork(
            gateway_pb2.SubmitWorkRequest(work_stream_id="chat")
        )
        cids.append(r.conversation_id)
    await centre.settle()
    return cids


async def test_coming_back_from_away_takes_all_the_waiting_work_it_has_room_for(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    a1 = await centre.signin("a1", AWAY)
    cids = await submit_many(centre, 3)
    await a1.set_presence(AVAILABLE)
    await centre.settle()
    await check_invariants(centre.conn, cids)
    assert sorted(offers(a1)) == sorted(cids)


async def test_signing_in_takes_all_the_waiting_work_it_has_room_for(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    cids = await submit_many(centre, 3)
    a1 = await centre.signin("a1")
    await check_invariants(centre.conn, cids)
    assert sorted(offers(a1)) == sorted(cids)


async def test_older_waiting_work_is_offered_before_a_newer_arrival(harness) -> None:
    centre = await Centre.start(harness, CONFIG.replace("capacity: 3", "capacity: 2"))
    older = await submit_many(centre, 3)
    a1 = await centre.signin("a1")
    newer = (await centre.submit()).conversation_id
    await centre.settle()
    # a1 has room for two: the two oldest, not the one that just arrived.
    assert offers(a1) == older[:2], (offers(a1), older, newer)


async def test_room_freed_one_unit_at_a_time_is_refilled_from_the_queue(harness) -> None:
    """What works today: an agent already full who frees one unit gets the oldest waiting."""
    centre = await Centre.start(harness, CONFIG.replace("capacity: 3", "capacity: 1"))
    a1 = await centre.signin("a1")
    cids = await submit_many(centre, 4)
    for i, cid in enumerate(cids):
        assert offers(a1) == cids[: i + 1]
        await a1.accept(cid)
        await a1.end(cid)
        await a1.close(cid)
        await centre.settle()
        await check_invariants(centre.conn, cids)
