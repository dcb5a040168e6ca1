"""The figures a replay is judged by, computed the same way for our run and for the bank.

Both sides are first turned into `CallResult`s (one per submitted call) and then go through
the one function `figures_of`, so a difference in the report is a difference in routing, not
in arithmetic.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from switchboard.clients.replay.bankday import BankDay

SERVED = "served"
ABANDONED = "abandoned"
UNSERVED = "unserved"
OUTCOMES = (SERVED, ABANDONED, UNSERVED)

# The bank's log has a handful of served calls with no agent recorded; they are tallied
# under this name so per-agent counts still add up to `served`.
UNRECORDED_AGENT = "(unrecorded)"

# Which of our queues takes each of the bank's call types. TT is a call-back put on hold by
# a retail agent, so it goes back to retail.
BANK_QUEUE_OF_TYPE: dict[str, str] = {
    "PS": "retail",
    "TT": "retail",
    "PE": "english",
    "IN": "internet",
    "NE": "stocks",
    "NW": "prospects",
}
DEFAULT_QUEUE = "retail"

SHORT_WAIT = 20.0
LONG_WAIT = 60.0


def queue_of_type(call_type: str) -> str:
    """Our queue for a bank call type; unknown types go where most calls go."""
    return BANK_QUEUE_OF_TYPE.get(call_type, DEFAULT_QUEUE)


@dataclass
class CallResult:
    """What became of one submitted call.

    `wait` is seconds from submission to answer (served) or to hang-up (abandoned), None for a
    call still waiting when the run ended (unserved). `service_time` is optional: it only feeds
    the per-agent busy time.
    """

    key: str
    queue_id: str
    outcome: str
    wait: float | None
    agent_id: str = ""
    service_time: float = 0.0

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"call {self.key}: outcome {self.outcome!r} is not one of {OUTCOMES}")
        if (self.wait is None) != (self.outcome == UNSERVED):
            raise ValueError(
                f"call {self.key}: a {self.outcome} call must {'not ' if self.outcome == UNSERVED else ''}have a wait"
            )


@dataclass
class Summary:
    """Counts and waiting figures for a set of submitted calls.

    Wait percentiles and the maximum are over served calls only (nearest rank; 0 when none
    was served). The answered-within shares are of all submitted calls, so abandoning and
    leaving calls unserved both count against them.
    """

    submitted: int
    served: int
    abandoned: int
    unserved: int
    wait_p50: float
    wait_p90: float
    wait_max: float
    answered_within_20s: float
    answered_within_60s: float


@dataclass
class AgentFigures:
    served: int
    mean_wait: float  # of the calls this agent answered
    busy_seconds: float  # total service time of those calls


@dataclass
class Figures(Summary):
    per_queue: dict[str, Summary]
    per_agent: dict[str, AgentFigures]


def figures_of(results: Iterable[CallResult], *, submitted: int | None = None) -> Figures:
    """Figures of a run, grouped per queue by `CallResult.queue_id`.

    Pass `submitted` (the number of calls submitted) to check that every call has exactly one
    result: a call the run lost would otherwise just vanish from the figures.
    """
    results = list(results)
    _check_unique_keys(results)
    by_queue: dict[str, list[CallResult]] = defaultdict(list)
    by_agent: dict[str, list[CallResult]] = defaultdict(list)
    for result in results:
        by_queue[result.queue_id].append(result)
        if result.outcome == SERVED:
            by_agent[result.agent_id or UNRECORDED_AGENT].append(result)

    total = summarise(results)
    if submitted is not None and submitted != total.submitted:
        raise ValueError(
            f"{submitted} calls submitted but {total.submitted} results "
            f"(served {total.served} + abandoned {total.abandoned} + unserved {total.unserved})"
        )
    return Figures(
        **vars(total),
        per_queue={queue: summarise(by_queue[queue]) for queue in sorted(by_queue)},
        per_agent={agent: _agent_figures(by_agent[agent]) for agent in sorted(by_agent)},
    )


def bank_results(
    day: BankDay, queue_of_type: Callable[[str], str] = queue_of_type
) -> list[CallResult]:
    """The bank's own handling of the day's calls, as results of a run."""
    return [
        CallResult(
            key=call.key,
            queue_id=queue_of_type(call.call_type),
            outcome=call.bank_outcome,
            wait=call.bank_wait,
            agent_id=call.bank_server,
            service_time=call.service_time if call.bank_outcome == SERVED else 0.0,
        )
        for call in day.calls
    ]


def bank_figures(day: BankDay, queue_of_type: Callable[[str], str] = queue_of_type) -> Figures:
    """The same figures as `figures_of`, for what the bank did (it has no unserved calls)."""
    return figures_of(bank_results(day, queue_of_type), submitted=len(day.calls))


def summarise(results: list[CallResult]) -> Summary:
    served_waits = sorted(r.wait for r in results if r.outcome == SERVED and r.wait is not None)
    submitted = len(results)
    summary = Summary(
        submitted=submitted,
        served=len(served_waits),
        abandoned=sum(1 for r in results if r.outcome == ABANDONED),
        unserved=sum(1 for r in results if r.outcome == UNSERVED),
        wait_p50=nearest_rank(served_waits, 50),
        wait_p90=nearest_rank(served_waits, 90),
        wait_max=served_waits[-1] if served_waits else 0.0,
        answered_within_20s=_share(sum(1 for w in served_waits if w <= SHORT_WAIT), submitted),
        answered_within_60s=_share(sum(1 for w in served_waits if w <= LONG_WAIT), submitted),
    )
    check_balanced(summary)
    return summary


def check_balanced(summary: Summary) -> None:
    """Every submitted call ends exactly one way; anything else is a bookkeeping bug."""
    accounted = summary.served + summary.abandoned + summary.unserved
    if summary.submitted != accounted:
        raise ValueError(
            f"submitted {summary.submitted} != served {summary.served} + abandoned "
            f"{summary.abandoned} + unserved {summary.unserved} (= {accounted})"
        )


def nearest_rank(sorted_values: list[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `percent`% of the values
    at or below it. Always an observed value; 0 for an empty list."""
    if not sorted_values:
        return 0.0
    if not 0 <= percent <= 100:
        raise ValueError(f"percentile {percent} is outside 0..100")
    # percent * n first: 14 / 100 * 50 is 7.000000000000001 in floating point, 14 * 50 / 100 is 7.
    rank = max(1, math.ceil(percent * len(sorted_values) / 100))
    return float(sorted_values[rank - 1])


def _agent_figures(answered: list[CallResult]) -> AgentFigures:
    waits = [r.wait for r in answered if r.wait is not None]
    return AgentFigures(
        served=len(answered),
        mean_wait=sum(waits) / len(waits) if waits else 0.0,
        busy_seconds=sum(r.service_time for r in answered),
    )


def _check_unique_keys(results: list[CallResult]) -> None:
    seen: set[str] = set()
    for result in results:
        if result.key in seen:
            raise ValueError(f"call {result.key} has more than one result")
        seen.add(result.key)


def _share(count: int, whole: int) -> float:
    return count / whole if whole else 0.0
