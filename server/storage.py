"""The journal: one SQLite file (WAL mode) holding every conversation's timeline.

Writes are batched: actors hand entries over without waiting, and once per turn of the event
loop the batch goes to a single writer thread, which commits it in one transaction. Reads
(closed conversations no longer in memory) go through the same thread, so one connection
serves both and the file can be locked exclusively against a second server.

Restart recovery from this file is issue 5; today the file answers for conversations that
closed earlier, in this run or a previous one.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import structlog
from switchboard.actors.conversation import ConversationSnapshot, TimelineEntry
from switchboard.server import translate
from switchboard.v1 import common_pb2

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS timeline (
    conversation_id TEXT NOT NULL,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    queue_id TEXT NOT NULL,
    agent_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timeline_by_conversation ON timeline (conversation_id);
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    work_stream_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    customer_attributes TEXT NOT NULL,
    context TEXT NOT NULL,
    priority INTEGER NOT NULL,
    required_skills TEXT NOT NULL,
    queue_id TEXT NOT NULL,
    state TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    close_reason TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""

# Each migration takes the file from the version before it to its own.
MIGRATIONS = {
    2: [
        "ALTER TABLE conversations ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE conversations ADD COLUMN severity INTEGER NOT NULL DEFAULT 0",
    ],
}

log = structlog.get_logger("switchboard.storage")


class StorageError(RuntimeError):
    pass


class Storage:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None
        self._timeline: list[tuple] = []
        self._conversations: list[tuple] = []
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.Future] = set()

    # --- opening ---------------------------------------------------------------------

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(self._executor, self._open)

    def _open(self) -> None:
        if self.path != ":memory:" and Path(self.path).is_dir():
            raise StorageError(f"{self.path} is a directory, not a database file")
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path} was written by a newer Switchboard (schema {version}, this "
                    f"one knows {SCHEMA_VERSION}); it was left untouched"
                )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE")  # takes the exclusive lock now, not at first write
            if version == 0:
                for statement in filter(str.strip, SCHEMA.split(";")):
                    db.execute(statement)
                version = 1
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target]:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            reason = str(exc)
            if "locked" in reason:
                reason = "it is locked by another process (is another server using it?)"
            elif "not a database" in reason:
                reason = "it is not a SQLite database (corrupt, or another kind of file)"
            raise StorageError(f"cannot use {self.path}: {reason}; it was left untouched") from None
        self._db = db

    # --- writing ---------------------------------------------------------------------

    def record(self, conversation_id: str, entry: TimelineEntry) -> None:
        self._timeline.append(
            (conversation_id, entry.at, entry.kind, entry.detail, entry.queue_id, entry.agent_id)
        )
        self._schedule_flush()

    def closed(self, snapshot: ConversationSnapshot) -> None:
        work = snapshot.ticket.work
        self._conversations.append(
            (
                work.conversation_id,
                work.stream_id,
                work.channel.value,
                work.customer_id,
                json.dumps(dict(work.customer_attributes)),
                json.dumps(dict(work.context)),
                work.priority,
                json.dumps(dict(work.required_skills)),
                work.queue_id,
                snapshot.state.value,
                snapshot.agent_id,
                snapshot.close_reason,
                work.created_at,
                json.dumps(dict(work.attributes)),
                work.severity,
            )
        )
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._pending:
            # Group commit: one transaction in flight at a time; whatever arrives meanwhile
            # goes in the next one, so a burst costs a few large commits, not many small.
            return
        timeline, self._timeline = self._timeline, []
        conversations, self._conversations = self._conversations, []
        if not timeline and not conversations:
            return
        future = self._loop.run_in_executor(self._executor, self._write, timeline, conversations)  # type: ignore[union-attr]
        self._pending.add(future)
        future.add_done_callback(self._written)

    def _written(self, future: asyncio.Future) -> None:
        self._pending.discard(future)
        if future.exception() is not None:
            log.error("storage.write_failed", error=str(future.exception()), path=self.path)
        if self._timeline or self._conversations:
            self._flush()

    def _write(self, timeline: list[tuple], conversations: list[tuple]) -> None:
        db = self._db
        assert db is not None
        db.execute("BEGIN")
        db.executemany("INSERT INTO timeline VALUES (?, ?, ?, ?, ?, ?)", timeline)
        db.executemany(
            "INSERT OR REPLACE INTO conversations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            conversations,
        )
        db.execute("COMMIT")

    async def drain(self) -> None:
        """Wait until everything handed over so far is committed."""
        self._flush()
        while self._pending or self._timeline or self._conversations:
            if not self._pending:
                self._flush()
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    # --- reading ---------------------------------------------------------------------

    async def find_conversation(self, conversation_id: str) -> common_pb2.Conversation | None:
        await self.drain()
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._find, conversation_id
        )

    def _find(self, conversation_id: str) -> common_pb2.Conversation | None:
        db = self._db
        assert db is not None
        row = db.execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is None:
            return None
        (
            cid,
            stream,
            channel,
            customer,
            attributes,
            context,
            priority,
            skills,
            queue,
            state,
            agent,
            reason,
            created,
            outputs,
            severity,
        ) = row
        message = common_pb2.Conversation(
            id=cid,
            work_stream_id=stream,
            channel=common_pb2.Channel.Value(f"CHANNEL_{channel.upper()}"),
            customer=common_pb2.Customer(id=customer, attributes=json.loads(attributes)),
            context=json.loads(context),
            priority=priority,
            required_skills=json.loads(skills),
            queue_id=queue,
            attributes=json.loads(outputs),
            severity=severity,
            state=common_pb2.ConversationState.Value(f"CONVERSATION_STATE_{state.upper()}"),
            agent_id=agent,
            close_reason=reason,
            created_at=translate.timestamp(created),
        )
        for at, kind, detail, queue_id, agent_id in db.execute(
            "SELECT at, kind, detail, queue_id, agent_id FROM timeline "
            "WHERE conversation_id = ? ORDER BY rowid",
            (conversation_id,),
        ):
            message.timeline.add(
                at=translate.timestamp(at),
                kind=kind,
                detail=detail,
                queue_id=queue_id,
                agent_id=agent_id,
            )
        return message

    async def close(self) -> None:
        await self.drain()
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.get_running_loop().run_in_executor(self._executor, db.close)
        self._executor.shutdown(wait=True)
