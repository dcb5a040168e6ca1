"""Reading the bank's day: the real file's numbers, and the artefacts on hand-made rows."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from switchboard.clients.replay.bankday import (
    IGNORED_IVR_HANG,
    IGNORED_PHANTOM,
    IGNORED_QUEUE_HANG_AT_ONCE,
    load_day,
    parse_clock,
)

REPO = Path(__file__).resolve().parents[2]
AUGUST_1 = REPO / "examples" / "bank" / "anonbank-1999-08-01.csv"
AUGUST_2 = Path("/work/shared/data/anonbank-1999-08-02.csv")

HEADER = (
    "call_id,customer_id,priority,type,date,vru_line,vru_entry,vru_exit,vru_time,"
    "q_start,q_exit,q_time,outcome,ser_start,ser_exit,ser_time,server"
)


def write_log(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "day.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def row(
    call_id: str = "1",
    *,
    customer: str = "",
    priority: int = 0,
    call_type: str = "PS",
    date: str = "1999-08-01",
    line: str = "AA0101",
    vru: tuple[str, str] = ("10:00:00", "10:00:06"),
    queue: tuple[str, str, int] = ("10:00:06", "10:01:06", 60),
    outcome: str = "AGENT",
    service: tuple[str, str, int] = ("10:01:06", "10:03:06", 120),
    server: str = "agent-01",
) -> str:
    return ",".join(
        [
            call_id,
            customer,
            str(priority),
            call_type,
            date,
            line,
            vru[0],
            vru[1],
            "6",
            queue[0],
            queue[1],
            str(queue[2]),
            outcome,
            service[0],
            service[1],
            str(service[2]),
            server,
        ]
    )


NOT_QUEUED = ("0:00:00", "0:00:00", 0)
NOT_SERVED = ("0:00:00", "0:00:00", 0)


# --- parse_clock -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0:00:00", 0),
        ("7:05:09", 7 * 3600 + 5 * 60 + 9),
        ("23:59:59", 86_399),
        (" 12:00:00 ", 43_200),
    ],
)
def test_parse_clock_reads_h_mm_ss(text: str, seconds: float) -> None:
    assert parse_clock(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "7:5:09", "12:60:00", "12:00:61", "noon", "12:00", "-1:00:00"]
)
def test_parse_clock_rejects_other_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_clock(text)


# --- the real day ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def august_1():
    return load_day(AUGUST_1)


def test_real_day_submits_queued_and_served_calls(august_1) -> None:
    # 1243 served after queueing + 726 abandoned in the queue + 268 served straight from the IVR.
    assert august_1.date == "1999-08-01"
    assert len(august_1.calls) == 2237
    assert Counter(call.bank_outcome for call in august_1.calls) == {
        "served": 1511,
        "abandoned": 726,
    }
    assert (
        sum(1 for call in august_1.calls if call.bank_outcome == "served" and call.bank_wait == 0)
        == 268
    )


def test_real_day_accounts_for_every_row(august_1) -> None:
    assert august_1.ignored == {
        IGNORED_PHANTOM: 18,
        IGNORED_IVR_HANG: 118,
        IGNORED_QUEUE_HANG_AT_ONCE: 2,
    }
    data_rows = len(AUGUST_1.read_text(encoding="utf-8").splitlines()) - 1
    assert len(august_1.calls) + sum(august_1.ignored.values()) == data_rows == 2375


def test_real_day_calls_are_unique_and_in_queue_order(august_1) -> None:
    keys = [call.key for call in august_1.calls]
    assert len(set(keys)) == len(keys)
    assert [c.queued_at for c in august_1.calls] == sorted(c.queued_at for c in august_1.calls)
    first = august_1.calls[0]
    # Served from the IVR: q_start is 0:00:00, so it queued when it left the IVR at 6:57:47.
    assert (first.key, first.queued_at, first.bank_wait) == (
        "AA0108/3467",
        parse_clock("6:57:47"),
        0,
    )


def test_real_day_patience_is_only_for_abandoned_calls(august_1) -> None:
    abandoned = [call for call in august_1.calls if call.bank_outcome == "abandoned"]
    assert all(call.patience == call.bank_wait > 0 for call in abandoned)
    assert all(call.service_time == 0 and call.bank_server == "" for call in abandoned)
    assert all(call.patience is None for call in august_1.calls if call.bank_outcome == "served")


def test_real_day_types_and_priorities(august_1) -> None:
    assert Counter(call.call_type for call in august_1.calls) == {
        "PS": 1538,
        "NW": 400,
        "NE": 140,
        "IN": 130,
        "TT": 16,
        "PE": 13,
    }
    assert {call.file_priority for call in august_1.calls} == {0, 1, 2}


def test_real_day_shifts(august_1) -> None:
    shifts = {shift.agent_id: shift for shift in august_1.shifts}
    assert len(shifts) == 18
    assert [shift.agent_id for shift in august_1.shifts] == sorted(shifts)
    assert all(0 < shift.start < shift.end <= 86_400 + 3600 for shift in august_1.shifts)
    # agent-10 worked the evening: first service 17:25:02, last one 23:17:36 + 59 s.
    assert (shifts["agent-10"].start, shifts["agent-10"].end) == (
        parse_clock("17:25:02"),
        parse_clock("23:18:35"),
    )
    # agent-21 took a 6137-second internet call at 12:10:59; the long services stay in.
    assert shifts["agent-21"].end >= parse_clock("12:10:59") + 6137


def test_real_day_skills(august_1) -> None:
    skills = august_1.skills
    assert skills["agent-23"] == {"IN": 10}  # the internet-support team
    assert skills["agent-09"] == {"NE": 10}  # stocks only
    assert skills["agent-21"]["IN"] == 10
    assert skills["agent-01"]["PS"] == 10 and skills["agent-01"]["TT"] == 1
    for ratings in skills.values():
        assert max(ratings.values()) == 10
        assert all(1 <= rating <= 10 for rating in ratings.values())


@pytest.mark.skipif(not AUGUST_2.exists(), reason="second day of data not present")
def test_second_day_has_services_past_midnight() -> None:
    day = load_day(AUGUST_2)
    assert (len(day.calls), day.ignored[IGNORED_PHANTOM]) == (2212, 15)
    shifts = {shift.agent_id: shift for shift in day.shifts}
    # agent-10's last calls were answered at 0:00:56 and 0:01:19 on 3 August: its shift runs
    # past midnight instead of starting at 0:00:56.
    assert shifts["agent-10"].start == parse_clock("16:12:29")
    assert shifts["agent-10"].end == 86_400 + parse_clock("0:01:19") + 85


# --- hand-made rows ------------------------------------------------------------------------


def test_duplicate_keys_get_a_suffix(tmp_path: Path) -> None:
    path = write_log(tmp_path, row("7"), row("7"), row("7", line="AA0102"), row("7"))
    keys = sorted(call.key for call in load_day(path).calls)
    assert keys == ["AA0101/7", "AA0101/7#2", "AA0101/7#3", "AA0102/7"]


def test_what_is_submitted_and_what_is_ignored(tmp_path: Path) -> None:
    path = write_log(
        tmp_path,
        row("1"),  # served after queueing
        row("2", queue=NOT_QUEUED, vru=("9:00:00", "9:00:09")),  # served straight from the IVR
        row(
            "3", outcome="HANG", queue=("10:00:06", "10:02:06", 120), service=NOT_SERVED, server=""
        ),
        row("4", outcome="HANG", queue=NOT_QUEUED, service=NOT_SERVED, server=""),
        row("5", outcome="HANG", queue=("10:00:06", "10:00:06", 0), service=NOT_SERVED, server=""),
        row("6", outcome="PHANTOM", server=""),
    )
    day = load_day(path)
    calls = {call.key: call for call in day.calls}
    assert set(calls) == {"AA0101/1", "AA0101/2", "AA0101/3"}
    assert day.ignored == {IGNORED_IVR_HANG: 1, IGNORED_QUEUE_HANG_AT_ONCE: 1, IGNORED_PHANTOM: 1}

    served = calls["AA0101/1"]
    assert (served.queued_at, served.bank_wait, served.service_time, served.patience) == (
        36_006,
        60,
        120,
        None,
    )
    assert (served.bank_outcome, served.bank_server) == ("served", "agent-01")
    assert calls["AA0101/2"].queued_at == parse_clock("9:00:09")
    abandoned = calls["AA0101/3"]
    assert (abandoned.bank_outcome, abandoned.patience, abandoned.bank_wait) == (
        "abandoned",
        120,
        120,
    )
    assert [call.key for call in day.calls] == [
        "AA0101/2",
        "AA0101/1",
        "AA0101/3",
    ]  # by queued_at, then key


def test_a_hang_up_with_a_service_time_is_not_served(tmp_path: Path) -> None:
    # The log has a few HANG rows with a ser_time; the caller had left, nobody served them.
    path = write_log(
        tmp_path,
        row(
            outcome="HANG",
            queue=("10:00:06", "10:00:18", 12),
            service=("10:00:20", "10:05:00", 280),
            server="",
        ),
    )
    (call,) = load_day(path).calls
    assert (call.bank_outcome, call.patience, call.service_time) == ("abandoned", 12, 0)


def test_customer_and_priority_are_kept(tmp_path: Path) -> None:
    path = write_log(tmp_path, row(customer="cust-abc", priority=2))
    (call,) = load_day(path).calls
    assert (call.customer_id, call.file_priority) == ("cust-abc", 2)


def test_shift_ignores_zero_length_services(tmp_path: Path) -> None:
    path = write_log(
        tmp_path,
        row("1", service=("0:00:00", "0:00:00", 0)),  # served, no times: an artefact
        row("2", queue=("11:00:00", "11:01:00", 60), service=("11:01:00", "11:02:00", 60)),
        row("3", queue=("13:00:00", "13:01:00", 60), service=("13:01:00", "13:03:30", 150)),
        row(
            "4", queue=("14:00:00", "14:01:00", 60), service=("14:01:00", "14:01:00", 0)
        ),  # after the last real one
    )
    day = load_day(path)
    (shift,) = day.shifts
    assert (shift.agent_id, shift.start, shift.end) == (
        "agent-01",
        parse_clock("11:01:00"),
        parse_clock("13:03:30"),
    )
    assert len(day.calls) == 4  # still submitted, served in zero seconds


def test_an_agent_with_only_zero_length_services_has_skills_but_no_shift(tmp_path: Path) -> None:
    path = write_log(tmp_path, row(service=("0:00:00", "0:00:00", 0), server="agent-09"))
    day = load_day(path)
    assert day.shifts == ()
    assert day.skills == {"agent-09": {"PS": 10}}


def test_a_call_across_midnight_keeps_its_order(tmp_path: Path) -> None:
    path = write_log(
        tmp_path,
        row(
            vru=("23:59:35", "23:59:35"),
            queue=("23:59:41", "0:01:20", 99),
            service=("0:01:19", "0:02:44", 85),
            server="agent-10",
        ),
    )
    day = load_day(path)
    (call,) = day.calls
    assert call.queued_at == parse_clock("23:59:41")
    (shift,) = day.shifts
    assert (shift.start, shift.end) == (86_400 + 79, 86_400 + 79 + 85)


def test_service_end_before_start_uses_the_service_time(tmp_path: Path) -> None:
    path = write_log(tmp_path, row(service=("10:01:06", "10:00:00", 120)))
    (shift,) = load_day(path).shifts
    assert shift.end - shift.start == 120


def test_skill_rating_is_share_of_the_main_type_rounded_half_up(tmp_path: Path) -> None:
    types = ["PS"] * 10 + ["NW"] * 5 + ["NE"]
    path = write_log(tmp_path, *(row(str(n), call_type=t) for n, t in enumerate(types)))
    # NW: 1 + 9 * 5/10 = 5.5 -> 6 (half to even would give 5); NE: 1 + 0.9 -> 2.
    assert load_day(path).skills == {"agent-01": {"NE": 2, "NW": 6, "PS": 10}}


def test_a_rare_type_still_rates_at_least_one(tmp_path: Path) -> None:
    types = ["PS"] * 30 + ["TT"]
    path = write_log(tmp_path, *(row(str(n), call_type=t) for n, t in enumerate(types)))
    assert load_day(path).skills["agent-01"]["TT"] == 1


# --- malformed files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        (row(queue=("10:0:06", "10:01:06", 60)), "q_start"),
        (row(queue=("10:00:06", "10:01:06", -3)), "q_time"),
        (row(priority=7), "priority"),
        (row(outcome="TRANSFER"), "outcome"),
        (row(call_type="XX"), "call type"),
        (row(date="1999-13-01"), "date"),
        (row(date="19990801"), "date"),
        (row()[: row().rindex(",")], "columns"),  # the server column is missing
        (row().replace("AA0101", ""), "vru_line"),
    ],
)
def test_a_malformed_row_raises_with_file_and_line(
    tmp_path: Path, bad_row: str, reason: str
) -> None:
    path = write_log(tmp_path, row("1"), row("2"), bad_row, row("4"))
    with pytest.raises(ValueError, match=rf"day\.csv:4: .*{reason}"):
        load_day(path)


def test_lenient_loading_counts_malformed_rows(tmp_path: Path) -> None:
    path = write_log(
        tmp_path, row("1"), row("2", queue=("ten", "10:01:06", 60)), row("3", priority=9)
    )
    day = load_day(path, strict=False)
    assert len(day.calls) == 1
    assert day.ignored == {"malformed: bad time": 1, "malformed: unknown priority": 1}


def test_a_file_of_two_days_raises(tmp_path: Path) -> None:
    path = write_log(tmp_path, row("1"), row("2", date="1999-08-02"))
    with pytest.raises(ValueError, match=r"day\.csv:3: date 1999-08-02 in a file of 1999-08-01"):
        load_day(path)


def test_a_header_without_a_needed_column_raises(tmp_path: Path) -> None:
    path = write_log(tmp_path, row(), header=HEADER.replace(",server", ""))
    with pytest.raises(ValueError, match=r"day\.csv:1: .*server"):
        load_day(path)


@pytest.mark.parametrize("content", ["", HEADER + "\n"])
def test_a_file_without_calls_raises(tmp_path: Path, content: str) -> None:
    path = tmp_path / "day.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="day.csv"):
        load_day(path)


def test_blank_lines_are_skipped_and_line_numbers_still_point_at_the_row(tmp_path: Path) -> None:
    path = write_log(tmp_path, row("1"), "", row("3", queue=("x", "10:01:06", 60)))
    with pytest.raises(ValueError, match=r"day\.csv:4: "):
        load_day(path)
