"""opp undo: the acting user's last command reverted as a whole, recorded, refused after others' changes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest


@pytest.fixture
def deal(opp) -> int:
    opp("user", "add", "sam")
    deal_id: int = opp.json("create", "Initech - TPS audit", "--org", "Initech", "--value", "1000")["id"]
    return deal_id


def undone_by(db: Path) -> list[tuple[int, str, str, int | None]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id, actor, name, undone_by FROM commands ORDER BY id").fetchall()
    finally:
        conn.close()


def test_undo_reverts_every_field_of_the_last_command_and_records_it(opp, deal, db_path):
    before = opp.json("show", deal)
    opp("edit", deal, "--value", "2500", "--title", "Initech - big audit", "--close", "2026-06-30")
    result = opp.json("undo")
    assert (result["name"], result["events"], result["restored"], result["removed"]) == (
        "edit",
        3,
        [deal],
        [],
    )
    after = opp.json("show", deal)
    for key in ("title", "value", "expected_close", "probability", "stage"):
        assert after[key] == before[key], key
    undo_events = [e for e in after["history"] if e["action"] == "undo"]
    assert {(e["field"], e["old"], e["new"]) for e in undo_events} == {
        ("title", "Initech - big audit", "Initech - TPS audit"),
        ("value", "2500.00", "1000.00"),
        ("expected_close", "2026-06-30", None),
    }
    assert all(e["note"].startswith("undid edit of 2026-03-10T08:30:00Z") for e in undo_events)
    commands = undone_by(db_path)
    edit = next(c for c in commands if c[2] == "edit")
    undo = next(c for c in commands if c[2] == "undo")
    assert edit[3] == undo[0]


def test_repeating_undo_goes_further_back(opp, deal):
    opp("stage", "qualification", deal)
    opp("stage", "proposal", deal, "-p", "55")
    opp("assign", "sam", deal)
    assert opp.json("undo")["name"] == "assign"
    assert opp.json("show", deal)["assignee"] is None
    assert opp.json("undo")["name"] == "stage"
    assert (opp.json("show", deal)["stage"], opp.json("show", deal)["probability"]) == ("qualification", 30)
    assert opp.json("undo")["name"] == "stage"
    assert (opp.json("show", deal)["stage"], opp.json("show", deal)["probability"]) == ("lead", 15)
    assert opp.json("undo")["name"] == "create"
    opp.fails(3, "show", deal)
    assert "nothing to undo" in opp.fails(4, "undo")


def test_undoing_a_close_restores_status_closed_at_and_reason(opp, deal):
    opp("stage", "lost", deal, "--reason", "budget")
    opp("undo")
    shown = opp.json("show", deal)
    assert (shown["status"], shown["closed_at"], shown["lost_reason"], shown["probability"]) == (
        "open",
        None,
        None,
        15,
    )
    assert [d["id"] for d in opp.json("report", "stuck", "--days", "0")] == []  # stage entered at creation


def test_undo_is_refused_when_someone_else_changed_the_deal_since(opp, deal, unchanged):
    opp("edit", deal, "--value", "2000")
    opp("note", deal, "called them", OPP_USER="sam")
    check = unchanged()
    error = opp.fails(4, "undo")
    assert f"opportunity {deal} was changed by sam since" in error
    check()


def test_undo_takes_only_the_acting_users_own_commands(opp, deal):
    opp("edit", deal, "--value", "2000")
    other = opp.json("create", "Initech - other", "--org", "Initech", OPP_USER="sam")["id"]
    assert opp.json("undo")["name"] == "edit"  # dana's last command, not sam's create
    assert opp.json("show", deal)["value"] == 1000.00
    assert opp.json("undo", OPP_USER="sam")["removed"] == [other]


def test_changes_another_user_took_back_do_not_block_an_undo(opp, deal):
    opp("bill", "add", deal, "--item", "Workshop", "--price", "500", OPP_USER="sam")
    opp("undo", OPP_USER="sam")  # sam's billable line goes again
    assert opp.json("bill", "list", deal)["lines"] == []
    assert opp.json("undo")["removed"] == [deal]


def test_a_created_deal_that_something_else_refers_to_is_not_removed(opp, deal, db_path, unchanged):
    conn = sqlite3.connect(db_path)
    with conn:  # a line written without history, as an older opp or another tool might have
        conn.execute(
            "INSERT INTO billables (opportunity_id, line, description, quantity_milli, unit_price_minor, "
            "tax_bp, amount_minor, tax_minor, currency, created_at) "
            "VALUES (?, 1, 'Workshop', 1000, 100, 0, 100, 0, 'USD', '2026-03-10 08:30:00')",
            (deal,),
        )
    conn.close()
    check = unchanged()
    assert "has billable lines now" in opp.fails(4, "undo")
    check()


def test_undo_of_an_import_removes_created_deals_and_restores_updated_ones(opp, tmp_path, deal):
    opp("edit", deal, "--ref", "EXT-1")
    path = tmp_path / "deals.csv"
    path.write_text(
        "title,customer,value,external_ref\nInitech - TPS audit,Initech,5000,EXT-1\nNew,Initech,1,EXT-2\n",
        encoding="utf-8",
    )
    opp("import", path)
    result = opp.json("undo")
    assert result["name"] == "import"
    assert result["restored"] == [deal]
    assert len(result["removed"]) == 1
    assert [d["external_ref"] for d in opp.json("list")] == ["EXT-1"]
    assert opp.json("show", deal)["value"] == 1000.00


def test_undo_of_an_import_removes_the_customers_it_made(opp, tmp_path, deal):
    """As ``customer add`` is undone: the customers the import created go with its deals, the ones that
    were there stay; one another user gave a deal since keeps the import from being undone."""
    path = tmp_path / "deals.csv"
    path.write_text(
        "title,customer,value\nOne,Initech,1\nTwo,Fresh Org,2\nThree,Fresh Org,3\nFour,Other Org,4\n",
        encoding="utf-8",
    )
    before = sorted(c["name"] for c in opp.json("customer", "list"))
    assert opp("import", path, "-o", "json").json()["customers_created"] == 2
    assert opp.json("undo")["events"] == 6  # four deals created, two customers
    assert sorted(c["name"] for c in opp.json("customer", "list")) == before
    assert [d["id"] for d in opp.json("list")] == [deal]

    opp("import", path)
    opp("create", "Theirs", "--org", "Fresh Org", "--value", "9", OPP_USER="sam")
    assert "has opportunities since" in opp.fails(4, "undo")
    assert {"Fresh Org", "Other Org"} <= {c["name"] for c in opp.json("customer", "list")}


def test_nothing_to_undo_is_refused(opp):
    assert "nothing to undo" in opp.fails(4, "undo")


def test_undo_back_into_a_removed_stage_names_the_stage(opp, unchanged):
    opp("stages", "add", "discovery", "--probability", "20", "--after", "lead")
    deal_id = opp.json("create", "Initech - TPS audit", "--org", "Initech", "--stage", "discovery")["id"]
    opp("stage", "qualification", deal_id, "--force")
    opp("stages", "remove", "discovery")
    check = unchanged()
    error = opp.fails(4, "undo")
    assert error == (
        f"opp: error: deal {deal_id} was in stage discovery, which no longer exists "
        "(hint: add the stage again with opp stages add discovery, then undo)"
    )
    assert "try again" not in error and "FOREIGN KEY" not in error.upper()
    check()
    opp("stages", "add", "discovery", "--probability", "20", "--after", "lead")
    opp("undo")
    assert opp.json("show", deal_id)["stage"] == "discovery"
