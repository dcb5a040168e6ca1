"""What one assignment decision costs as a queue grows: 1k, 10k and 100k agents.

    python bench/selection.py [--sizes 1000 10000 100000] [--repeat 5]

In process, no actors and no gRPC: a `QueueBook` (the queue actor's state) holding N agents,
each with three of eight skills at random ratings, a site, one in ten senior, and capacity 3 of
which 0-3 units are free (so some members have no room and are not indexed). For each
assignment method it times `best_agent_for` -- choosing the agent for one waiting item, all
that a queue decides per assignment -- over a fixed set of 500 work items, and the upkeep of
the indexes when one agent joins and when its load changes (`update`, which every agent
status causes). The closest skill match is also timed the way it was decided before the skill
index (a scan of every member with room, on a sample of the items), and the two must choose
the same agents. Prints microseconds per decision, median of --repeat passes; about four
minutes with the default sizes.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import time
from collections.abc import Callable

from switchboard.actors.domain.eligibility import why_not_eligible
from switchboard.actors.domain.model import (
    AgentView,
    AssignmentMethod,
    Channel,
    Presence,
    SkillMatching,
    Ticket,
    Work,
    frozen_map,
)
from switchboard.actors.domain.ordering import skill_fit
from switchboard.actors.domain.routing import compile_condition
from switchboard.actors.domain.selection import AGENT_VARIABLES, SelectionRule
from switchboard.actors.queue_book import QueueBook

SKILLS = ("billing", "cards", "loans", "mortgages", "en", "fr", "de", "es")
SITES = ("leeds", "york", "hull", "derby", "bath")
RECEIVING = frozenset({Presence.AVAILABLE, Presence.BUSY})
WORK_ITEMS = 500

RULES = (
    ("leeds-seniors", 'agent.attributes.level == "senior" && agent.attributes.site == "leeds"'),
    ("leeds", 'agent.attributes.site == "leeds"'),
    ("anyone", "true"),
)


def agent(rng: random.Random, n: int, version: int = 0) -> AgentView:
    skills = {name: rng.randint(1, 10) for name in rng.sample(SKILLS, 3)}
    attributes = {"site": rng.choice(SITES), "level": "senior" if n % 10 == 0 else "junior"}
    return AgentView(
        f"a{n}",
        Presence.AVAILABLE,
        rng.randint(0, 3),
        3,
        frozen_map(skills),
        rng.uniform(0, 3600),
        rng.uniform(0, 3600),
        version,
        name=f"Agent {n}",
        attributes=frozen_map(attributes),
    )


def work_item(rng: random.Random, n: int, skills: int, matching: SkillMatching) -> Ticket:
    required = {name: rng.randint(1, 10) for name in rng.sample(SKILLS, skills)}
    work = Work(
        f"c{n}", "chat", Channel.CHAT, "", frozen_map(), frozen_map(), 0,
        frozen_map(required), "q", 0.0,
    )  # fmt: skip
    return Ticket(work, 0.0, n, 1, RECEIVING, matching, False, 30.0)


def book_of(method: AssignmentMethod, size: int) -> QueueBook:
    selection = tuple(
        SelectionRule(name, compile_condition(when, AGENT_VARIABLES), AssignmentMethod.MOST_IDLE)
        for name, when in RULES
    )
    book = QueueBook(
        "q", method, RECEIVING, selection=selection if method is AssignmentMethod.CUSTOM else ()
    )
    rng = random.Random(size)
    for n in range(size):
        book.join(agent(rng, n))
    return book


def scan_closest(book: QueueBook, ticket: Ticket) -> str | None:
    """The closest skill match as it was decided before the skill index: every member with
    room looked at."""
    best, chosen = None, None
    for position, (_, agent_id) in enumerate(book.index):
        view = book.members[agent_id].believed()
        if why_not_eligible(view, ticket) is None:
            rank = (skill_fit(view.skills, ticket.work.required_skills), position)
            if best is None or rank < best:
                best, chosen = rank, agent_id
    return chosen


def per_call(calls: list[Callable[[], object]], repeat: int) -> float:
    passes = []
    for _ in range(repeat):
        started = time.perf_counter()
        for call in calls:
            call()
        passes.append((time.perf_counter() - started) / len(calls))
    return statistics.median(passes) * 1e6


# (label, method, required skills per item, skill matching)
CASES = [
    ("highest_capacity, 1 skill exact", AssignmentMethod.HIGHEST_CAPACITY, 1, SkillMatching.EXACT),
    ("custom (3 rules), 1 skill exact", AssignmentMethod.CUSTOM, 1, SkillMatching.EXACT),
    ("closest, 1 skill", AssignmentMethod.CLOSEST_SKILL_MATCH, 1, SkillMatching.CLOSEST),
    ("closest, 2 skills", AssignmentMethod.CLOSEST_SKILL_MATCH, 2, SkillMatching.CLOSEST),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"µs per decision (median of {args.repeat} passes over {WORK_ITEMS} work items)")
    header = f"{'case':44}" + "".join(f"{size:>12,}" for size in args.sizes)
    print(header)
    books: dict = {}
    book_of(AssignmentMethod.CUSTOM, 1_000)  # warm up: the first build pays for imports
    for method in dict.fromkeys(method for _, method, _, _ in CASES):
        for size in args.sizes:
            started = time.perf_counter()
            books[method, size] = book_of(method, size)
            join_us = (time.perf_counter() - started) / size * 1e6
            books[method, size, "join"] = join_us
    # As the server does after start-up: what is built stays out of the collector's way.
    gc.collect()
    gc.freeze()
    for label, method, skills, matching in CASES:
        row = []
        scan_row = []
        for size in args.sizes:
            book = books[method, size]
            rng = random.Random(7)
            tickets = [work_item(rng, n, skills, matching) for n in range(WORK_ITEMS)]
            decisions = [lambda t=t, b=book: b.best_agent_for(t, 0.0) for t in tickets]
            row.append(per_call(decisions, args.repeat))
            if method is AssignmentMethod.CLOSEST_SKILL_MATCH:
                # A scan costs ~4 µs per member: time it, and check that the index chose as
                # it would, on a sample.
                sample = tickets[: max(10, 50_000 // size)]
                for t in sample:
                    assert book.best_agent_for(t, 0.0) == scan_closest(book, t), t
                scans = [lambda t=t, b=book: scan_closest(b, t) for t in sample]
                scan_row.append(per_call(scans, 1))
        print(f"{label:44}" + "".join(f"{us:12.1f}" for us in row))
        if scan_row:
            print(
                f"{'  the same by a scan (before)':44}" + "".join(f"{us:12.1f}" for us in scan_row)
            )
    print()
    print("upkeep: µs to index one agent joining, and to re-index one agent whose load changes")
    for method in (
        AssignmentMethod.HIGHEST_CAPACITY,
        AssignmentMethod.CUSTOM,
        AssignmentMethod.CLOSEST_SKILL_MATCH,
    ):
        joins, updates = [], []
        for size in args.sizes:
            book = books[method, size]
            joins.append(books[method, size, "join"])
            rng = random.Random(3)
            changes = []
            for n in range(2000):
                member = book.members[f"a{rng.randrange(size)}"].view
                free = (member.free_units + 1) % 4
                changes.append(_with(member, free, member.version + 1 + n))
            calls = [lambda v=v, b=book: b.update(v) for v in changes]
            updates.append(per_call(calls, 1))
        print(f"{method.value + ' join':44}" + "".join(f"{us:12.1f}" for us in joins))
        print(f"{method.value + ' load change':44}" + "".join(f"{us:12.1f}" for us in updates))


def _with(view: AgentView, free: int, version: int) -> AgentView:
    return AgentView(
        view.agent_id, view.presence, free, view.capacity, view.skills, view.last_assigned_at,
        view.last_released_at if free < view.free_units else math.nextafter(
            view.last_released_at, math.inf
        ),
        version, name=view.name, attributes=view.attributes,
    )  # fmt: skip


if __name__ == "__main__":
    main()
