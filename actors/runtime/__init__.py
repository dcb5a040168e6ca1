"""A Pykka runtime in which many actors share one dispatcher on the asyncio event loop.

Pykka's own `ThreadingActor` spends an OS thread per actor, which caps a process at a few
thousand agents and conversations. Here an actor is a mailbox and a "scheduled" flag; the
dispatcher runs scheduled actors in batches on the loop that also serves gRPC, so an actor
costs a few KiB and a message costs a function call.
"""

from switchboard.actors.runtime.actor import LoopActor
from switchboard.actors.runtime.dispatcher import Dispatcher, get_dispatcher, install_dispatcher
from switchboard.actors.runtime.future import LoopFuture

__all__ = ["Dispatcher", "LoopActor", "LoopFuture", "get_dispatcher", "install_dispatcher"]
