"""The journal: one SQLite file (WAL mode) holding everything a restart needs.

It holds every conversation's timeline, the open work and where it is, closed conversations,
agents provisioned through the API, gateways' submit keys, every message pushed to a desktop
(so a desktop can resume its stream, even across a restart) and the manual clock's time.

Writes are batched: actors hand records over without waiting, and once per turn of the event
loop the batch is committed in one transaction (group commit: a burst costs a few large
commits, not many small ones). Nothing a client is told goes out before the records behind
it are committed: answers wait for `synced()`, desktop messages are released by
`after_commit`.

Where a batch is committed depends on how busy the server is. A large one, or one that many
calls wait for (a busy server), goes to a single writer thread, where SQLite's work runs
beside the event loop. A small one (a quiet server, a replay: one call at a time) is
committed on the loop itself: in WAL mode with
synchronous=NORMAL a commit only appends to the WAL file, some tens of microseconds, while
handing it to the thread and back costs about half a millisecond of latency on every answer.
Checkpoints, the part that copies the WAL back into the database file and syncs the disk,
are never automatic: they run on a thread and connection of their own (`CHECKPOINT_ROWS`),
beside the commits, which go on meanwhile; only a last short pass, copying what came in
meanwhile, runs where the commits run (`CHECKPOINT_PASSES`). A checkpoint of some thousands
of rows takes tens of milliseconds (80-100 ms on a slow machine); run where the commits
run, every answer and desktop message queued behind it waited that long. Reads go through
the writer thread. A lock on the file (`flock`, taken before SQLite opens it) keeps a
second server off it.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import structlog
from switchboard.actors.conversation import ConversationSnapshot, TimelineEntry
from switchboard.actors.desktop_link import Envelope
from switchboard.actors.domain.model import AgentSpec, ConversationState, Ticket, frozen_map
from switchboard.actors.recovery import OpenConversation, Saved, SubmitKey
from switchboard.server import records, translate
from switchboard.server.worker_thread import WorkerThread
from switchboard.v1 import common_pb2

SCHEMA_VERSION = 3

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
    3: [
        # Open work: the ticket as JSON (server/records.py), its state and who has it.
        """CREATE TABLE open_work (
            conversation_id TEXT PRIMARY KEY,
            ticket TEXT NOT NULL,
            state TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            offer_pending INTEGER NOT NULL,
            since REAL NOT NULL
        )""",
        """CREATE TABLE agents (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            capacity INTEGER NOT NULL,
            skills TEXT NOT NULL,
            queue_ids TEXT NOT NULL
        )""",
        """CREATE TABLE submit_keys (
            key TEXT PRIMARY KEY,
            work_stream_id TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            queue_id TEXT NOT NULL,
            at REAL NOT NULL
        )""",
        """CREATE TABLE desktop_messages (
            agent_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            message BLOB NOT NULL,
            PRIMARY KEY (agent_id, sequence)
        )""",
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        # Who holds what, as the agents say (their word wins after a crash: it is what
        # their desktops were told).
        """CREATE TABLE agent_work (
            conversation_id TEXT PRIMARY KEY,
            agent_id TEXT NOT NULL,
            state TEXT NOT NULL,
            since REAL NOT NULL
        )""",
        # Per agent, today's counts of capacity profiles that reset at the end of the day.
        """CREATE TABLE profile_counts (
            agent_id TEXT PRIMARY KEY,
            day TEXT NOT NULL,
            used TEXT NOT NULL
        )""",
    ],
}

# Desktop messages kept per agent for resuming a stream; older ones are pruned as new ones
# are written (a desktop that missed more than this starts afresh).
KEPT_DESKTOP_MESSAGES = 1_000

log = structlog.get_logger("switchboard.storage")

RETRY_S = 0.5  # after a failed commit (a full disk, say), try again this soon
CLOSE_FAILING_S = 10.0  # at shutdown, give up on commits that have failed this long

# A batch of at most this many records, that at most this many answers and desktop messages
# wait for, is committed on the event loop if the last commit ended at least QUIET_S ago; any
# other on the writer thread (see the module's docstring). One call at a time (a replay, a
# quiet centre) wants the loop: no hand-over latency. Many calls at once want the thread:
# SQLite's work runs beside the loop and the batches grow while a commit is out. The gap
# since the last commit tells the two apart: committing on the loop keeps each batch and its
# waiters small, so their counts alone would keep a busy server on the loop. (A measure of
# load, not engine time: it never changes what is decided, only where SQLite runs.)
INLINE_RECORDS = 64
INLINE_WAITERS = 4
QUIET_S = 0.001
# After this many rows written since the last checkpoint (each dirties at most a page or two
# of the WAL), the checkpoint thread copies the WAL back into the database file. SQLite's own
# automatic checkpoint would do it every 1,000 pages, inside whichever commit crossed the line.
CHECKPOINT_ROWS = 4_000
# A checkpoint beside the commits copies what the WAL held when its pass began; commits
# appended meanwhile are copied by another pass, each shorter than the one before. The WAL
# starts again from its beginning only at a commit that finds all of it copied, which passes
# running beside a steady flow of commits may never leave it: so the last pass runs on the
# writer thread, where no commit comes in between, and copies the little that is left (a
# stall of a millisecond or two, not the whole checkpoint's tens). Passes beside the commits:
CHECKPOINT_PASSES = 3


@dataclass(slots=True)
class _Batch:
    """Records handed over since the last commit began."""

    timeline: list[tuple] = field(default_factory=list)
    conversations: list[tuple] = field(default_factory=list)
    open_work: dict[str, tuple | None] = field(default_factory=dict)  # None: closed
    agents: dict[str, tuple] = field(default_factory=dict)
    keys: list[tuple] = field(default_factory=list)
    messages: list[tuple] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    agent_work: dict[str, tuple | None] = field(default_factory=dict)  # None: let go
    # (conversation id, agent id): that agent let go (another may have it already)
    let_go: list[tuple[str, str]] = field(default_factory=list)
    profile_counts: dict[str, tuple] = field(default_factory=dict)
    records: int = 0  # handed over, however many rows they became

    def empty(self) -> bool:
        return not (
            self.timeline
            or self.conversations
            or self.open_work
            or self.agents
            or self.keys
            or self.messages
            or self.meta
            or self.agent_work
            or self.let_go
            or self.profile_counts
        )

    def serialise(self) -> None:
        """Tickets of open work as JSON (they are live objects until the batch goes out)."""
        for cid, row in self.open_work.items():
            if row is not None and not isinstance(row[1], str):
                self.open_work[cid] = (row[0], records.ticket_to_json(row[1]), *row[2:])

    def _agent_work_let_go_by(self, later: _Batch) -> dict[str, tuple | None]:
        """This batch's holdings without those the later batch lets go of: written together,
        the deletions run first, so an earlier holding would otherwise come back."""
        gone = set(later.let_go)
        return {
            cid: row
            for cid, row in self.agent_work.items()
            if row is None or (cid, row[1]) not in gone
        }

    def then(self, later: _Batch) -> _Batch:
        """This batch followed by a later one (to retry a failed commit in order)."""
        return _Batch(
            self.timeline + later.timeline,
            self.conversations + later.conversations,
            {**self.open_work, **later.open_work},
            {**self.agents, **later.agents},
            self.keys + later.keys,
            self.messages + later.messages,
            {**self.meta, **later.meta},
            {**self._agent_work_let_go_by(later), **later.agent_work},
            self.let_go + later.let_go,
            {**self.profile_counts, **later.profile_counts},
            self.records + later.records,
        )


class StorageError(RuntimeError):
    pass


class Storage:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._writer = WorkerThread("sqlite")
        self._db: sqlite3.Connection | None = None
        # Checkpoints: a connection and thread of their own (see the module's docstring).
        self._checkpointer = WorkerThread("checkpoint")
        self._checkpoint_db: sqlite3.Connection | None = None
        self._checkpointing: asyncio.Future | None = None
        self._lock_fd: int | None = None  # the flock that keeps a second server off the file
        # What each commit checks is still there, against the working directory of now: a
        # program that embeds the journal and changes directory later must not find its
        # relative path "gone". (Not normalised: "link/.." means what it meant to open().)
        self._path_in_place = os.path.join(os.getcwd(), self.path)
        # Told True when commits start failing and False when they succeed again (health).
        self.on_failing: Callable[[bool], None] | None = None
        self._batch = _Batch()
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.Future] = set()
        # Every record handed over counts one; `_committed` is the count known on disk.
        self._recorded = 0
        self._committed = 0
        self._waiters: deque[tuple[int, Callable[[], None]]] = deque()
        # time.monotonic() of the first of the failed commits in a row; None: the last
        # commit succeeded. While failing, commits are retried on the writer thread.
        self._failing_since: float | None = None
        self._rows_since_checkpoint = 0
        self._last_commit_at = 0.0  # time.perf_counter() when the last commit ended

    # --- opening ---------------------------------------------------------------------

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await self._writer.run(self._open)
        except BaseException:
            self._stop_threads()  # refused: nothing of this journal is left running
            raise
        self._flush()

    def _stop_threads(self) -> None:
        self._checkpointer.shutdown()
        self._writer.shutdown()

    async def load(self) -> Saved:
        """What a restart needs, as the file holds it."""
        try:
            return await self._writer.run(self._load)
        except sqlite3.DatabaseError as exc:
            await self._refuse_at_load(f"reading it failed ({exc})")
        except (KeyError, ValueError, TypeError) as exc:
            # A row SQLite reads but we cannot (edited by hand, written by a tool): refused
            # like a damaged page, not a traceback.
            await self._refuse_at_load(
                f"a record in it does not read back ({type(exc).__name__}: {exc})"
            )

    async def _refuse_at_load(self, reason: str) -> NoReturn:
        await self._writer.run(self._close_files)
        self._stop_threads()
        raise StorageError(f"cannot use {self.path}: {reason}; it was left untouched") from None

    def _load(self) -> Saved:
        db = self._db
        assert db is not None
        saved = Saved()
        entries: dict[str, list[TimelineEntry]] = {}
        for cid, at, kind, detail, queue_id, agent_id in db.execute(
            "SELECT t.conversation_id, t.at, t.kind, t.detail, t.queue_id, t.agent_id "
            "FROM timeline t JOIN open_work o ON o.conversation_id = t.conversation_id "
            "ORDER BY t.rowid"
        ):
            entries.setdefault(cid, []).append(TimelineEntry(at, kind, detail, queue_id, agent_id))
        for cid, ticket, state, agent_id, offer_pending, since in db.execute(
            "SELECT * FROM open_work"
        ):
            saved.conversations.append(
                OpenConversation(
                    ticket=records.ticket_from_json(ticket),
                    state=ConversationState(state),
                    agent_id=agent_id,
                    offer_pending=bool(offer_pending),
                    since=since,
                    timeline=tuple(entries.get(cid, ())),
                )
            )
        for agent_id, name, capacity, skills, queue_ids in db.execute("SELECT * FROM agents"):
            saved.agents.append(
                AgentSpec(
                    agent_id,
                    name,
                    capacity,
                    frozen_map(json.loads(skills)),
                    tuple(json.loads(queue_ids)),
                )
            )
        for key, stream, customer, cid, queue_id, _ in db.execute("SELECT * FROM submit_keys"):
            saved.keys[key] = SubmitKey(stream, customer, cid, queue_id)
        saved.sequences = dict(
            db.execute("SELECT agent_id, MAX(sequence) FROM desktop_messages GROUP BY agent_id")
        )
        for cid, agent_id, state, since in db.execute("SELECT * FROM agent_work"):
            saved.holdings[cid] = (agent_id, state, since)
        for agent_id, day, used in db.execute("SELECT * FROM profile_counts"):
            saved.profile_counts[agent_id] = (day, json.loads(used))
        row = db.execute("SELECT value FROM meta WHERE name = 'clock'").fetchone()
        saved.clock = float(row[0]) if row else None
        return saved

    async def desktop_messages(self, agent_id: str, after: int, upto: int) -> list[bytes]:
        """Messages pushed to `agent_id` numbered after..upto, in order, as sent."""
        await self.synced()
        return await self._writer.run(self._desktop_messages, agent_id, after, upto)

    def _desktop_messages(self, agent_id: str, after: int, upto: int) -> list[bytes]:
        db = self._db
        assert db is not None
        return [
            message
            for (message,) in db.execute(
                "SELECT message FROM desktop_messages WHERE agent_id = ? AND sequence > ? "
                "AND sequence <= ? ORDER BY sequence",
                (agent_id, after, upto),
            )
        ]

    def _open(self) -> None:
        in_memory = self.path == ":memory:"
        if not in_memory and Path(self.path).is_dir():
            raise StorageError(f"{self.path} is a directory, not a database file")
        if not in_memory:
            self._refuse_a_wal_without_its_file()
            self._lock_file()
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path} was written by a newer Switchboard (schema {version}, this "
                    f"one knows {SCHEMA_VERSION}); it was left untouched"
                )
            if version == 0:
                tables = [
                    name
                    for (name,) in db.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                    )
                ]
                if tables:
                    raise StorageError(
                        f"cannot use {self.path}: it holds another application's tables "
                        f"({', '.join(tables[:5])}) and no Switchboard schema; it was left "
                        "untouched"
                    )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run on their own thread
            # Writes only when the schema must be created or migrated: a file refused later
            # (say, a damaged page found while loading) is left as it was.
            db.execute("BEGIN IMMEDIATE")
            if version == 0:
                for statement in filter(str.strip, SCHEMA.split(";")):
                    db.execute(statement)
                version = 1
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target]:
                    db.execute(statement)
            if version != SCHEMA_VERSION:
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("COMMIT")
        except StorageError:
            self._let_go_at_open(db)
            raise
        except sqlite3.DatabaseError as exc:
            reason = str(exc)
            if "locked" in reason:
                reason = "it is locked by another process (is another server using it?)"
            elif "not a database" in reason:
                reason = "it is not a SQLite database (corrupt, or another kind of file)"
            elif "readonly" in reason:
                reason = (
                    f"it cannot be written ({reason}); SQLite keeps its -wal and -shm files "
                    "beside it, so the file and its directory must both be writable"
                )
            self._let_go_at_open(db)
            raise StorageError(f"cannot use {self.path}: {reason}; it was left untouched") from None
        self._db = db
        if not in_memory:
            checkpointer = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            checkpointer.execute("PRAGMA synchronous=NORMAL")  # the checkpoint syncs the file
            checkpointer.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpoint_db = checkpointer

    def _lock_file(self) -> None:
        """One server per file: an exclusive `flock` on the database file, held while it is
        open. (A lock of its own kind: SQLite's are POSIX record locks, which closing any
        descriptor of the file would drop, so this descriptor stays open until SQLite has
        closed its connections.)"""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot use {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StorageError(
                    f"cannot use {self.path}: it cannot be locked against a second server "
                    f"({exc.strerror}); use a file on a local disk"
                ) from None
            raise StorageError(
                f"cannot use {self.path}: it is locked by another process (is another server "
                "using it?); it was left untouched"
            ) from None
        self._lock_fd = fd

    def _refuse_a_wal_without_its_file(self) -> None:
        """A -wal with frames beside a missing or empty database file: the database was
        deleted or moved without its -wal. (Never a journal of ours: SQLite writes the file's
        first page before any frame.) SQLite would lay the old frames over a new, empty file,
        or fail with "disk I/O error": refuse before anything is created."""
        try:
            wal_bytes = os.stat(f"{self.path}-wal").st_size
        except OSError:
            return
        try:
            file_bytes = os.stat(self.path).st_size
        except FileNotFoundError:
            file_bytes = 0
        if wal_bytes and not file_bytes:
            raise StorageError(
                f"cannot use {self.path}: the database file is missing or empty but its -wal "
                f"({wal_bytes:,} bytes) is there, so the file was deleted or moved without "
                "it. Put the database back beside its -wal, or move the -wal and -shm away "
                "to start a new journal; nothing was changed"
            )

    def _let_go_at_open(self, db: sqlite3.Connection | None) -> None:
        """A file refused at open is let go of entirely: this process may try another."""
        if db is not None:
            db.close()
        self._unlock_file()

    def _check_file_in_place(self) -> None:
        """The file locked at open must still be the one at the path. Deleted or moved away,
        commits would go to a file no restart finds (and a new server could create another
        at the path, beside this one's -wal and -shm): refuse to commit, so that nothing
        more is acknowledged. One fstat and one stat per commit."""
        if self._lock_fd is None:
            return
        held = os.fstat(self._lock_fd)
        try:
            here = os.stat(self._path_in_place)
        except FileNotFoundError:
            here = None
        if (
            held.st_nlink == 0
            or here is None
            or (here.st_dev, here.st_ino) != (held.st_dev, held.st_ino)
        ):
            raise StorageError(
                f"the journal {self.path} was deleted or replaced while this server ran; "
                "nothing more is acknowledged. Stop the server (if the file was moved, put it "
                "back first, with its -wal file: that holds the latest work)"
            )

    def _unlock_file(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _close_files(self) -> None:
        """Close both connections, then let go of the file (in that order: see _lock_file)."""
        for db in (self._checkpoint_db, self._db):
            if db is not None:
                db.close()
        self._checkpoint_db = self._db = None
        self._unlock_file()

    # --- writing ---------------------------------------------------------------------

    def record(self, conversation_id: str, entry: TimelineEntry) -> None:
        self._batch.timeline.append(
            (conversation_id, entry.at, entry.kind, entry.detail, entry.queue_id, entry.agent_id)
        )
        self._added()

    def saved(
        self,
        ticket: Ticket,
        state: ConversationState,
        agent_id: str,
        offer_pending: bool,
        since: float,
    ) -> None:
        """Open work changed: the latest of a batch is all that is written (serialised when
        the batch goes out, once however often it changed meanwhile)."""
        cid = ticket.conversation_id
        self._batch.open_work[cid] = (cid, ticket, state.value, agent_id, int(offer_pending), since)
        self._added()

    def closed(self, snapshot: ConversationSnapshot) -> None:
        work = snapshot.ticket.work
        self._batch.open_work[work.conversation_id] = None
        self._batch.conversations.append(
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
        self._added()

    def agent_provisioned(self, spec: AgentSpec) -> None:
        self._batch.agents[spec.id] = (
            spec.id,
            spec.name,
            spec.capacity,
            json.dumps(dict(spec.skills)),
            json.dumps(list(spec.queue_ids)),
        )
        self._added()

    def key_used(self, key: str, used: SubmitKey, at: float) -> None:
        self._batch.keys.append(
            (key, used.work_stream_id, used.customer_id, used.conversation_id, used.queue_id, at)
        )
        self._added()

    def pushed(self, agent_id: str, envelope: Envelope) -> None:
        # Kept as is: the writer thread turns it into bytes (an envelope never changes), so
        # the event loop, which sends every message already, does not encode it twice.
        self._batch.messages.append((agent_id, envelope))
        self._added()

    def holding(self, agent_id: str, conversation_id: str, state: str, since: float) -> None:
        self._batch.agent_work[conversation_id] = (conversation_id, agent_id, state, since)
        self._added()

    def let_go(self, agent_id: str, conversation_id: str) -> None:
        """`agent_id` no longer has it; whoever took it over (a transfer) keeps their row."""
        current = self._batch.agent_work.get(conversation_id)
        if current is not None and current[1] == agent_id:
            del self._batch.agent_work[conversation_id]
        self._batch.let_go.append((conversation_id, agent_id))
        self._added()

    def profile_counts(self, agent_id: str, day: str, used: dict[str, int]) -> None:
        """An agent's end-of-day capacity profile counts, so a restart keeps today's."""
        self._batch.profile_counts[agent_id] = (agent_id, day, json.dumps(used))
        self._added()

    def clock_moved(self, now: float) -> None:
        """The manual clock moved (a restart goes on from here). No commit of its own: the
        time goes out with the next one, and `synced` makes sure there is one before any
        answer (a clock move is always followed by an answer: AdvanceClock's, or that of
        the call that carried `switchboard-at`)."""
        self._batch.meta["clock"] = repr(now)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once everything handed over so far is committed, in the order
        asked. A desktop message goes out only after the change it tells of is on disk."""
        if self._recorded == self._committed:
            callback()
            return
        self._waiters.append((self._recorded, callback))

    async def synced(self) -> None:
        """Wait until everything handed over so far is committed (before answering)."""
        if self._batch.meta and not self._batch.records:
            self._added()  # a call that changed nothing else must not lose the time it set
        if self._recorded == self._committed:
            return
        done = asyncio.get_running_loop().create_future()
        self.after_commit(lambda: done.done() or done.set_result(None))
        await done

    def _added(self) -> None:
        self._recorded += 1
        self._batch.records += 1
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._pending or self._db is None:
            # Group commit: one transaction in flight at a time; whatever arrives meanwhile
            # goes in the next one.
            return
        batch, self._batch = self._batch, _Batch()
        if batch.empty():
            return
        batch.serialise()  # here, on the loop's thread: the tickets may change after
        covered = self._recorded
        quiet = (
            batch.records <= INLINE_RECORDS
            and len(self._waiters) <= INLINE_WAITERS
            and time.perf_counter() - self._last_commit_at >= QUIET_S
        )
        if quiet and self._failing_since is None:
            try:
                rows = self._write(batch)
            except Exception as exc:  # any failure: keep the batch and retry it
                self._failed(batch, exc)
                return
            self._committed_upto(covered, rows)
            return
        future = self._writer.run(self._write, batch)
        self._pending.add(future)
        future.add_done_callback(lambda f: self._written(f, batch, covered))

    def _written(self, future: asyncio.Future, batch: _Batch, covered: int) -> None:
        self._pending.discard(future)
        error = future.exception()
        if error is not None:
            self._failed(batch, error)
            return
        self._committed_upto(covered, future.result())

    def _failed(self, batch: _Batch, error: BaseException) -> None:
        # Nothing it covers was told to anyone: keep it and try again shortly, on the
        # writer thread (a disk in trouble must not stall the loop).
        log.error("storage.write_failed", error=str(error), path=self.path)
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            if self.on_failing is not None:
                self.on_failing(True)
        self._batch = batch.then(self._batch)
        self._loop.call_later(RETRY_S, self._flush)  # type: ignore[union-attr]

    def _committed_upto(self, covered: int, rows: int) -> None:
        self._last_commit_at = time.perf_counter()
        if self._failing_since is not None:
            self._failing_since = None
            if self.on_failing is not None:
                self.on_failing(False)
        self._committed = covered
        while self._waiters and self._waiters[0][0] <= covered:
            _, callback = self._waiters.popleft()
            callback()
        self._rows_since_checkpoint += rows
        if (
            self._rows_since_checkpoint >= CHECKPOINT_ROWS
            and self._checkpointing is None
            and self._checkpoint_db is not None
        ):
            self._rows_since_checkpoint = 0
            future = self._checkpointer.run(self._checkpoint)
            self._checkpointing = future
            future.add_done_callback(self._checkpointed)
        if not self._batch.empty():
            self._flush()

    def _checkpointed(self, future: asyncio.Future) -> None:
        if future.exception() is not None:
            # The WAL stays as it is and keeps everything; the next checkpoint tries again.
            self._checkpointing = None
            log.warning("storage.checkpoint_failed", error=str(future.exception()))
            return
        if self._db is None:
            self._checkpointing = None
            return
        # The last pass, where the commits run (see CHECKPOINT_PASSES): they wait for it.
        last = self._writer.run(self._last_checkpoint_pass)
        self._checkpointing = last
        self._pending.add(last)
        last.add_done_callback(self._checkpoint_done)

    def _checkpoint_done(self, future: asyncio.Future) -> None:
        self._checkpointing = None
        self._pending.discard(future)
        if future.exception() is not None:
            log.warning("storage.checkpoint_failed", error=str(future.exception()))
        if not self._batch.empty():
            self._flush()

    def _checkpoint(self) -> None:
        """Copy the WAL back into the database file beside the commits (on the checkpoint
        thread), in passes until one finds nothing new or CHECKPOINT_PASSES have run."""
        db = self._checkpoint_db
        assert db is not None
        seen = -1
        for _ in range(CHECKPOINT_PASSES):
            # A pass copies the frames the WAL had when it began (its `frames`), all of them:
            # no reader holds any back (reads run on the writer thread, between commits).
            _, frames, _ = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames == seen:
                return  # nothing was appended since the pass before
            seen = frames

    def _last_checkpoint_pass(self) -> None:
        """Copy what is left, on the writer thread: with no commit in between, all of the WAL
        is copied, and the next commit starts it again from its beginning."""
        assert self._db is not None
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def _write(self, batch: _Batch) -> int:
        """Commit `batch`; returns how many rows it wrote."""
        db = self._db
        assert db is not None
        self._check_file_in_place()
        changes_before = db.total_changes
        db.execute("BEGIN")
        try:
            for statement, rows in self._statements(batch):
                if rows:  # most batches touch a few tables; an empty executemany still costs
                    db.executemany(statement, rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        # Again after the commit: a file deleted while it ran took this batch with it. The
        # batch then counts as failed and is never acknowledged.
        self._check_file_in_place()
        return db.total_changes - changes_before

    @staticmethod
    def _statements(batch: _Batch) -> list[tuple[str, Any]]:
        """The batch as (statement, rows), in the order they must run."""
        pruned: dict[str, int] = {}
        for agent_id, envelope in batch.messages:
            pruned[agent_id] = envelope.sequence - KEPT_DESKTOP_MESSAGES
        return [
            ("INSERT INTO timeline VALUES (?, ?, ?, ?, ?, ?)", batch.timeline),
            (
                "INSERT OR REPLACE INTO conversations "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch.conversations,
            ),
            (
                "DELETE FROM open_work WHERE conversation_id = ?",
                [(cid,) for cid, row in batch.open_work.items() if row is None],
            ),
            (
                "INSERT OR REPLACE INTO open_work VALUES (?, ?, ?, ?, ?, ?)",
                [row for row in batch.open_work.values() if row is not None],
            ),
            ("INSERT OR REPLACE INTO agents VALUES (?, ?, ?, ?, ?)", list(batch.agents.values())),
            ("INSERT OR IGNORE INTO submit_keys VALUES (?, ?, ?, ?, ?, ?)", batch.keys),
            (
                "INSERT OR REPLACE INTO desktop_messages VALUES (?, ?, ?)",
                [
                    (agent_id, e.sequence, translate.desktop_message(e).SerializeToString())
                    for agent_id, e in batch.messages
                ],
            ),
            (
                "DELETE FROM desktop_messages WHERE agent_id = ? AND sequence <= ?",
                [(agent, upto) for agent, upto in pruned.items() if upto > 0],
            ),
            ("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(batch.meta.items())),
            ("DELETE FROM agent_work WHERE conversation_id = ? AND agent_id = ?", batch.let_go),
            (
                "INSERT OR REPLACE INTO profile_counts VALUES (?, ?, ?)",
                list(batch.profile_counts.values()),
            ),
            (
                "INSERT OR REPLACE INTO agent_work VALUES (?, ?, ?, ?)",
                [row for row in batch.agent_work.values() if row is not None],
            ),
        ]

    async def drain(self) -> None:
        """Wait until everything handed over so far is committed."""
        await self.synced()

    # --- reading ---------------------------------------------------------------------

    async def find_conversation(self, conversation_id: str) -> common_pb2.Conversation | None:
        await self.drain()
        return await self._writer.run(self._find, conversation_id)

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
        """Commit everything handed over, then close. Commits that keep failing (a full
        disk, a journal deleted under the server) would hold the shutdown for ever: after
        CLOSE_FAILING_S of nothing but failures the rest is given up (none of it was
        acknowledged: answers wait for their commit) and StorageError says so."""
        drained = asyncio.ensure_future(self.drain())
        given_up = 0
        while not drained.done():
            await asyncio.wait({drained}, timeout=RETRY_S)
            since = self._failing_since
            if since is not None and time.monotonic() - since > CLOSE_FAILING_S:
                drained.cancel()
                given_up = self._recorded - self._committed
                break
        if self._checkpointing is not None:
            await asyncio.wait({self._checkpointing})
        while self._pending:
            await asyncio.wait(set(self._pending))
        await self._writer.run(self._close_files)
        self._checkpointer.shutdown()
        self._writer.shutdown()
        if given_up:
            log.error("storage.closed_uncommitted", records=given_up, path=self.path)
            raise StorageError(
                f"closed {self.path} with {given_up} record(s) not committed after "
                f"{CLOSE_FAILING_S:.0f} s of failing commits (none of them was acknowledged)"
            )
