"""Read one day of the Anonymous Bank call-centre log as routing traffic.

The log (see /work/shared/data/README.md) has one row per call that reached the IVR. Only
the calls that actually joined the queue are work for a router; everything else is counted
in `BankDay.ignored` so the totals can be reconciled with the file.

Clock times are local times of the day. The log writes `0:00:00` for "no such moment"
(never queued, never served), and a call that straddles midnight carries its later times on
the next day's clock (q_start 23:59:41, q_exit 0:01:20). `_RowTimes` therefore reads every
time of a row relative to the call's IVR entry, so the values here are seconds since the
local midnight that began the day, and may slightly exceed 86 400 for such calls.
"""

from __future__ import annotations

import csv
import datetime
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SECONDS_PER_DAY = 86_400.0

# A time more than half a day before the call's IVR entry is on the next day's clock. Real
# gaps inside one call are minutes; the only backwards jumps of hours are midnight wraps.
_WRAP_THRESHOLD = SECONDS_PER_DAY / 2

COLUMNS = (
    "call_id",
    "customer_id",
    "priority",
    "type",
    "date",
    "vru_line",
    "vru_entry",
    "vru_exit",
    "vru_time",
    "q_start",
    "q_exit",
    "q_time",
    "outcome",
    "ser_start",
    "ser_exit",
    "ser_time",
    "server",
)
CALL_TYPES = frozenset({"PS", "PE", "IN", "NE", "NW", "TT"})
OUTCOMES = frozenset({"AGENT", "HANG", "PHANTOM"})
PRIORITIES = frozenset({0, 1, 2})

# Why a row of the file did not become a submitted call (keys of `BankDay.ignored`).
IGNORED_PHANTOM = "phantom"
IGNORED_IVR_HANG = "hung up in the IVR (never queued)"
# q_start is set but q_time is 0 and nobody served it: the caller was gone the moment the
# call reached the queue. The README's rule (q_time > 0 or served) leaves these out.
IGNORED_QUEUE_HANG_AT_ONCE = "hung up as it reached the queue (q_time 0)"
MALFORMED_PREFIX = "malformed: "

_CLOCK = re.compile(r"(\d{1,2}):([0-5]\d):([0-5]\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

MAX_SKILL = 10
MIN_SKILL = 1


@dataclass(frozen=True)
class Call:
    """One call that joined the queue: a work item to submit, and what the bank did with it."""

    key: str
    customer_id: str
    file_priority: int
    call_type: str
    queued_at: float
    patience: float | None
    service_time: float
    bank_outcome: str  # "served" | "abandoned"
    bank_wait: float
    bank_server: str


@dataclass(frozen=True)
class Shift:
    """When an agent was working, as far as the log shows: first service start to last end."""

    agent_id: str
    start: float
    end: float


@dataclass(frozen=True)
class BankDay:
    date: str
    calls: tuple[Call, ...]
    shifts: tuple[Shift, ...]
    skills: dict[str, dict[str, int]]
    ignored: dict[str, int]


class MalformedRow(ValueError):
    """A row that cannot be read. `kind` is a short category, stable enough to count by."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def parse_clock(text: str) -> float:
    """Seconds since midnight for a clock time written "H:MM:SS" (hours may be two digits)."""
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a H:MM:SS time: {text!r}")
    hours, minutes, seconds = (int(part) for part in match.groups())
    return float(hours * 3600 + minutes * 60 + seconds)


def load_day(path: str | Path, *, strict: bool = True) -> BankDay:
    """Read one day's log.

    A malformed row (missing column, unparseable time or number, unknown outcome/type/priority)
    raises `ValueError` naming the file and line. With `strict=False` such rows are counted in
    `ignored` under "malformed: <kind>" instead, for exploring a dirty file. Rows of more than
    one date always raise: the replay is of one day.
    """
    path = Path(path)
    rows, ignored = _read_rows(path, strict=strict)
    date = rows[0].date

    submitted = []
    for row in rows:
        reason = row.reason_not_submitted()
        if reason is None:
            submitted.append(row)
        else:
            ignored[reason] += 1

    return BankDay(
        date=date,
        calls=_calls_of(submitted),
        shifts=_infer_shifts(rows),
        skills=_infer_skills(rows),
        ignored=dict(ignored),
    )


def _infer_shifts(rows: list[_Row]) -> tuple[Shift, ...]:
    """Each agent's first service start and last service end of the day, by agent id.

    Only services with ser_time > 0 count: the zero-length ones carry 0:00:00 clocks or are
    instantaneous artefacts. The end of a service is ser_start + ser_time rather than ser_exit
    because the two agree on every ordinary row, while ser_exit wraps to a small number when
    the service runs past midnight (23:58:54 -> 0:04:25); such a shift ends after 86 400.
    An agent with breaks between services still gets one shift spanning them all.
    """
    spans: dict[str, tuple[float, float]] = {}
    for row in rows:
        if not row.served or not row.server or row.ser_time <= 0 or row.ser_start is None:
            continue
        start, end = row.ser_start, row.ser_start + row.ser_time
        if row.server in spans:
            first, last = spans[row.server]
            start, end = min(first, start), max(last, end)
        spans[row.server] = (start, end)
    return tuple(Shift(agent, start, end) for agent, (start, end) in sorted(spans.items()))


def _infer_skills(rows: list[_Row]) -> dict[str, dict[str, int]]:
    """agent -> {call type: rating 1..10} from the types each agent served.

    rating = 1 + round(9 * share), share = the agent's calls of that type / the agent's calls
    of their most served type; so the main type rates 10 and a type served once among hundreds
    rates 1. Rounding is half up (not Python's half-to-even) so equal shares rate alike.
    Zero-length services count: the type of call is still what the agent took.
    """
    served_by_agent: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        if row.served and row.server:
            served_by_agent[row.server][row.call_type] += 1
    skills: dict[str, dict[str, int]] = {}
    for agent in sorted(served_by_agent):
        counts = served_by_agent[agent]
        most = max(counts.values())
        skills[agent] = {
            call_type: _clamp(1 + int(9 * count / most + 0.5), MIN_SKILL, MAX_SKILL)
            for call_type, count in sorted(counts.items())
        }
    return skills


def _calls_of(rows: list[_Row]) -> tuple[Call, ...]:
    taken: Counter[str] = Counter()
    calls = []
    for row in rows:
        base = f"{row.vru_line}/{row.call_id}"
        taken[base] += 1
        key = base if taken[base] == 1 else f"{base}#{taken[base]}"
        calls.append(row.to_call(key))
    return tuple(sorted(calls, key=lambda call: (call.queued_at, call.key)))


def _read_rows(path: Path, *, strict: bool) -> tuple[list[_Row], Counter[str]]:
    """All readable rows of the file, and the count of unreadable ones by kind (lenient mode)."""
    rows: list[_Row] = []
    malformed: Counter[str] = Counter()
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = _Header.read(path, reader)
        for fields in reader:
            if not fields:
                continue  # a blank line, e.g. at the end of the file
            # line_num is the line the record ended on: the one to look at in an editor.
            line_number = reader.line_num
            try:
                row = _Row.parse(header.columns_of(fields))
            except MalformedRow as error:
                if strict:
                    raise ValueError(f"{path}:{line_number}: {error}") from None
                malformed[MALFORMED_PREFIX + error.kind] += 1
                continue
            if rows and row.date != rows[0].date:
                raise ValueError(
                    f"{path}:{line_number}: date {row.date} in a file of {rows[0].date}; one day per file"
                )
            rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no calls in the file")
    return rows, malformed


@dataclass(frozen=True)
class _Header:
    """Where each expected column is; extra columns are allowed and ignored."""

    index: dict[str, int]
    width: int

    @classmethod
    def read(cls, path: Path, reader: Iterator[list[str]]) -> _Header:
        names = next(reader, None)
        if names is None:
            raise ValueError(f"{path}: empty file")
        names = [name.strip() for name in names]
        missing = [name for name in COLUMNS if name not in names]
        if missing:
            raise ValueError(f"{path}:1: header lacks column(s) {', '.join(missing)}")
        return cls({name: names.index(name) for name in COLUMNS}, len(names))

    def columns_of(self, fields: list[str]) -> dict[str, str]:
        if len(fields) != self.width:
            raise MalformedRow(
                "wrong number of columns", f"{len(fields)} fields, expected {self.width}"
            )
        return {name: fields[position].strip() for name, position in self.index.items()}


@dataclass(frozen=True)
class _Row:
    """One row, typed. Clock times are None where the file has 0:00:00 ("no such moment")."""

    call_id: str
    customer_id: str
    priority: int
    call_type: str
    date: str
    vru_line: str
    vru_entry: float
    vru_exit: float
    q_start: float | None
    q_time: int
    outcome: str
    ser_start: float | None
    ser_time: int
    server: str

    @property
    def served(self) -> bool:
        return self.outcome == "AGENT"

    @classmethod
    def parse(cls, raw: dict[str, str]) -> _Row:
        for name in ("call_id", "priority", "type", "date", "vru_line", "vru_entry", "outcome"):
            if not raw[name]:
                raise MalformedRow("missing column", f"{name} is empty")
        if raw["type"] not in CALL_TYPES:
            raise MalformedRow("unknown call type", raw["type"])
        if raw["outcome"] not in OUTCOMES:
            raise MalformedRow("unknown outcome", raw["outcome"])
        priority = _count(raw, "priority")
        if priority not in PRIORITIES:
            raise MalformedRow("unknown priority", raw["priority"])
        if not _is_iso_date(raw["date"]):
            raise MalformedRow("bad date", raw["date"])

        times = _RowTimes(raw)
        return cls(
            call_id=raw["call_id"],
            customer_id=raw["customer_id"],
            priority=priority,
            call_type=raw["type"],
            date=raw["date"],
            vru_line=raw["vru_line"],
            vru_entry=times.entry,
            vru_exit=times.of("vru_exit"),
            q_start=times.optional("q_start"),
            q_time=_count(raw, "q_time"),
            outcome=raw["outcome"],
            ser_start=times.optional("ser_start"),
            ser_time=_count(raw, "ser_time"),
            server=raw["server"],
        )

    def reason_not_submitted(self) -> str | None:
        if self.outcome == "PHANTOM":
            return IGNORED_PHANTOM
        if self.q_time > 0 or self.served:
            return None
        if self.q_start is None:
            return IGNORED_IVR_HANG
        return IGNORED_QUEUE_HANG_AT_ONCE

    def to_call(self, key: str) -> Call:
        # README: a call served straight from the IVR has q_start 0:00:00; it queued on leaving
        # the IVR. Using vru_exit whenever q_start is absent covers that and nothing else here.
        queued_at = self.q_start if self.q_start is not None else self.vru_exit
        abandoned = not self.served
        return Call(
            key=key,
            customer_id=self.customer_id,
            file_priority=self.priority,
            call_type=self.call_type,
            queued_at=queued_at,
            patience=float(self.q_time) if abandoned and self.q_time > 0 else None,
            # A few HANG rows carry a ser_time; the caller left, so nothing was served.
            service_time=float(self.ser_time) if self.served else 0.0,
            bank_outcome="abandoned" if abandoned else "served",
            bank_wait=float(self.q_time),
            bank_server=self.server if self.served else "",
        )


class _RowTimes:
    """A row's clock times, unwrapped across midnight relative to its IVR entry."""

    def __init__(self, raw: dict[str, str]) -> None:
        self._raw = raw
        self.entry = self._clock("vru_entry")

    def of(self, column: str) -> float:
        value = self._clock(column)
        if self.entry - value > _WRAP_THRESHOLD:
            value += SECONDS_PER_DAY
        return value

    def optional(self, column: str) -> float | None:
        """None for the log's 0:00:00 placeholder. A real event at exactly midnight would be
        lost, but that is a one-second window against thousands of placeholders."""
        if self._clock(column) == 0:
            return None
        return self.of(column)

    def _clock(self, column: str) -> float:
        try:
            return parse_clock(self._raw[column])
        except ValueError:
            raise MalformedRow("bad time", f"{column}={self._raw[column]!r}") from None


def _count(raw: dict[str, str], column: str) -> int:
    text = raw[column]
    if not text.isdigit():
        raise MalformedRow("bad number", f"{column}={text!r}")
    return int(text)


def _is_iso_date(text: str) -> bool:
    """YYYY-MM-DD and a real day (Python 3.11's fromisoformat alone also takes "19990801")."""
    if _DATE.fullmatch(text) is None:
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))
