"""Every scenario in ../shared/scenarios/ played through the real server.

A scenario that Switchboard cannot pass yet is a strict expected failure naming the issue
that covers it: when it starts passing, the suite fails until the mark is removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scenarios.runner import play

SCENARIOS = Path(__file__).resolve().parents[2].parent / "shared" / "scenarios"
LOCAL_COPY = Path(__file__).resolve().parent / "data"

PENDING: dict[str, str] = {}


def scenario_files() -> list[Path]:
    folder = SCENARIOS if SCENARIOS.is_dir() else LOCAL_COPY
    return sorted(folder.glob("*.yaml"))


def params() -> list:
    result = []
    for path in scenario_files():
        marks = []
        if path.stem in PENDING:
            marks.append(pytest.mark.xfail(strict=True, reason=PENDING[path.stem]))
        result.append(pytest.param(path, id=path.stem, marks=marks))
    return result


def test_every_scenario_is_collected() -> None:
    assert len(scenario_files()) >= 12


@pytest.mark.parametrize("path", params())
async def test_scenario(path: Path, harness) -> None:
    await play(path, harness)
