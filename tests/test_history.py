"""Notes and the history command: events of one deal or all, oldest first, and their filters."""

from __future__ import annotations

import pytest

from opp.core.clock import Clock
from opp.core.context import Context, open_context
from opp.core.pipeline import customers, deals, users

EVENT_KEYS = ["id", "opportunity_id", "at", "actor", "action", "field", "old", "new", "note"]
DAY1, DAY2, DAY3 = "2026-03-10T08:30:00Z", "2026-03-11T23:59:59Z", "2026-03-12T00:00:00Z"


def build_story(db):
    """Two deals whose seven events fall on three days and come from two actors (built through the core)."""
    ctx = open_context(db, actor="dana", clock=Clock.from_env_value(DAY1))

    def by(actor, when):
        return Context(ctx.store, actor=actor, clock=Clock.from_env_value(when))

    users.add_user(ctx, "dana", name="Dana Scully")
    users.add_user(ctx, "mo")
    customers.add_customer(ctx, "organization", "Initech")
    deals.create_deal(ctx, "One", org="Initech")  # event 1
    deals.create_deal(ctx, "Two", org="Initech")  # event 2
    deals.add_note(by("dana", DAY2), 1, "first call")  # event 3
    deals.move_deals(by("mo", DAY2), "qualification", [2])  # events 4, 5
    deals.claim_deals(by("mo", DAY3), [1])  # event 6
    deals.edit_deal(by("dana", DAY3), 2, title="Two!")  # event 7
    ctx.close()


@pytest.fixture(scope="module")
def story_template(databases):
    return databases.template(build_story)


@pytest.fixture
def story(cli, restore, story_template):
    restore(story_template)
    return cli


def actions(opp, *args, **env):
    return [(e["opportunity_id"], e["action"]) for e in opp.json("history", *args, **env)]


# -- note ----------------------------------------------------------------------------------------------


def test_note_is_an_event_and_changes_no_field(opp):
    opp("create", "Deal", "--org", "Initech")
    event = opp.json("note", "1", "  Called; they want a demo  ", OPP_NOW=DAY2)
    assert list(event) == EVENT_KEYS
    assert event == {
        "id": 2,
        "opportunity_id": 1,
        "at": DAY2,
        "actor": "dana",
        "action": "note",
        "field": "internal",
        "old": None,
        "new": None,
        "note": "Called; they want a demo",
    }
    assert opp.json("show", "1")["updated_at"] == DAY1


def test_note_from_stdin(opp):
    opp("create", "Deal", "--org", "Initech")
    assert opp.json("note", "1", "-", input="line one\nline two\n")["note"] == "line one\nline two"


@pytest.mark.parametrize(
    ("deal_id", "text", "stdin", "code", "fragment"),
    [
        ("1", "", None, 2, "note must not be empty"),
        ("1", "   ", None, 2, "note must not be empty"),
        ("1", "-", "\n\n", 2, "note must not be empty"),
        ("99", "hello", None, 3, "no opportunity 99"),
        ("abc", "hello", None, 2, "not 'abc'"),
    ],
)
def test_note_refuses_bad_input(opp, unchanged, deal_id, text, stdin, code, fragment):
    opp("create", "Deal", "--org", "Initech")
    check = unchanged()
    assert fragment in opp.fails(code, "note", deal_id, text, input=stdin)
    check()


# -- history -------------------------------------------------------------------------------------------


def test_history_of_all_deals_oldest_first(story):
    events = story.json("history")
    assert [e["id"] for e in events] == [1, 2, 3, 4, 5, 6, 7]
    assert [(e["opportunity_id"], e["action"]) for e in events] == [
        (1, "created"),
        (2, "created"),
        (1, "note"),
        (2, "stage"),
        (2, "stage"),
        (1, "assign"),
        (2, "updated"),
    ]
    assert all(list(e) == EVENT_KEYS for e in events)
    assert [e["at"] for e in events] == [DAY1, DAY1, DAY2, DAY2, DAY2, DAY3, DAY3]


def test_history_of_one_deal(story):
    assert actions(story, "2") == [(2, "created"), (2, "stage"), (2, "stage"), (2, "updated")]
    assert [e["field"] for e in story.json("history", "2", "--action", "stage")] == ["stage", "probability"]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("note", [(1, "note")]),
        ("ASSIGN", [(1, "assign")]),
        ("created", [(1, "created"), (2, "created")]),
        ("invoice", []),
    ],
)
def test_history_by_action(story, action, expected):
    assert actions(story, "--action", action) == expected


@pytest.mark.parametrize(
    ("since", "now", "expected_ids"),
    [
        ("2026-03-11", DAY3, [3, 4, 5, 6, 7]),
        ("2026-03-12", DAY3, [6, 7]),
        ("2026-03-13", DAY3, []),
        ("2026-03-10", DAY3, [1, 2, 3, 4, 5, 6, 7]),
        ("today", "2026-03-12T18:00:00Z", [6, 7]),
        ("yesterday", "2026-03-12T18:00:00Z", [3, 4, 5, 6, 7]),
    ],
)
def test_history_since_counts_from_the_start_of_that_day(story, since, now, expected_ids):
    assert [e["id"] for e in story.json("history", "--since", since, OPP_NOW=now)] == expected_ids


def test_history_by_actor_and_limit(story):
    assert actions(story, "--actor", "mo") == [(2, "stage"), (2, "stage"), (1, "assign")]
    assert actions(story, "--actor", "nobody") == []
    assert [e["id"] for e in story.json("history", "--limit", "2")] == [1, 2]
    assert [e["id"] for e in story.json("history", "1", "--since", "2026-03-11", "--limit", "1")] == [3]


def test_history_reverse_is_newest_first_so_limit_keeps_the_latest(story):
    assert [e["id"] for e in story.json("history", "--reverse")] == [7, 6, 5, 4, 3, 2, 1]
    assert [e["id"] for e in story.json("history", "--reverse", "--limit", "2")] == [7, 6]
    assert [e["id"] for e in story.json("history", "1", "--reverse", "--limit", "2")] == [6, 3]
    assert story("history", "2", "--reverse", "--actor", "mo", "-f", "ids").stdout == "5\n4\n"


def test_history_filters_combine(story):
    assert actions(story, "2", "--actor", "dana", "--since", "2026-03-11") == [(2, "updated")]


def test_history_formats(story):
    assert story("history", "1", "-f", "ids").stdout == "1\n3\n6\n"
    assert len(story("history", "-f", "jsonl").stdout.splitlines()) == 7
    table = story("history", "1").stdout
    assert "first call" in table and "claim" in table
    empty = story("history", "--action", "invoice")
    assert empty.stdout == "" and "no events match" in empty.stderr


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--action", "bogus"], 2, "unknown history action 'bogus'"),
        (["--since", "2026-02-30"], 2, "does not exist"),
        (["--since", "01/02/2026"], 2, "ambiguous date"),
        (["--limit", "0"], 2, "--limit must be a positive number"),
        (["--limit", "x"], 2, ""),
        (["99"], 3, "no opportunity 99"),
        (["abc"], 2, "not 'abc'"),
        (["0"], 2, "not '0'"),
    ],
)
def test_history_refuses_bad_input(story, args, code, fragment):
    assert fragment in story.fails(code, "history", *args)


def test_history_table_shows_a_value_change_as_money(opp):
    """A table shows the old and new value of a deal as every table shows money (grouped, the
    currency's decimals); JSON and CSV keep the stored text."""
    opp("create", "Deal", "--org", "Initech", "--value", "12500.50", "--currency", "EUR")
    opp("edit", "1", "--value", "2000000")
    opp("edit", "1", "--currency", "JPY")
    opp("edit", "1", "--title", "12500")
    lines = opp("history", "1", COLUMNS="200").stdout.splitlines()
    assert lines[3].split()[-2:] == ["12,500.50", "2,000,000.00"]
    assert lines[5].split()[-2:] == ["2,000,000.00", "2,000,000"]
    assert lines[6].split()[-2:] == ["Deal", "12500"]  # a title that looks like a number stays as it is
    assert lines == opp("show", "1", COLUMNS="200").stdout.splitlines()[-len(lines) :]
    events = opp.json("history", "1")
    assert [(e["old"], e["new"]) for e in events[1:4:2]] == [
        ("12500.50", "2000000.00"),
        ("2000000.00", "2000000"),
    ]
    assert "12500.50,2000000.00" in opp("history", "1", "-f", "csv").stdout


def test_history_table_beyond_its_first_rows_shows_money_too(opp, monkeypatch):
    """Rows after the first laid-out chunk are written as they come: the same money text."""
    from opp.cli import render

    monkeypatch.setattr(render, "TABLE_CHUNK", 2)
    opp("create", "Deal", "--org", "Initech", "--value", "1000000")
    opp("edit", "1", "--value", "2000000")
    opp("edit", "1", "--value", "3000000.5")  # the third event: after the first two laid out
    lines = opp("history", "1", COLUMNS="200").stdout.splitlines()
    assert lines[3].split()[-2:] == ["1,000,000.00", "2,000,000.00"]
    assert lines[4].split()[-2:] == ["2,000,000.00", "3,000,000.50"]
