"""Typed notes: opp note --kind, and opp notes to read and search them."""

from __future__ import annotations

import pytest

NOTE_KEYS = ["id", "opportunity_id", "at", "actor", "kind", "text"]
DAY1, DAY2, DAY3 = "2026-03-10T08:30:00Z", "2026-03-11T09:00:00Z", "2026-03-12T10:00:00Z"


@pytest.fixture
def noted(opp):
    """Two deals of Initech and one of Ada (a person on deal 1 too), with notes of every kind."""
    opp("user", "add", "sam")
    opp("customer", "add", "--person", "Ada Lovelace")
    opp("create", "Initech - audit", "--org", "Initech")
    opp("create", "Initech - support", "--org", "Initech")
    opp("create", "Ada - coaching", "--person", "Ada Lovelace")
    opp("contact", "add", "1", "Ada Lovelace")
    opp("note", "1", "Budget is 50% approved", OPP_NOW=DAY1)
    opp("note", "1", "Met the CFO and Ada", "--kind", "meeting", OPP_NOW=DAY2)
    opp("note", "2", "They asked for a discount", "--kind", "customer", OPP_NOW=DAY2, OPP_USER="sam")
    opp("note", "3", "Kick-off meeting_notes", "--kind", "MEETING", OPP_NOW=DAY3)
    return opp


def test_a_note_has_a_kind_default_internal(opp):
    opp("create", "Deal", "--org", "Initech")
    assert opp.json("note", "1", "plain")["field"] == "internal"
    event = opp.json("note", "1", "Minutes", "--kind", "meeting")
    assert (event["action"], event["field"], event["note"]) == ("note", "meeting", "Minutes")


def test_notes_lists_newest_first_with_exact_keys(noted):
    found = noted.json("notes")
    assert [list(note) for note in found] == [NOTE_KEYS] * 4
    assert [(n["opportunity_id"], n["kind"], n["text"]) for n in found] == [
        (3, "meeting", "Kick-off meeting_notes"),
        (2, "customer", "They asked for a discount"),
        (1, "meeting", "Met the CFO and Ada"),
        (1, "internal", "Budget is 50% approved"),
    ]
    assert found[1]["actor"] == "sam" and found[1]["at"] == DAY2
    history_ids = {e["id"] for e in noted.json("history", "--action", "note")}
    assert {n["id"] for n in found} == history_ids


@pytest.mark.parametrize(
    ("args", "texts"),
    [
        (("1",), ["Met the CFO and Ada", "Budget is 50% approved"]),
        (("--kind", "meeting"), ["Kick-off meeting_notes", "Met the CFO and Ada"]),
        (("--kind", "Internal"), ["Budget is 50% approved"]),
        (
            ("--customer", "Initech"),
            ["They asked for a discount", "Met the CFO and Ada", "Budget is 50% approved"],
        ),
        # Ada's own deal, and the deal she is a contact on
        (
            ("--customer", "Ada Lovelace"),
            ["Kick-off meeting_notes", "Met the CFO and Ada", "Budget is 50% approved"],
        ),
        (("--search", "DISCOUNT"), ["They asked for a discount"]),
        (("--search", "50%"), ["Budget is 50% approved"]),
        (("--search", "g_n"), ["Kick-off meeting_notes"]),
        (("--search", "%"), ["Budget is 50% approved"]),
        (("--search", "_"), ["Kick-off meeting_notes"]),
        (("1", "--kind", "meeting", "--search", "cfo"), ["Met the CFO and Ada"]),
        (("--limit", "1"), ["Kick-off meeting_notes"]),
        (("2", "--kind", "meeting"), []),
    ],
)
def test_notes_filters(noted, args, texts):
    assert [n["text"] for n in noted.json("notes", *args)] == texts


def test_notes_in_every_format(noted):
    ids = [int(line) for line in noted("notes", "--format", "ids").stdout.split()]
    assert ids == [n["id"] for n in noted.json("notes")]
    csv_text = noted("notes", "--format", "csv").stdout.splitlines()
    assert csv_text[0] == ",".join(NOTE_KEYS)
    assert noted("notes", "2", "--kind", "meeting", "--format", "csv").stdout.strip() == ",".join(NOTE_KEYS)
    assert "no notes match" in noted("notes", "2", "--kind", "meeting").stderr


def test_a_note_written_before_kinds_reads_as_internal(noted, db):
    from sqlalchemy import create_engine, text

    url = db if "://" in db else f"sqlite:///{db}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE history SET field = NULL WHERE note = 'Budget is 50% approved'"))
    engine.dispose()
    assert [n["kind"] for n in noted.json("notes", "1")] == ["meeting", "internal"]
    assert [n["text"] for n in noted.json("notes", "--kind", "internal")] == ["Budget is 50% approved"]


def test_an_undone_note_is_no_longer_listed(noted):
    noted("note", "2", "Oops, wrong deal", "--kind", "customer")
    assert noted.json("notes", "2")[0]["text"] == "Oops, wrong deal"
    noted("undo")
    assert [n["text"] for n in noted.json("notes", "2")] == ["They asked for a discount"]


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (("note", "1", "x", "--kind", "gossip"), 2, "unknown note kind 'gossip'"),
        (("notes", "--kind", "gossip"), 2, "unknown note kind 'gossip'"),
        (("note", "99", "x"), 3, "no opportunity 99"),
        (("note", "1", "   "), 2, "note must not be empty"),
        (("notes", "99"), 3, "no opportunity 99"),
        (("notes", "--customer", "Nobody"), 3, "no customer 'Nobody'"),
        (("notes", "--limit", "0"), 2, "--limit must be a positive number"),
        (("notes", "abc"), 2, "opportunity id must be a positive integer"),
    ],
)
def test_bad_note_commands_change_nothing(noted, unchanged, args, code, expected):
    check = unchanged()
    error = noted.fails(code, *args)
    assert expected in error
    if "kind" in expected:
        assert "internal, customer, meeting" in error
    check()


def test_notes_through_the_core_api(noted):
    from opp.core.context import open_context
    from opp.core.work import notes

    ctx = open_context(noted.db, actor="dana")
    try:
        found = notes.list_notes(ctx, 1, kind="meeting")
        assert [(n.kind, n.text) for n in found] == [("meeting", "Met the CFO and Ada")]
    finally:
        ctx.close()
