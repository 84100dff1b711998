"""opp agenda: overdue, today and upcoming tasks by the opp clock (UTC days), --fail-if-any for cron,
and calendars (--format ics) read back with icalendar."""

from __future__ import annotations

from datetime import date

import pytest

AGENDA_KEYS = [
    "id",
    "opportunity_id",
    "title",
    "due",
    "assignee",
    "status",
    "created_at",
    "done_at",
    "bucket",
    "deal_title",
]


@pytest.fixture
def tasks(opp) -> int:
    """Dana's tasks around 2026-03-10 (the test clock), one of Sam's, one undated, one done."""
    opp("user", "add", "sam")
    deal: int = opp.json("create", "Initech - TPS audit", "--org", "Initech")["id"]
    opp("task", "add", deal, "Overdue", "--due", "2026-03-09")
    opp("task", "add", deal, "Today", "--due", "2026-03-10")
    opp("task", "add", deal, "In a week", "--due", "2026-03-17")
    opp("task", "add", deal, "In eight days", "--due", "2026-03-18")
    opp("task", "add", deal, "Undated")
    opp("task", "add", deal, "Sam's", "--due", "2026-03-05", "--assign", "sam")
    opp("task", "add", deal, "Done", "--due", "2026-03-01")
    opp("task", "done", "7")
    return deal


def test_agenda_lists_my_overdue_and_coming_tasks_with_their_bucket(opp, tasks):
    found = opp.json("agenda")
    assert list(found[0]) == AGENDA_KEYS
    assert [(t["title"], t["bucket"]) for t in found] == [
        ("Overdue", "overdue"),
        ("Today", "today"),
        ("In a week", "upcoming"),
    ]
    assert found[0]["deal_title"] == "Initech - TPS audit"


def test_agenda_days_assignee_and_all(opp, tasks):
    assert [t["title"] for t in opp.json("agenda", "--days", "0")] == ["Overdue", "Today"]
    assert [t["title"] for t in opp.json("agenda", "--days", "8")][-1] == "In eight days"
    assert [t["title"] for t in opp.json("agenda", "--assignee", "sam")] == ["Sam's"]
    assert [t["title"] for t in opp.json("agenda", "--all")] == ["Sam's", "Overdue", "Today", "In a week"]
    assert [t["title"] for t in opp.json("agenda", OPP_USER="sam")] == ["Sam's"]


def test_bad_agenda_options(opp, tasks):
    assert "either --assignee or --all" in opp.fails(2, "agenda", "--all", "--assignee", "sam")
    assert "days must be" in opp.fails(2, "agenda", "--days", "-1")
    assert "no user" in opp.fails(3, "agenda", "--assignee", "nobody")


@pytest.mark.parametrize(
    ("now", "buckets"),
    [
        # One second before midnight UTC: still the 9th, so the task due on the 9th is today's.
        ("2026-03-09T23:59:59Z", {"Ninth": "today", "Tenth": "upcoming"}),
        # Midnight UTC: the 10th has begun, the 9th's task is overdue.
        ("2026-03-10T00:00:00Z", {"Ninth": "overdue", "Tenth": "today"}),
        # Late evening in New York is already the next day in UTC: opp's days are UTC days.
        ("2026-03-09T20:30:00-05:00", {"Ninth": "overdue", "Tenth": "today"}),
    ],
)
def test_buckets_turn_at_midnight_utc_by_the_opp_clock(opp, now, buckets):
    deal = opp.json("create", "Deal", "--org", "Initech")["id"]
    opp("task", "add", deal, "Ninth", "--due", "2026-03-09")
    opp("task", "add", deal, "Tenth", "--due", "2026-03-10")
    found = opp.json("agenda", OPP_NOW=now)
    assert {t["title"]: t["bucket"] for t in found} == buckets


def test_fail_if_any_exits_6_only_when_an_overdue_task_is_listed(opp, tasks):
    outcome = opp("agenda", "--fail-if-any", "-f", "json", code=6)
    assert outcome.json()[0]["bucket"] == "overdue"  # the list is printed all the same
    opp("task", "done", "1")
    opp("agenda", "--fail-if-any")  # today's and upcoming tasks are no alarm
    opp("agenda", "--fail-if-any", "--all", code=6)  # Sam's is overdue


def _calendar(text: str):
    import icalendar

    return icalendar.Calendar.from_ical(text)


def test_task_list_as_ics_is_one_calendar_with_an_all_day_event_per_dated_task(opp, tasks):
    text = opp("task", "list", "--format", "ics").stdout
    assert text.startswith("BEGIN:VCALENDAR")
    assert "DTSTART;VALUE=DATE:20260309" in text
    calendar = _calendar(text)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 5  # the open, dated tasks: not the undated one, not the done one
    first = events[0]
    assert str(first["SUMMARY"]) == "Sam's"
    assert first.decoded("DTSTART") == date(2026, 3, 5)
    assert str(first["UID"]) == "task-6@opp.tasks"
    assert str(first["DESCRIPTION"]) == f"Deal {tasks}: Initech - TPS audit"


def test_the_same_tasks_keep_the_same_uids_in_every_export(opp, tasks):
    first = _calendar(opp("task", "list", "-f", "ics").stdout)
    opp("task", "edit", "2", "--title", "Today, renamed")
    second = _calendar(opp("task", "list", "-f", "ics", OPP_NOW="2026-03-11T09:00:00Z").stdout)
    uids = [str(event["UID"]) for event in first.walk("VEVENT")]
    assert uids == [str(event["UID"]) for event in second.walk("VEVENT")]
    assert len(set(uids)) == len(uids)
    renamed = next(e for e in second.walk("VEVENT") if str(e["UID"]) == "task-2@opp.tasks")
    assert str(renamed["SUMMARY"]) == "Today, renamed"


def test_agenda_as_ics(opp, tasks):
    calendar = _calendar(opp("agenda", "-f", "ics").stdout)
    assert [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")] == ["Overdue", "Today", "In a week"]


def test_ics_is_refused_by_commands_that_print_no_calendar(opp, tasks):
    assert "not a format of this command" in opp.fails(2, "list", "-f", "ics")
    assert "not a format of this command" in opp.fails(2, "ticket", "list", "-f", "ics")


def test_an_empty_calendar_is_still_a_calendar(opp):
    calendar = _calendar(opp("agenda", "-f", "ics").stdout)
    assert list(calendar.walk("VEVENT")) == []
