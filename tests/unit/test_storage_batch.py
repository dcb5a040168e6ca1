"""The journal's batch: what a commit writes when records cross (a transfer lets go of work
another agent has just taken), and how a failed batch is kept for the retry."""

from __future__ import annotations

import asyncio

from switchboard.server.storage import Storage


def test_letting_go_keeps_the_row_of_whoever_took_the_work_over(tmp_path) -> None:
    async def run() -> dict:
        storage = Storage(tmp_path / "j.db")
        await storage.open()
        storage.holding("a1", "c1", "active", 1.0)
        await storage.synced()
        storage.holding("a2", "c1", "active", 2.0)  # transferred: a2 has it now
        storage.let_go("a1", "c1")  # then a1 lets go of its own copy
        storage.holding("a3", "c2", "waiting", 3.0)
        storage.let_go("a3", "c2")  # a3 let go of c2 in the same batch
        await storage.synced()
        saved = await storage.load()
        await storage.close()
        return saved.holdings

    assert asyncio.run(run()) == {"c1": ("a2", "active", 2.0)}


def test_the_journal_carries_profile_counts_and_the_clock(tmp_path) -> None:
    async def run():
        storage = Storage(tmp_path / "j.db")
        await storage.open()
        storage.profile_counts("a1", "2026-12-03", {"daily": 2})
        storage.clock_moved(1234.5)
        await storage.close()
        again = Storage(tmp_path / "j.db")
        await again.open()
        saved = await again.load()
        await again.close()
        return saved

    saved = asyncio.run(run())
    assert saved.profile_counts == {"a1": ("2026-12-03", {"daily": 2})}
    assert saved.clock == 1234.5
