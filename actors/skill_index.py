"""Closest skill match without looking at every member: members with room indexed by skill
and rating, and a search that reads them in order of fit.

The fit of an agent to work needing skills r_1..r_k (`ordering.skill_fit`: exact fits, then
over-qualified by least surplus, then under-qualified by least shortfall) orders the same way
as the pair (total shortfall, total surplus), and that pair is a sum of one pair per skill:
(r_i - a_i, 0) below the rating, (0, a_i - r_i) at or above it, a missing skill counting as
rating 0. So one sorted stream per required skill -- its ratings walked exact first, then
upwards, then downwards, each rating's members in the queue's index order -- and a threshold
search (after Fagin, Lotem and Naor) find the best member: read the streams, score each
member met, and stop once no member still unread can beat the best found. Two facts bound
it: a member unread in every stream fits no better than the sum of the streams' next costs,
and a member better than the best found comes before it in every single stream. For one
skill that is "the first eligible member of the closest rating"; for several, it reads one
stream up to the best fit found; a search that reads more than the queue has members gives
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


class SkillStream:
    """The members with room in order of their fit on one required skill: (cost, entry),
    ascending. `floor`: the lowest rating an eligible member may hold (None: they need not
    hold the skill at all), so ratings no eligible member holds are never read."""

    def __init__(
        self,
        name: str,
        required: int,
        floor: int | None,
        ratings: Mapping[int, SortedList],
        everyone: SortedList,
        skills_of: Callable[[str], Mapping[str, int]],
    ) -> None:
        self.name = name
        self.required = required
        self.ratings = ratings
        self.everyone = everyone
        self.skills_of = skills_of
        present = set(ratings)
        # Rating 0 and not holding the skill fit alike; those without it count only when
        # holding the skill is not needed.
        self.with_lacking = floor is None
        if self.with_lacking:
            present.add(0)
        lowest = floor or 0
        self.walk = sorted(r for r in present if r >= max(required, lowest))
        self.walk += sorted((r for r in present if lowest <= r < required), reverse=True)
        self.read = 0

    def __iter__(self) -> Iterator[tuple[Cost, Entry]]:
        for rating in self.walk:
            cost = fit_cost(rating, self.required)
            members: Iterable[Entry] = self.ratings.get(rating, ())
            if rating == 0 and self.with_lacking:
                # Those without the skill are found by walking the whole index: reached only
                # once everyone holding it at a closer rating has been read.
                members = heapq.merge(members, self._lacking())
            for entry in members:
                self.read += 1
                yield cost, entry

    def _lacking(self) -> Iterator[Entry]:
        return (entry for entry in self.everyone if self.name not in self.skills_of(entry[1]))

    def left_within(self, cost: Cost) -> int:
        """About how many members this stream still has to read up to `cost`."""
        total = 0
        for rating in self.walk:
            if fit_cost(rating, self.required) > cost:
                break
            total += len(self.ratings.get(rating, ()))
            if rating == 0 and self.with_lacking:
                held = sum(len(members) for members in self.ratings.values())
                total += len(self.everyone) - held
        return total - self.read


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
        SkillStream(
            name,
            rating,
            None if floors is None else floors.get(name),
            index.by_skill.get(name, {}),
            everyone,
            skills_of,
        )
        for name, rating in required.items()
    ]
    readers = [iter(stream) for stream in streams]
    heads: list[tuple[Cost, Entry] | None] = [next(reader, None) for reader in readers]
    seen: set[str] = set()
    best: tuple[Cost, Entry] | None = None
    reads = 0
    # Until an eligible member is met, read the least advanced stream; from then on only the
    # stream with the fewest members left up to the best fit (`chosen`), the others' heads
    # staying put: `others` is what they add to the bound below.
    chosen = -1
    others: tuple[int, int, Entry] = (0, 0, ())
    while True:
        if chosen < 0:
            if None in heads:
                return None  # a stream ran out: everyone who could be eligible was read
            i = min(range(len(heads)), key=heads.__getitem__)  # type: ignore[arg-type]
        else:
            i = chosen
            head = heads[i]
            if head is None:
                break  # read to its end: everyone who could be eligible was read
            # A member better than the best fits no worse on any one skill than on all
            # (costs only add up), so comes before the best in every stream: this one has
            # been read past the best, so every better member has been read.
            if head >= best:  # type: ignore[operator]
                break
            # Anyone unread comes at or after every stream's head, so fits no better than
            # the sum of their costs, and on a tie comes after the latest of them.
            (short, extra), entry = head
            bound = ((others[0] + short, others[1] + extra), max(others[2], entry))
            if best < bound:  # type: ignore[operator]
                break
        reads += 1
        if reads > len(everyone):  # a search this long would do better as one scan
            return _scan(required, everyone, skills_of, eligible)
        entry = heads[i][1]  # type: ignore[index]
        heads[i] = next(readers[i], None)
        agent_id = entry[1]
        if agent_id in seen:
            continue
        seen.add(agent_id)
        if not eligible(agent_id):
            continue
        candidate = (member_cost(skills_of(agent_id), required), entry)
        if best is not None and candidate >= best:
            continue
        if best is None or candidate[0] < best[0]:  # a closer fit: maybe another stream now
            chosen = min(range(len(streams)), key=lambda j: streams[j].left_within(candidate[0]))
        best = candidate
        rest = [head for j, head in enumerate(heads) if j != chosen]
        if None in rest or any(head >= best for head in rest):  # type: ignore[operator]
            break  # another stream already ran out or past the best
        others = (
            sum(cost[0] for cost, _ in rest),  # type: ignore[misc]
            sum(cost[1] for cost, _ in rest),  # type: ignore[misc]
            max((entry for _, entry in rest), default=()),  # type: ignore[misc]
        )
    return best[1][1]  # type: ignore[index]


def member_cost(skills: Mapping[str, int], required: Mapping[str, int]) -> Cost:
    """The sum of `fit_cost` over the required skills (written out: it runs per read)."""
    short = extra = 0
    for name, rating in required.items():
        held = skills.get(name) or 0
        if held < rating:
            short += rating - held
        else:
            extra += held - rating
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
