"""Closest skill match without looking at every member: members with room indexed by skill
and rating, and a search that reads them in order of fit.

The fit of an agent to work needing skills r_1..r_k (`ordering.skill_fit`: exact fits, then
over-qualified by least surplus, then under-qualified by least shortfall) orders the same way
as the pair (total shortfall, total surplus), and that pair is a sum of one pair per skill:
(r_i - a_i, 0) below the rating, (0, a_i - r_i) at or above it, a missing skill counting as
rating 0. So one sorted stream per required skill -- its ratings walked exact first, then
upwards, then downwards, each rating's members in the queue's index order -- and the
threshold algorithm (Fagin, Lotem and Naor) find the best member: read the streams, score
each member met, and stop once no member still unread can beat the best found. For one
skill that is "the first eligible member of the closest rating"; for several, the common
case stops after a few reads, and a search that reads more than the queue has members gives
way to one scan, so the worst case stays that of a scan.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping

from sortedcontainers import SortedList

Entry = tuple  # (index key, agent id): the member's place in the queue's index
Cost = tuple[int, int]  # (shortfall, surplus)


class SkillIndex:
    """skill -> rating -> the indexed members holding that skill at that rating."""

    def __init__(self) -> None:
        self.by_skill: dict[str, dict[int, SortedList]] = {}

    def add(self, entry: Entry, skills: Mapping[str, int]) -> None:
        for name, rating in skills.items():
            self.by_skill.setdefault(name, {}).setdefault(rating, SortedList()).add(entry)

    def remove(self, entry: Entry, skills: Mapping[str, int]) -> None:
        for name, rating in skills.items():
            ratings = self.by_skill[name]
            members = ratings[rating]
            members.remove(entry)
            if not members:  # keep the ratings walked per decision to those someone holds
                del ratings[rating]
                if not ratings:
                    del self.by_skill[name]


def fit_cost(held: int | None, required: int) -> Cost:
    effective = held or 0  # skill_fit counts a missing skill as rating 0
    return (max(0, required - effective), max(0, effective - required))


def skill_stream(
    name: str,
    required: int,
    floor: int | None,
    ratings: Mapping[int, SortedList],
    everyone: SortedList,
    skills_of: Callable[[str], Mapping[str, int]],
) -> Iterator[tuple[Cost, Entry]]:
    """Members with room in order of their fit on one skill: (cost, entry), ascending.

    `floor`: the lowest rating an eligible member may hold (None: they need not hold the
    skill at all), so ratings no eligible member has are never read."""
    present = set(ratings)
    if floor is None:
        present.add(0)  # rating 0 and not holding the skill fit alike
    lowest = floor or 0
    walk = sorted(r for r in present if r >= max(required, lowest))
    walk += sorted((r for r in present if lowest <= r < required), reverse=True)
    for rating in walk:
        cost = fit_cost(rating, required)
        members: Iterable[Entry] = ratings.get(rating, ())
        if rating == 0 and floor is None:
            # Those without the skill are found by walking the whole index: reached only
            # once everyone holding it at a closer rating has been read.
            lacking = (entry for entry in everyone if name not in skills_of(entry[1]))
            members = heapq.merge(members, lacking)
        for entry in members:
            yield cost, entry


def closest_member(
    required: Mapping[str, int],
    floors: Mapping[str, int] | None,
    index: SkillIndex,
    everyone: SortedList,
    skills_of: Callable[[str], Mapping[str, int]],
    eligible: Callable[[str], bool],
) -> str | None:
    """The eligible member of `everyone` (the queue's index of members with room) whose
    skills fit `required` best, ties in index order; None when nobody is eligible.

    `floors`: per required skill, the lowest rating an eligible member can hold (None: skills
    do not limit eligibility). Only an optimisation: `eligible` decides."""
    if not required:
        return next((agent_id for _, agent_id in everyone if eligible(agent_id)), None)
    streams = [
        skill_stream(
            name,
            rating,
            None if floors is None else floors.get(name),
            index.by_skill.get(name, {}),
            everyone,
            skills_of,
        )
        for name, rating in required.items()
    ]
    heads: list[tuple[Cost, Entry] | None] = [next(stream, None) for stream in streams]
    seen: set[str] = set()
    best: tuple[Cost, Entry] | None = None
    reads = 0
    while None not in heads:
        frontier: list[tuple[Cost, Entry]] = heads  # type: ignore[assignment]
        # Anyone not read yet comes at or after every stream's head, so fits no better than
        # the sum of the heads' costs, and on a tie comes after the latest of their entries.
        bound = (
            (sum(cost[0] for cost, _ in frontier), sum(cost[1] for cost, _ in frontier)),
            max(entry for _, entry in frontier),
        )
        if best is not None and best < bound:
            return best[1][1]
        reads += 1
        if reads > len(everyone):  # a search this long would do better as one scan
            return _scan(required, everyone, skills_of, eligible)
        i = min(range(len(frontier)), key=frontier.__getitem__)  # the least advanced stream
        entry = frontier[i][1]
        heads[i] = next(streams[i], None)
        agent_id = entry[1]
        if agent_id in seen:
            continue
        seen.add(agent_id)
        if eligible(agent_id):
            candidate = (member_cost(skills_of(agent_id), required), entry)
            if best is None or candidate < best:
                best = candidate
    # A stream ran out: everyone who could be eligible is in it, so has been read.
    return None if best is None else best[1][1]


def member_cost(skills: Mapping[str, int], required: Mapping[str, int]) -> Cost:
    short = extra = 0
    for name, rating in required.items():
        s, e = fit_cost(skills.get(name), rating)
        short += s
        extra += e
    return (short, extra)


def _scan(
    required: Mapping[str, int],
    everyone: SortedList,
    skills_of: Callable[[str], Mapping[str, int]],
    eligible: Callable[[str], bool],
) -> str | None:
    best = None
    for entry in everyone:
        agent_id = entry[1]
        if eligible(agent_id):
            candidate = (member_cost(skills_of(agent_id), required), entry)
            if best is None or candidate < best:
                best = candidate
    return None if best is None else best[1][1]
