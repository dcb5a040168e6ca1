"""The replay's verdict as plain text: our figures beside the bank's, for a terminal.

Every table puts "ours" and "bank" side by side in fixed-width columns so a glance down a
column pair shows where routing differed. Only the standard library; no colours, so the text
can go into a log or a CI artefact unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from switchboard.clients.replay.figures import UNRECORDED_AGENT, AgentFigures, Figures, Summary

_T = TypeVar("_T")

MAX_VIOLATIONS_SHOWN = 10
_LABEL_WIDTH = 22
_KEY_WIDTH = 13  # fits "(unrecorded)"
_GAP = "  "


def render(
    date: str, ours: Figures, bank: Figures, *, wall_seconds: float, violations: list[str]
) -> str:
    lines = [f"Switchboard replay of {date}   (wall time {wall_seconds:.1f} s)", ""]
    lines += _totals(ours, bank)
    lines += ["", *_per_queue(ours, bank)]
    lines += ["", *_per_agent(ours, bank)]
    lines += ["", *_invariants(violations)]
    return "\n".join(lines) + "\n"


def _totals(ours: Figures, bank: Figures) -> list[str]:
    rows: list[tuple[str, Callable[[Summary], str]]] = [
        ("submitted", lambda s: str(s.submitted)),
        ("served", lambda s: str(s.served)),
        ("abandoned", lambda s: str(s.abandoned)),
        ("unserved", lambda s: str(s.unserved)),
        ("wait p50 (s)", lambda s: _seconds(s.wait_p50)),
        ("wait p90 (s)", lambda s: _seconds(s.wait_p90)),
        ("wait max (s)", lambda s: _seconds(s.wait_max)),
        ("answered within 20 s", lambda s: _percent(s.answered_within_20s)),
        ("answered within 60 s", lambda s: _percent(s.answered_within_60s)),
    ]
    table = [f"{'':<{_LABEL_WIDTH}}{'ours':>9}{'bank':>9}"]
    table += [f"{label:<{_LABEL_WIDTH}}{cell(ours):>9}{cell(bank):>9}" for label, cell in rows]
    return table


@dataclass(frozen=True)
class _Column(Generic[_T]):
    """A column of a table that shows one figure for us and for the bank side by side."""

    title: str
    width: int  # of one of the two numbers
    cell: Callable[[_T], str]


# p50 is left to the totals: per queue, p90 and the 60-second share say more about who waited.
_QUEUE_COLUMNS: list[_Column[Summary]] = [
    _Column("submitted", 5, lambda s: str(s.submitted)),
    _Column("served", 5, lambda s: str(s.served)),
    _Column("abandoned", 5, lambda s: str(s.abandoned)),
    _Column("unserved", 5, lambda s: str(s.unserved)),
    _Column("wait p90", 5, lambda s: _seconds(s.wait_p90)),
    _Column("in 60 s", 6, lambda s: _percent(s.answered_within_60s)),
]

_AGENT_COLUMNS: list[_Column[AgentFigures]] = [
    _Column("served", 5, lambda a: str(a.served)),
    _Column("mean wait", 5, lambda a: _seconds(a.mean_wait)),
    _Column("busy (h)", 5, lambda a: f"{a.busy_seconds / 3600:.1f}"),
]


def _per_queue(ours: Figures, bank: Figures) -> list[str]:
    queues = sorted(set(ours.per_queue) | set(bank.per_queue))
    return _pair_table("queue", _QUEUE_COLUMNS, queues, ours.per_queue, bank.per_queue)


def _per_agent(ours: Figures, bank: Figures) -> list[str]:
    agents = _agents_in_order(set(ours.per_agent) | set(bank.per_agent))
    return _pair_table("agent", _AGENT_COLUMNS, agents, ours.per_agent, bank.per_agent)


def _pair_table(
    label: str,
    columns: list[_Column[_T]],
    keys: list[str],
    ours: dict[str, _T],
    bank: dict[str, _T],
) -> list[str]:
    """Two header lines (titles, then ours/bank under each) and a row per key; a side that has
    no figures for a key shows "-"."""
    titles = f"{'':<{_KEY_WIDTH}}" + "".join(f"{c.title:^{2 * c.width + 1}}{_GAP}" for c in columns)
    sides = f"{label:<{_KEY_WIDTH}}" + "".join(
        f"{'ours':>{c.width}} {'bank':>{c.width}}{_GAP}" for c in columns
    )
    lines = [titles.rstrip(), sides.rstrip()]
    for key in keys:
        cells = "".join(
            f"{_cell_or_dash(ours.get(key), c.cell):>{c.width}} {_cell_or_dash(bank.get(key), c.cell):>{c.width}}{_GAP}"
            for c in columns
        )
        lines.append(f"{key:<{_KEY_WIDTH}}{cells}".rstrip())
    return lines


def _invariants(violations: list[str]) -> list[str]:
    if not violations:
        return ["Invariants held: no conversation with two agents, no agent over capacity."]
    shown = [f"  {message}" for message in violations[:MAX_VIOLATIONS_SHOWN]]
    hidden = len(violations) - len(shown)
    if hidden:
        shown.append(f"  ... and {hidden} more")
    return [f"Invariants VIOLATED ({len(violations)}):", *shown]


def _agents_in_order(agents: set[str]) -> list[str]:
    """Agent ids in order, the bank's unrecorded-agent bucket last."""
    return sorted(agents, key=lambda agent: (agent == UNRECORDED_AGENT, agent))


def _cell_or_dash(figures: _T | None, cell: Callable[[_T], str]) -> str:
    return "-" if figures is None else cell(figures)


def _seconds(value: float) -> str:
    return f"{value:.0f}"


def _percent(share: float) -> str:
    return f"{100 * share:.1f}%"
