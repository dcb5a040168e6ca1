"""Automatic presence: what an agent's base presence becomes as their load changes."""

from __future__ import annotations

from switchboard.actors.domain.model import Presence

# Presences an agent chooses by hand that the engine must not overwrite when load changes.
STICKY = frozenset({Presence.OFFLINE, Presence.AWAY, Presence.BUSY_DND, Presence.INACTIVE})


def presence_for_load(used: int, capacity: int, holding: int = 0) -> Presence:
    """`used` units of `capacity`; `holding` items held (work measured only by capacity
    profiles uses no units, yet an agent working on it is busy)."""
    if used <= 0:
        return Presence.BUSY if holding else Presence.AVAILABLE
    if used >= capacity:
        return Presence.BUSY_DND
    return Presence.BUSY


def next_presence(chosen: Presence, used: int, capacity: int, holding: int = 0) -> Presence:
    """The presence to show, given what the agent (or the engine) last chose and the load.

    A sticky choice stays; Available or Busy chosen by hand follow the load from then on.
    """
    if chosen in STICKY:
        return chosen
    return presence_for_load(used, capacity, holding)
