"""The journal's file: what happens when it is taken away under a running server, refused at
open, or found without its -wal; and how the journal tells that its commits are failing."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import threading

import pytest
from switchboard.server import storage as storage_module
from switchboard.server.storage import Storage, StorageError


@pytest.fixture
def fast_retries(monkeypatch):
    # The retry and the give-up delay are real time (a disk's trouble, not the engine's
    # clock): shortened so that the test takes a fraction of a second.
    monkeypatch.setattr(storage_module, "RETRY_S", 0.01)
    monkeypatch.setattr(storage_module, "CLOSE_FAILING_S", 0.05)


@pytest.mark.parametrize("how", ["deleted", "moved", "replaced"])
async def test_a_journal_taken_away_under_the_server_acknowledges_nothing_more(
    tmp_path, fast_retries, how
) -> None:
    path = tmp_path / "j.db"
    storage = Storage(path)
    await storage.open()
    storage.profile_counts("a1", "2026-12-04", {"daily": 1})
    await storage.synced()
    if how == "deleted":
        os.remove(path)
    elif how == "moved":
        os.rename(path, tmp_path / "j.db.moved")
    else:
        os.rename(path, tmp_path / "j.db.old")
        sqlite3.connect(path).close()  # another file now sits at the path
    storage.profile_counts("a2", "2026-12-04", {"daily": 2})
    acknowledged = asyncio.ensure_future(storage.synced())
    await asyncio.sleep(0.1)  # several failed commits and retries
    assert not acknowledged.done()
    with pytest.raises(StorageError, match=r"1 record.* not committed"):
        await storage.close()
    acknowledged.cancel()


class _Events:
    """Stands in for the module's structlog logger (whose first use is cached) to see what
    the journal logs."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict]] = []

    def _record(self, event: str, **fields: object) -> None:
        self.seen.append((event, fields))

    error = warning = info = _record


async def test_the_failures_say_what_happened(tmp_path, fast_retries, monkeypatch) -> None:
    events = _Events()
    monkeypatch.setattr(storage_module, "log", events)
    path = tmp_path / "j.db"
    storage = Storage(path)
    await storage.open()
    os.remove(path)
    storage.profile_counts("a1", "2026-12-04", {"daily": 1})
    await asyncio.sleep(0.05)
    with pytest.raises(StorageError):
        await storage.close()
    failures = [fields for event, fields in events.seen if event == "storage.write_failed"]
    assert failures
    assert "was deleted or replaced while this server ran" in str(failures[0]["error"])
    closed = [fields for event, fields in events.seen if event == "storage.closed_uncommitted"]
    assert [fields["records"] for fields in closed] == [1]


async def test_a_journal_refused_at_open_is_let_go_of(tmp_path) -> None:
    path = tmp_path / "newer.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version=99")
    con.close()
    for _ in range(2):  # the second try is refused for the same reason, not as "locked"
        with pytest.raises(StorageError, match="newer Switchboard"):
            await Storage(path).open()


async def test_a_relative_path_stays_in_place_when_the_process_changes_directory(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = Storage("j.db")
    await storage.open()
    monkeypatch.chdir("/")  # a program embedding the journal may move about
    storage.profile_counts("a1", "2026-12-04", {"daily": 1})
    await asyncio.wait_for(storage.synced(), 5)
    await storage.close()


def _journal_threads() -> int:
    return sum(t.name in ("sqlite", "checkpoint") for t in threading.enumerate())


async def test_a_journal_refused_at_open_leaves_no_thread_behind(tmp_path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("not a database " * 100)
    before = _journal_threads()
    for _ in range(5):
        with pytest.raises(StorageError, match="not a SQLite database"):
            await Storage(other).open()
    assert _journal_threads() == before


async def test_a_wal_without_its_database_file_is_refused_and_nothing_is_created(
    tmp_path,
) -> None:
    storage = Storage(tmp_path / "j.db")
    await storage.open()
    storage.profile_counts("a1", "2026-12-04", {"daily": 1})
    await storage.synced()
    # The file goes, its -wal (holding that commit) stays, as when someone deletes the
    # database alone; the server that had it is gone too.
    moved = tmp_path / "kept"
    moved.mkdir()
    shutil.copy(tmp_path / "j.db-wal", moved / "j.db-wal")
    await storage.close()
    with pytest.raises(StorageError, match="missing or empty but its -wal"):
        await Storage(moved / "j.db").open()
    assert sorted(p.name for p in moved.iterdir()) == ["j.db-wal"]


async def test_the_journal_says_when_commits_start_and_stop_failing(tmp_path, fast_retries) -> None:
    storage = Storage(tmp_path / "j.db")
    told: list[bool] = []
    storage.on_failing = told.append
    await storage.open()
    real_write = storage._write
    failures = 2

    def write_failing_twice(batch):  # a disk that is full for two commits
        nonlocal failures
        if failures:
            failures -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return real_write(batch)

    storage._write = write_failing_twice
    storage.profile_counts("a1", "2026-12-04", {"daily": 1})
    await asyncio.wait_for(storage.synced(), 5)
    await storage.close()
    assert told == [True, False]
