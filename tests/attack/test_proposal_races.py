"""A queue's proposal racing the customer leaving: the agent receives a proposal for a
conversation that closed meanwhile.

The two calls are made on the engine's entry points in one go, exactly as the SetPresence and
AbandonConversation RPC handlers make them when both run in the same turn of the event loop
(which a busy server cannot prevent); everything is then checked through the API. Before
58829d5 the agent started a new round *before* telling the queue it had taken the dead
proposal, the queue answered "no room" and the next conversation stayed queued for ever beside
an Available agent (found by this attack's randomised runs).
"""

from __future__ import annotations

from switchboard.actors import messages as m
from switchboard.actors.domain.model import Presence

from tests.attack.checks import CLOSED, check_invariants
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
  - {id: a1, capacity: 1}
"""


async def test_a_proposal_for_work_abandoned_in_flight_does_not_strand_the_next(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    a1 = await centre.signin("a1", AWAY)
    first = (await centre.submit()).conversation_id
    second = (await centre.submit()).conversation_id
    assert await centre.waiting("q1") == [first, second]

    engine = harness.running.centre
    engine.agent("a1").tell(m.SetPresence(Presence.AVAILABLE))  # DesktopService.SetPresence
    engine.conversation(first).tell(m.CustomerAbandons("hung up"))  # Gateway.Abandon...
    await centre.settle()

    assert (await centre.conversation(first)).state == CLOSED
    await check_invariants(centre.conn, [first, second])
    assert offers(a1)[-1:] == [second]


async def test_the_same_two_calls_one_after_the_other_work(harness) -> None:
    centre = await Centre.start(harness, CONFIG)
    a1 = await centre.signin("a1", AWAY)
    first = (await centre.submit()).conversation_id
    second = (await centre.submit()).conversation_id
    await centre.abandon(first)
    await a1.set_presence(AVAILABLE)
    await centre.settle()
    await check_invariants(centre.conn, [first, second])
    assert offers(a1) == [second]
