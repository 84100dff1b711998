"""opp timeline: one story, oldest first, of a deal or a customer."""

from __future__ import annotations

import pytest

ENTRY_KEYS = ["at", "type", "opportunity_id", "actor", "text", "task_id", "ticket_id"]
NOW = "2026-03-10T08:30:00Z"
DAY2 = "2026-03-11T09:00:00Z"
DAY3 = "2026-03-12T10:00:00Z"


@pytest.fixture
def story(opp) -> int:
    """A deal with an edit, a note, a task done, a ticket logged and solved, and an invoice."""
    opp("user", "add", "sam")
    deal: int = opp.json("create", "Initech - TPS audit", "--org", "Initech", "--value", "1000")["id"]
    opp("edit", deal, "--title", "Initech - big audit")
    opp("note", deal, "Met the CFO", OPP_NOW=DAY2)
    opp("task", "add", deal, "Send the proposal", "--due", "2026-03-12", OPP_NOW=DAY2)
    opp("task", "done", "1", OPP_NOW=DAY3, OPP_USER="sam")
    opp("stage", "won", deal, "--force", OPP_NOW=DAY3)
    opp("ticket", "add", deal, "Login fails", OPP_NOW=DAY3)
    opp("ticket", "log", "1", "1.5", "--note", "call", OPP_NOW=DAY3)
    opp("ticket", "status", "1", "solved", OPP_NOW=DAY3)
    opp("bill", "add", deal, "--item", "Audit", "--price", "1000", OPP_NOW=DAY3)
    opp("bill", "invoice", deal, OPP_NOW=DAY3)
    return deal


def test_a_deals_timeline_tells_everything_oldest_first(opp, story):
    entries = opp.json("timeline", story)
    assert list(entries[0]) == ENTRY_KEYS
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    kinds = [(e["type"], e["text"]) for e in entries]
    assert kinds[0] == ("deal", "created 'Initech - TPS audit' in lead at 1,000.00 USD")
    assert ("deal", "title: Initech - TPS audit → Initech - big audit") in kinds
    assert ("note", "note: Met the CFO") in kinds
    assert ("task", "task 1 added: Send the proposal (for dana, due 2026-03-12)") in kinds
    assert ("task", "task 1 done") in kinds
    assert ("ticket", "ticket 1 opened: Login fails") in kinds
    assert ("ticket", "ticket 1: 1.50 h logged (call)") in kinds
    assert ("ticket", "ticket 1 open → solved") in kinds
    assert any(kind == "invoice" and text.startswith("invoice INV-2026-0001 issued") for kind, text in kinds)
    done = next(e for e in entries if e["text"] == "task 1 done")
    assert (done["actor"], done["task_id"], done["ticket_id"], done["at"]) == ("sam", 1, None, DAY3)
    logged = next(e for e in entries if "logged" in e["text"])
    assert (logged["ticket_id"], logged["opportunity_id"]) == (1, story)


def test_since_counts_from_the_start_of_that_day(opp, story):
    entries = opp.json("timeline", story, "--since", "2026-03-12")
    assert entries and all(e["at"] >= "2026-03-12T00:00:00Z" for e in entries)
    assert not any(e["type"] == "note" for e in entries)


def test_a_customers_timeline_covers_its_deals_and_its_tickets_alone(opp, story):
    opp("customer", "add", "--org", "Hooli")
    other = opp.json("create", "Hooli deal", "--org", "Hooli")["id"]
    second = opp.json("create", "Initech renewal", "--org", "Initech", OPP_NOW=DAY2)["id"]
    opp("ticket", "add", "--customer", "Initech", "Account question", OPP_NOW=DAY2)
    opp("ticket", "log", "2", "0.25", "--note", "email", OPP_NOW=DAY3)
    opp("ticket", "status", "2", "closed", OPP_NOW=DAY3, OPP_USER="sam")
    entries = opp.json("timeline", "--customer", "Initech")
    deals = {e["opportunity_id"] for e in entries}
    assert deals == {story, second, None}
    assert other not in deals
    alone = [(e["at"], e["actor"], e["text"]) for e in entries if e["opportunity_id"] is None]
    assert alone == [
        (DAY2, "dana", "ticket 2 opened: Account question"),
        (DAY3, "dana", "ticket 2: 0.25 h logged (email)"),
        (DAY3, "sam", "ticket 2 closed"),
    ]
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert opp.json("timeline", "--customer", "Hooli")[0]["opportunity_id"] == other


def test_changed_fields_read_as_tables_show_them(opp):
    """An amount with thousands separators, a probability with %, a deal field named in words."""
    deal = opp.json("create", "Hooli - rollout", "--org", "Initech", "--value", "1000")["id"]
    opp("edit", deal, "--value", "12500.5", "--probability", "40", "--close", "2027-01-31")
    texts = [e["text"] for e in opp.json("timeline", deal)]
    assert texts[1:] == [
        "value: 1,000.00 → 12,500.50",
        "probability: 15% → 40%",
        "expected close: — → 2027-01-31",
    ]


def test_undone_changes_appear_with_their_undo(opp, story):
    opp("task", "add", story, "Oops", OPP_NOW="2026-03-13T09:00:00Z")
    opp("undo", OPP_NOW="2026-03-13T09:00:01Z")
    texts = [e["text"] for e in opp.json("timeline", story)]
    assert texts[-2] == "task 2 added: Oops (for dana)"
    assert texts[-1].startswith("undid task add of ")


def test_bad_timeline_input(opp, story):
    assert "one of them" in opp.fails(2, "timeline")
    assert "one of them" in opp.fails(2, "timeline", story, "--customer", "Initech")
    assert "no opportunity 99" in opp.fails(3, "timeline", "99")
    assert "no customer" in opp.fails(3, "timeline", "--customer", "Nobody")
    assert "2026-02-30" in opp.fails(2, "timeline", story, "--since", "2026-02-30")
    assert "--format ids" not in opp("timeline", "--help").stdout  # a story has no ids to list


# Statistics of a big database (a million deals, tasks and events): what ANALYZE finds there, so that
# the planner chooses as it would for a team's database, not for the few rows of a test.
BIG = {
    ("history", "ix_history_opportunity_id_id"): "5000000 10 1",
    ("history", "ix_history_at_field_opportunity_id"): "5000000 5 3 1",
    ("history", "ix_history_field_at_action_opportunity_id"): "5000000 350000 3 2 1",
    ("history", "ix_history_command_id"): "5000000 3",
    ("tasks", "ix_tasks_opportunity_id_status_due"): "1000000 2 2 1",
    ("tasks", "ix_tasks_assignee_status_due"): "1000000 20000 10000 20",
    ("tasks", "ix_tasks_status_due"): "1000000 500000 300",
    ("opportunities", "ix_opportunities_status_stage"): "1000000 300000 60000",
}


def _plans(opp, db, *args):
    """The SQLite plans of the reads of tasks and history that ``opp ARGS`` runs, on a big database."""
    import sqlite3

    from sqlalchemy import Engine, event

    captured = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and (
            " tasks" in statement or "history" in statement
        ):
            captured.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", grab)
    try:
        opp(*args)
    finally:
        event.remove(Engine, "before_cursor_execute", grab)
    con = sqlite3.connect(db)
    try:
        con.execute("ANALYZE")
        for (table, index), stat in BIG.items():
            con.execute("DELETE FROM sqlite_stat1 WHERE tbl = ? AND idx = ?", (table, index))
            con.execute("INSERT INTO sqlite_stat1 VALUES (?, ?, ?)", (table, index, stat))
        con.commit()
        con.execute("ANALYZE sqlite_schema")
        return [
            "\n".join(str(row[-1]) for row in con.execute("EXPLAIN QUERY PLAN " + sql, tuple(params)))
            for sql, params in captured
        ]
    finally:
        con.close()


@pytest.mark.parametrize(
    ("args", "index"),
    [
        (("agenda",), "ix_tasks_assignee_status_due"),
        (("task", "list", "--mine"), "ix_tasks_assignee_status_due"),
        (("list", "--without-task", "--limit", "50"), "ix_tasks_opportunity_id_status_due"),
        (("timeline", "{deal}"), "ix_history_opportunity_id_id"),
    ],
)
def test_the_daily_questions_are_read_through_indexes(opp, story, db, args, index):
    from tests.conftest import BACKEND

    if BACKEND != "sqlite":
        pytest.skip("reads SQLite's plans")
    plans = _plans(opp, db, *[arg.replace("{deal}", str(story)) for arg in args])
    assert any(index in plan for plan in plans), plans
    if args[0] in ("agenda", "task"):  # someone's tasks come in due order from the index, never sorted
        assert not any("TEMP B-TREE" in plan for plan in plans), plans
    for plan in plans:
        assert "SCAN tasks\n" not in plan + "\n" and "SCAN history\n" not in plan + "\n", plan


def test_a_customers_timeline_includes_the_deals_its_people_are_contacts_of(opp):
    opp("customer", "add", "--org", "Hooli")
    opp("customer", "add", "--person", "Ann Lee", "--employer", "Initech")
    elsewhere = opp.json("create", "Hooli platform", "--org", "Hooli")["id"]
    opp("contact", "add", elsewhere, "Ann Lee", "--role", "advisor")
    deals = {e["opportunity_id"] for e in opp.json("timeline", "--customer", "Initech")}
    assert elsewhere in deals


def test_contacts_read_as_sentences_in_the_timeline(opp):
    opp("customer", "add", "--org", "Hooli")
    opp("customer", "add", "--person", "Ann Lee", "--employer", "Hooli")
    deal = opp.json("create", "Hooli platform", "--org", "Hooli")["id"]
    opp("contact", "add", deal, "Ann Lee", "--role", "advisor")
    opp("contact", "add", deal, "Ann Lee", "--role", "sponsor")
    opp("contact", "remove", deal, "Ann Lee")
    texts = [e["text"] for e in opp.json("timeline", deal) if e["text"].startswith("contact")]
    assert texts == [
        "contact Ann Lee added as advisor",
        "contact Ann Lee: role advisor → sponsor",
        "contact Ann Lee removed",
    ]
