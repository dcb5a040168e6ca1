"""Figures of a run and of the bank, and the report that sets them side by side."""

from __future__ import annotations

from pathlib import Path

import pytest
from switchboard.clients.replay.bankday import load_day
from switchboard.clients.replay.figures import (
    UNRECORDED_AGENT,
    CallResult,
    Summary,
    bank_figures,
    check_balanced,
    figures_of,
    nearest_rank,
    queue_of_type,
)
from switchboard.clients.replay.report import render

AUGUST_1 = Path(__file__).resolve().parents[2] / "examples" / "bank" / "anonbank-1999-08-01.csv"


def served(
    key: str, wait: float, agent: str = "a1", queue: str = "retail", service: float = 0.0
) -> CallResult:
    return CallResult(key, queue, "served", wait, agent, service)


def abandoned(key: str, wait: float, queue: str = "retail") -> CallResult:
    return CallResult(key, queue, "abandoned", wait)


def unserved(key: str, queue: str = "retail") -> CallResult:
    return CallResult(key, queue, "unserved", None)


# --- percentiles -------------------------------------------------------------------------


def test_nearest_rank_of_nothing_is_zero() -> None:
    assert nearest_rank([], 50) == 0


@pytest.mark.parametrize(
    ("percent", "expected"), [(0, 1), (10, 1), (11, 2), (50, 5), (90, 9), (91, 10), (100, 10)]
)
def test_nearest_rank_on_one_to_ten(percent: float, expected: float) -> None:
    assert nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], percent) == expected


def test_nearest_rank_is_an_observed_value() -> None:
    assert nearest_rank([3, 8], 50) == 3
    assert nearest_rank([3, 8], 51) == 8
    assert nearest_rank([42], 99) == 42


def test_nearest_rank_does_not_trip_on_floating_point() -> None:
    # 14 / 100 * 50 is 7.000000000000001; the 14th percentile of 1..50 is still the 7th value.
    assert nearest_rank(list(range(1, 51)), 14) == 7


def test_nearest_rank_rejects_a_percent_out_of_range() -> None:
    with pytest.raises(ValueError):
        nearest_rank([1, 2], 101)


# --- figures of a run ----------------------------------------------------------------------


def test_figures_of_a_small_run() -> None:
    results = [
        served("c1", 0, "a1", service=100),
        served("c2", 20, "a1", service=50),
        served("c3", 61, "a2"),
        served("c4", 5, "a2", queue="stocks"),
        abandoned("c5", 30),
        unserved("c6", queue="stocks"),
    ]
    figures = figures_of(results, submitted=6)
    assert (figures.submitted, figures.served, figures.abandoned, figures.unserved) == (6, 4, 1, 1)
    # served waits sorted: 0, 5, 20, 61
    assert (figures.wait_p50, figures.wait_p90, figures.wait_max) == (5, 61, 61)
    # shares are of everything submitted; exactly 20 s counts as within 20 s
    assert figures.answered_within_20s == pytest.approx(3 / 6)
    assert figures.answered_within_60s == pytest.approx(3 / 6)

    assert set(figures.per_queue) == {"retail", "stocks"}
    retail = figures.per_queue["retail"]
    assert (retail.submitted, retail.served, retail.abandoned, retail.unserved) == (4, 3, 1, 0)
    assert (retail.wait_p50, retail.wait_max, retail.answered_within_20s) == (20, 61, 0.5)
    stocks = figures.per_queue["stocks"]
    assert (stocks.submitted, stocks.served, stocks.unserved, stocks.wait_p90) == (2, 1, 1, 5)

    assert figures.per_agent["a1"].served == 2
    assert figures.per_agent["a1"].mean_wait == 10
    assert figures.per_agent["a1"].busy_seconds == 150
    assert figures.per_agent["a2"].mean_wait == 33


def test_figures_of_nothing_are_zero() -> None:
    figures = figures_of([])
    assert (figures.submitted, figures.wait_p90, figures.answered_within_60s) == (0, 0, 0)
    assert figures.per_queue == {} and figures.per_agent == {}


def test_no_served_call_gives_zero_waits() -> None:
    figures = figures_of([abandoned("c1", 300), unserved("c2")])
    assert (figures.wait_p50, figures.wait_p90, figures.wait_max, figures.answered_within_20s) == (
        0,
        0,
        0,
        0,
    )


def test_a_lost_call_is_caught() -> None:
    with pytest.raises(
        ValueError,
        match=r"3 calls submitted but 2 results \(served 1 \+ abandoned 1 \+ unserved 0\)",
    ):
        figures_of([served("c1", 1), abandoned("c2", 2)], submitted=3)


def test_a_call_with_two_results_is_caught() -> None:
    with pytest.raises(ValueError, match="c1"):
        figures_of([served("c1", 1), abandoned("c1", 2)])


def test_check_balanced_names_the_numbers() -> None:
    summary = Summary(10, 5, 3, 1, 0, 0, 0, 0, 0)
    with pytest.raises(
        ValueError, match=r"submitted 10 != served 5 \+ abandoned 3 \+ unserved 1 \(= 9\)"
    ):
        check_balanced(summary)


@pytest.mark.parametrize(
    ("outcome", "wait"), [("served", None), ("abandoned", None), ("unserved", 3.0), ("lost", 1.0)]
)
def test_a_result_must_be_coherent(outcome: str, wait: float | None) -> None:
    with pytest.raises(ValueError):
        CallResult("c1", "retail", outcome, wait)


def test_queue_of_type() -> None:
    assert [queue_of_type(t) for t in ("PS", "TT", "PE", "IN", "NE", "NW")] == [
        "retail",
        "retail",
        "english",
        "internet",
        "stocks",
        "prospects",
    ]
    assert queue_of_type("ZZ") == "retail"


# --- the bank's figures for 1 August 1999 --------------------------------------------------


@pytest.fixture(scope="module")
def bank():
    return bank_figures(load_day(AUGUST_1))


def test_bank_totals(bank) -> None:
    assert (bank.submitted, bank.served, bank.abandoned, bank.unserved) == (2237, 1511, 726, 0)
    assert (bank.wait_p50, bank.wait_p90, bank.wait_max) == (96, 323, 1238)
    assert bank.answered_within_20s == pytest.approx(404 / 2237)
    assert bank.answered_within_60s == pytest.approx(607 / 2237)


def test_bank_per_queue(bank) -> None:
    assert {queue: (s.submitted, s.served, s.abandoned) for queue, s in bank.per_queue.items()} == {
        "retail": (1554, 1136, 418),  # PS 1538 + TT 16
        "prospects": (400, 177, 223),
        "stocks": (140, 121, 19),
        "internet": (130, 68, 62),
        "english": (13, 9, 4),
    }


def test_bank_per_agent_adds_up(bank) -> None:
    assert sum(agent.served for agent in bank.per_agent.values()) == bank.served
    assert bank.per_agent[UNRECORDED_AGENT].served == 6  # served, no agent in the log
    assert bank.per_agent["agent-17"].served == 164


def test_bank_figures_follow_the_queue_mapping() -> None:
    everything_in_one = bank_figures(load_day(AUGUST_1), lambda call_type: "all")
    assert list(everything_in_one.per_queue) == ["all"]
    assert everything_in_one.per_queue["all"].submitted == 2237


# --- the report ------------------------------------------------------------------------------


def test_report_sets_ours_beside_the_bank(bank) -> None:
    ours = figures_of([served("c1", 12, "agent-01"), unserved("c2", queue="stocks")], submitted=2)
    text = render("1999-08-01", ours, bank, wall_seconds=12.5, violations=[])
    lines = text.splitlines()
    assert "1999-08-01" in lines[0] and "12.5 s" in lines[0]
    assert any(line.split() == ["submitted", "2", "2237"] for line in lines)
    assert any(line.split() == ["unserved", "1", "0"] for line in lines)
    assert any(line.split()[:3] == ["stocks", "1", "140"] for line in lines)
    assert any(
        line.split()[:3] == ["english", "-", "13"] for line in lines
    )  # we had no English calls
    assert lines[-1].startswith("Invariants held")
    assert len(lines) < 60
    assert max(len(line) for line in lines) <= 100


def test_report_lists_violations_last(bank) -> None:
    violations = [f"event {n}: c{n} offered to a1 while engaged with a2" for n in range(12)]
    lines = render("1999-08-01", bank, bank, wall_seconds=1, violations=violations).splitlines()
    assert "Invariants VIOLATED (12)" in lines[-12]
    assert lines[-1] == "  ... and 2 more"
    assert "event 0: c0" in lines[-11]
