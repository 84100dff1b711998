"""opp delete ID…: deals without an issued invoice are deleted (soft: the row stays, with status
``deleted``, which every listing leaves out), closed by a ``deleted`` event; undoable; ``--as-of`` an
earlier day still sees them; refused (exit 4) for a deal on an invoice. The clock is 2026-03-10."""

from __future__ import annotations

import csv
import io

import pytest

LATER = "2026-03-12T09:00:00Z"


def deal(opp, title="Deal", *args):
    return opp.json("create", title, "--org", "Initech", *args)["id"]


@pytest.fixture
def two(opp):
    first = deal(opp, "First", "--value", "100", "--ref", "R-1")
    second = deal(opp, "Second", "--value", "200", "--stage", "won")
    return first, second


def test_a_deleted_deal_is_gone_from_every_listing(two, opp):
    first, second = two
    out = opp.json("delete", first, OPP_NOW=LATER)
    assert [d["id"] for d in out] == [first]
    opp.fails(3, "show", first)
    assert [d["id"] for d in opp.json("list", "--status", "all")] == [second]
    assert opp("list", "--status", "all", "-f", "ids").stdout.split() == [str(second)]
    rows = list(csv.DictReader(io.StringIO(opp("export").stdout)))
    assert [row["title"] for row in rows] == ["Second"]
    assert opp.json("forecast")["total"]["count"] == 1
    assert opp.json("pipeline")["total"]["count"] == 0
    shown = opp.json("customer", "show", "Initech")
    assert [d["id"] for d in shown["opportunities"]] == [second]
    assert shown["totals"]["count"] == 1
    assert opp.json("list", "--search", "First") == []


def test_deleting_closes_the_history_with_a_deleted_event(two, opp):
    first, _ = two
    opp("delete", first, OPP_NOW=LATER)
    events = opp.json("history", first)
    assert events[-1]["action"] == "deleted"
    assert events[0]["action"] == "created"
    assert [e["action"] for e in opp.json("history", "--action", "deleted")] == ["deleted", "deleted"]


@pytest.mark.parametrize("command", [("edit", "{id}", "--value", "5"), ("note", "{id}", "hi"),
                                     ("stage", "proposal", "{id}"), ("claim", "{id}"),
                                     ("bill", "list", "{id}"), ("suggest", "{id}")])  # fmt: skip
def test_a_deleted_deal_cannot_be_changed(two, opp, unchanged, command):
    first, _ = two
    opp("delete", first, OPP_NOW=LATER)
    check = unchanged()
    line = opp.fails(3, *[part.format(id=first) for part in command])
    assert f"no opportunity {first}" in line
    check()


def test_as_of_an_earlier_day_still_sees_a_deleted_deal(two, opp):
    first, second = two
    opp("delete", first, OPP_NOW=LATER)
    then = opp.json("list", "--status", "all", "--as-of", "2026-03-11")
    assert [d["id"] for d in then] == [first, second]
    assert then[0]["external_ref"] == "R-1"
    assert opp.json("forecast", "--as-of", "2026-03-11")["total"]["count"] == 2
    assert [d["id"] for d in opp.json("list", "--status", "all", "--as-of", "2026-03-12")] == [second]


def test_delete_is_undoable(two, opp):
    first, second = two
    before = opp.json("show", first)
    opp("delete", first, second, OPP_NOW=LATER)
    assert opp.json("list", "--status", "all") == []
    opp("undo", OPP_NOW=LATER)
    assert [d["id"] for d in opp.json("list", "--status", "all")] == [first, second]
    after = opp.json("show", first)
    for key in ("title", "value", "status", "stage", "external_ref", "customer"):
        assert after[key] == before[key]
    assert opp.json("show", second)["status"] == "won"


def test_the_reference_of_a_deleted_deal_is_free_again(two, opp):
    first, _ = two
    opp("delete", first, OPP_NOW=LATER)
    again = opp.json("create", "Again", "--org", "Initech", "--ref", "R-1", OPP_NOW=LATER)
    assert again["external_ref"] == "R-1"


def test_a_deal_on_an_issued_invoice_is_refused_and_nothing_is_deleted(two, opp, unchanged):
    first, second = two
    opp("bill", "add", second, "--item", "Work", "--price", "50")
    opp("bill", "invoice", second)
    check = unchanged()
    line = opp.fails(4, "delete", first, second)
    assert f"opportunity {second} is on invoice" in line
    check()


def test_an_unknown_or_bad_id_is_refused_and_nothing_is_deleted(two, opp, unchanged):
    first, _ = two
    check = unchanged()
    opp.fails(3, "delete", first, 99)
    opp.fails(2, "delete", first, "x")
    check()
    opp("delete", first)
    opp.fails(3, "delete", first)


def test_delete_reads_ids_from_stdin(two, opp):
    opp("delete", "-", input="1\n2\n")
    assert opp.json("list", "--status", "all") == []


def test_a_deal_with_billable_lines_not_invoiced_is_deleted_with_them(opp):
    first = deal(opp, "Lines", "--value", "100", "--stage", "won")
    opp("bill", "add", first, "--item", "Work", "--price", "50")
    opp("delete", first)
    totals = opp.json("customer", "show", "Initech")["totals"]
    assert totals["by_currency"] == []
    opp("undo")
    assert len(opp.json("bill", "list", first)["lines"]) == 1


def test_a_stage_holding_only_deleted_deals_says_so_when_it_cannot_be_removed(opp, unchanged):
    opp("stages", "add", "pilot", "--after", "lead", "--probability", "20")
    pilot = deal(opp, "Pilot", "--stage", "pilot")
    opp("delete", pilot)
    check = unchanged()
    line = opp.fails(4, "stages", "remove", "pilot")
    assert "stage pilot still holds 1 deal(s), 1 of them deleted (they keep their stage for undo)" in line
    check()


@pytest.fixture
def worked(opp):
    """Two won deals of Initech (the first to be deleted), each with a task, a ticket with an hour
    logged, a contact and a note."""
    first = deal(opp, "First", "--value", "100", "--close", "2026-03-05")
    second = deal(opp, "Second", "--value", "200", "--close", "2026-03-06")
    opp("edit", first, "--close", "2026-03-08")
    opp("customer", "add", "--person", "Ada Lovelace")
    for which in (first, second):
        opp("task", "add", which, f"Call about {which}", "--due", "2026-03-09")
        opp("ticket", "add", which, f"Issue on {which}")
        opp("ticket", "log", "1" if which == first else "2", "1")
        opp("contact", "add", which, "Ada Lovelace")
        opp("note", which, f"Note on {which}")
        opp("stage", "won", which, "--force")
    return int(first), int(second)


def around(opp):
    """What the commands around the deals show of them, as deal ids."""
    return {
        "task list": {t["opportunity_id"] for t in opp.json("task", "list", "--status", "all")},
        "agenda": {t["opportunity_id"] for t in opp.json("agenda", "--all", "--days", "30")},
        "ticket list": {t["opportunity_id"] for t in opp.json("ticket", "list", "--status", "all")},
        "notes": {n["opportunity_id"] for n in opp.json("notes")},
        "timeline": {e["opportunity_id"] for e in opp.json("timeline", "--customer", "Initech")},
        "support": {r["key"] for r in opp.json("report", "support")},
        "support by customer": [r["tickets"] for r in opp.json("report", "support", "--by", "customer")],
        "review won": {d["id"] for d in opp.json("review", "--since", "2026-03-01")["won"]},
        "people": [d["id"] for d in opp.json("customer", "show", "Ada Lovelace").get("opportunities", [])],
    }


def test_a_deleted_deal_vanishes_from_everything_around_it_until_undone(worked, opp):
    first, second = worked
    before = around(opp)
    assert before["task list"] == {first, second} and before["support by customer"] == [2]
    opp("delete", first, OPP_NOW=LATER)
    after = around(opp)
    assert after["task list"] == after["agenda"] == after["ticket list"] == after["notes"] == {second}
    assert after["timeline"] == {second}
    assert after["support"] == {second} and after["support by customer"] == [1]
    assert after["review won"] == {second}
    info = opp.json("db", "info")["counts"]
    assert (info["opportunities"], info["deleted_opportunities"]) == (1, 1)
    opp.fails(3, "contact", "list", first)
    opp.fails(3, "task", "list", "--deal", first)
    opp.fails(3, "ticket", "list", "--deal", first)
    opp.fails(3, "notes", first)
    opp.fails(3, "timeline", first)
    opp("undo", OPP_NOW=LATER)
    assert around(opp) == before
    info = opp.json("db", "info")["counts"]
    assert (info["opportunities"], info["deleted_opportunities"]) == (2, 0)


@pytest.mark.parametrize("command", [("task", "add", "{id}", "Call"), ("ticket", "add", "{id}", "Bug"),
                                     ("contact", "add", "{id}", "Ada Lovelace"),
                                     ("note", "{id}", "hi", "--kind", "meeting")])  # fmt: skip
def test_nothing_is_added_to_a_deleted_deal(worked, opp, unchanged, command):
    first, _ = worked
    opp("delete", first, OPP_NOW=LATER)
    check = unchanged()
    line = opp.fails(3, *[part.format(id=first) for part in command])
    assert f"no opportunity {first}" in line
    check()


def test_the_review_leaves_a_deleted_deal_out_of_its_lists(opp):
    first = deal(opp, "First", "--value", "100", "--close", "2026-03-20")
    opp("edit", first, "--close", "2026-03-25")
    second = deal(opp, "Second", "--value", "100", "--close", "2026-03-01")
    opp("delete", first, second, OPP_NOW=LATER)
    page = opp.json("review", "--since", "2026-03-01", OPP_NOW=LATER)
    assert page["pushes"] == [] and page["overdue"] == []
    assert opp.json("report", "pushes", "--status", "all", OPP_NOW=LATER) == []


def test_the_waterfall_counts_a_deal_deleted_in_its_span_as_removed(opp):
    first = deal(opp, "First", "--value", "100", "--close", "2026-03-20")
    opp("delete", first, OPP_NOW=LATER)
    moves = opp.json("report", "waterfall", "--from", "2026-03-10", "--detail", OPP_NOW=LATER)
    assert [(m["id"], m["step"]) for m in moves] == [(int(first), "removed")]
    assert opp.json("report", "waterfall", "--from", "2026-03-12", "--detail", OPP_NOW=LATER) == []
