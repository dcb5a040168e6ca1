"""The load-test client: its figures, how it shares work between processes, and a short run
against a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from switchboard.clients.loadtest.command import merge, report, run_load, split
from switchboard.clients.loadtest.run import LoadRun, Outcome, Plan
from switchboard.clients.loadtest.stats import percentile, summary
from switchboard.server.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
CONFIG = (REPO / "examples" / "loadtest" / "switchboard.yaml").read_text()


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    assert percentile([], 99) == 0.0
    assert summary([3.0, 1.0, 2.0]) == {
        "count": 3,
        "p50_ms": 2.0,
        "p90_ms": 3.0,
        "p99_ms": 3.0,
        "max_ms": 3.0,
    }


def test_a_plan_is_shared_out_without_overlap() -> None:
    plans = split(Plan(address="x", desktops=10, rate=90.0), 3)
    assert [p.desktops for p in plans] == [4, 3, 3]
    assert [p.first_agent for p in plans] == [0, 4, 7]
    assert [p.rate for p in plans] == [30.0, 30.0, 30.0]


def test_outcomes_of_several_processes_merge_into_one_set_of_figures() -> None:
    one = {
        "submitted": 10,
        "offered": 10,
        "accepted": 9,
        "closed": 8,
        "errors": {"submit: UNAVAILABLE": 1},
        "submit_ms": [1.0, 2.0],
        "submit_to_offer_ms": [3.0],
        "submit_to_accepted_ms": [4.0],
        "desktop_messages": 40,
        "connect_s": 0.5,
        "reconnected": 0,
        "reconnect_failed": 0,
        "reconnect_s": 0.0,
        "submit_wall_s": 2.0,
        "finish_s": 1.5,
        "wall_s": 3.0,
    }
    two = {**one, "errors": {"submit: UNAVAILABLE": 2}, "submit_ms": [5.0], "finish_s": 4.0}
    figures = merge(Plan(address="x", desktops=2), 2, [one, two], 3.5)
    assert figures["submitted"] == 20 and figures["closed"] == 16
    # Lifecycles over the time from the first submit to the last close, anywhere.
    assert figures["submits_per_s"] == 10.0 and figures["lifecycles_per_s"] == 4.0
    assert figures["submit"]["count"] == 3 and figures["errors"] == {"submit: UNAVAILABLE": 3}
    assert "20 (10/s)" in report(figures)
    assert "  errors:\n            3  submit: UNAVAILABLE" in report(figures)  # a count a line


def short_plan(address: str, **fields: Any) -> Plan:
    """A load test of a few desktops for a fraction of a second, latencies kept from the
    start, no progress lines."""
    return Plan(
        **{
            "address": address,
            "desktops": 5,
            "duration_s": 0.4,
            "concurrency": 4,
            "warmup_s": 0.0,
            "progress": False,
            **fields,
        }
    )


def assert_all_work_closed(outcome: Outcome) -> None:
    assert outcome.errors == {}
    assert outcome.submitted > 0
    assert outcome.closed == outcome.accepted == outcome.offered == outcome.submitted


async def test_a_short_run_against_a_real_server_closes_everything_it_submits(harness) -> None:
    connection = await harness.start(CONFIG)  # system clock: the load test runs in real time
    outcome = await LoadRun(short_plan(connection.address, duration_s=0.5)).run()
    assert_all_work_closed(outcome)
    assert len(outcome.submit_to_offer_ms) == outcome.submitted


async def test_with_a_wrap_time_desktops_end_and_close_in_two_calls_and_still_close_all(
    harness,
) -> None:
    connection = await harness.start(CONFIG)
    plan = short_plan(connection.address, wrap_s=0.05)
    assert plan.unary_per_lifecycle == 4  # and 3 without a wrap time: end and close in one
    assert_all_work_closed(await LoadRun(plan).run())


async def test_submits_alone_finish_without_waiting_for_agents_that_are_not_there(harness) -> None:
    connection = await harness.start(CONFIG, manual_clock=False)
    plan = short_plan(
        connection.address,
        desktops=0,
        duration_s=0.3,
        drain_s=60.0,  # would be waited out in full if anyone were expected to close work
    )
    outcome = await LoadRun(plan).run()
    assert outcome.errors == {}
    assert outcome.submitted > 0 and outcome.closed == 0
    assert outcome.wall_s < 30, "waited for work nobody will close"


async def test_a_work_stream_that_auto_accepts_is_worked_and_closed_like_offered_work(
    harness,
) -> None:
    config = CONFIG.replace("wrap_up: none", "wrap_up: none\n    auto_accept: true")
    assert "auto_accept: true" in config
    connection = await harness.start(config, manual_clock=False)
    outcome = await LoadRun(short_plan(connection.address)).run()
    assert_all_work_closed(outcome)
    assert len(outcome.submit_to_accepted_ms) == outcome.submitted


async def test_several_processes_close_all_work_whichever_process_submitted_it(
    harness,
) -> None:
    connection = await harness.start(CONFIG, manual_clock=False)
    plan = short_plan(connection.address, desktops=4, duration_s=0.5, drain_s=20.0)
    figures = await asyncio.to_thread(run_load, plan, 2)
    assert figures["errors"] == {}
    assert figures["submitted"] > 0
    assert figures["closed"] == figures["accepted"] == figures["offered"] == figures["submitted"]
    # Nobody sat out the drain: the processes saw together that all work was closed.
    assert figures["wall_s"] < 15


def test_bad_numbers_are_refused_before_anything_starts(capsys) -> None:
    for bad, says in [
        (["--rate", "nan"], "--rate: must be a number above 0, got nan"),
        (["--duration", "inf"], "--duration: must be a number above 0, got inf"),
        (["--concurrency", "0"], "--concurrency: must be at least 1, got 0"),
        (["--processes", "0"], "--processes: must be at least 1, got 0"),
        (["--desktops", "-5"], "--desktops: must be at least 0, got -5"),
        (["--wrap-time", "-1"], "--wrap-time: must be a number, 0 or more, got -1"),
        (["--rate", "fast"], "--rate: 'fast' is not a number"),
    ]:
        with pytest.raises(SystemExit) as exited:
            cli_main(["loadtest", "--target", "127.0.0.1:1", *bad])
        assert exited.value.code == 2
        assert says in capsys.readouterr().err
