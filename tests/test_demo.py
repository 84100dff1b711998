"""The demo: examples/deals.csv loaded in one unit of work, and the open pipeline shown by stage."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from opp.core.clock import Clock
from opp.core.context import open_context
from opp.core.errors import Conflict, Invalid
from opp.core.transfer.demo import LoadSummary, load_deals_csv

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "deals.csv"
DEMO_NOW = "2026-11-26T09:00:00Z"
HEADER = (
    "title,customer,customer_kind,value,currency,stage,probability,expected_close,external_ref,assignee,"
    "description,created_at,closed_at,lost_reason"
)
OPEN_STAGES = ["lead", "qualification", "proposal", "negotiation"]


@pytest.fixture
def demo(cli):
    """The CLI on the day the demo data describes."""
    cli.env["OPP_NOW"] = DEMO_NOW
    return cli


def all_deals(cli):
    return cli.json("list", "--status", "all")


def write_csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "deals.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def good_row(n: int) -> str:
    return f"Acme Corp - Item {n},Acme Corp,organization,1000,USD,lead,,2027-01-31,REF-{n},dana,,2026-10-01,,"


def test_demo_loads_every_example_deal_in_its_stage_and_status(demo):
    demo("demo")
    deals = all_deals(demo)
    assert len(deals) == 40
    assert Counter(d["stage"] for d in deals) == {
        "lead": 8,
        "qualification": 7,
        "proposal": 7,
        "negotiation": 5,
        "closed-won": 7,
        "closed-lost": 6,
    }
    assert Counter(d["status"] for d in deals) == {"open": 27, "won": 7, "lost": 6}
    assert {d["currency"] for d in deals} == {"USD", "EUR", "NOK", "GBP", "JPY"}
    assert {d["customer"]["kind"] for d in deals} == {"organization", "individual"}
    assert {d["assignee"] for d in deals} == {"dana", "miguel", "priya", "sam", "lena", None}
    assert {u["handle"] for u in demo.json("user", "list")} == {"dana", "miguel", "priya", "sam", "lena"}


def test_demo_deals_match_the_csv_rows(demo):
    demo("demo")
    with EXAMPLE.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    deals = {d["title"]: d for d in all_deals(demo)}
    assert len(deals) == len(rows)
    for row in rows:
        deal = deals[row["title"]]
        assert deal["customer"] == {**deal["customer"], "name": row["customer"], "kind": row["customer_kind"]}
        assert deal["currency"] == row["currency"]
        assert deal["stage"] == row["stage"]
        assert deal["created_at"] == row["created_at"] + "T00:00:00Z"
        assert deal["closed_at"] == (row["closed_at"] + "T00:00:00Z" if row["closed_at"] else None)
        assert deal["lost_reason"] == (row["lost_reason"] or None)
        assert deal["description"] == (row["description"] or None)
        assert deal["external_ref"] == (row["external_ref"] or None)


def test_empty_probability_means_the_stage_default(demo):
    demo("demo")
    deals = {d["title"]: d for d in all_deals(demo)}
    assert deals["Acme Corp - Enterprise Software License"]["probability"] == 15  # lead, left empty
    assert deals["Whitcombe & Hart - Document Management Upgrade"]["probability"] == 10  # lead, given
    assert deals["Müller & Söhne - Shop Floor Dashboards"]["probability"] == 65  # given as 65%
    assert {d["probability"] for d in deals.values() if d["status"] == "won"} == {100}
    assert {d["probability"] for d in deals.values() if d["status"] == "lost"} == {0}


def test_quoted_cells_keep_their_commas_quotes_and_newlines(demo):
    demo("demo")
    deals = {d["title"]: d for d in all_deals(demo)}
    assert deals["Tanaka Shoji - EDI Integration"]["customer"]["name"] == "Tanaka Shoji Co., Ltd."
    assert '"volume pricing"' in deals["Sakura Robotics - Vision Module Licenses"]["description"]
    assert deals["Bergen Maritime - Vessel Maintenance Platform"]["description"].count("\n") == 1
    assert deals["Sakura Robotics - Warehouse AGV Trial"]["lost_reason"] == (
        'Champion left the company; project "on hold" indefinitely'
    )


def test_each_demo_deal_has_one_created_event_at_its_creation(demo):
    demo("demo")
    deal = next(d for d in all_deals(demo) if d["title"] == "Acme Corp - Security Audit")
    events = [e for e in demo.json("history", deal["id"]) if e["action"] not in ("task", "ticket")]
    assert [e["action"] for e in events] == ["created"]
    assert events[0]["at"] == "2026-03-02T00:00:00Z"
    snapshot = events[0]["new"]  # the deal's fields as an object
    assert snapshot["stage"] == "closed-won"
    assert snapshot["status"] == "won"
    assert snapshot["closed_at"] == "2026-08-27T00:00:00Z"
    created = demo.json("history", "--action", "created")
    assert len(created) == 40
    # then the people put on deals and the notes (examples/people.csv, examples/notes.csv)
    assert len(demo.json("history", "--action", "contact")) == 10
    assert [n["kind"] for n in demo.json("notes")] == ["internal", "customer", "meeting", "meeting"]
    acme = demo.json("customer", "show", "Acme Corp")
    assert [(p["name"], p["job_title"]) for p in acme["people"]] == [
        ("Sarah Chen", "CTO"),
        ("Tom Becker", "Head of IT Security"),
    ]


def test_demo_prints_open_deals_grouped_by_stage_in_pipeline_order(demo):
    outcome = demo("demo")
    titles = [line for line in outcome.stdout.splitlines() if line.endswith(")") and "(" in line]
    assert titles == ["Lead (8)", "Qualification (7)", "Proposal (7)", "Negotiation (5)"]
    assert "Acme Corp - Security Audit" not in outcome.stdout  # won: not on the board
    assert "loaded 40 deals, 19 customers and 5 users" in outcome.stderr
    assert "27 deals are open" in outcome.stderr


def test_demo_json_is_the_open_deals_in_stage_order(demo):
    deals = demo.json("demo")
    assert len(deals) == 27
    assert {d["status"] for d in deals} == {"open"}
    positions = [OPEN_STAGES.index(d["stage"]) for d in deals]
    assert positions == sorted(positions)


def test_loading_the_demo_twice_is_refused_and_changes_nothing(demo, unchanged):
    demo("demo")
    check = unchanged()
    error = demo.fails(4, "demo")
    assert "already holds 40 opportunities" in error
    check()


def test_demo_refuses_a_database_that_already_has_deals(demo, unchanged):
    demo("customer", "add", "--org", "Initech")
    demo("create", "Initech - TPS audit", "--org", "Initech")
    check = unchanged()
    demo.fails(4, "demo")
    check()


def test_a_bad_row_rejects_the_whole_file_naming_its_line(demo, unchanged, tmp_path):
    rows = [good_row(n) for n in range(2, 7)]
    rows.append(good_row(7).replace(",1000,", ",-5,"))  # line 7
    rows.append(good_row(8))
    path = write_csv(tmp_path, *rows)
    demo("user", "list")  # create the database, so the snapshot covers its tables
    check = unchanged()
    error = demo.fails(2, "demo", "--file", path)
    assert "line 7:" in error
    assert "negative" in error
    check()


def test_line_numbers_count_the_lines_of_quoted_multiline_cells(demo, tmp_path):
    multiline = good_row(2).replace(",dana,,", ',dana,"first line\nsecond line",')
    path = write_csv(tmp_path, multiline, good_row(4).replace(",USD,", ",XYZ,"))
    assert "line 4: unknown currency 'XYZ'" in demo.fails(2, "demo", "--file", path)


@pytest.mark.parametrize(
    ("row", "complaint"),
    [
        (good_row(2).replace(",lead,,", ",closed-won,50,"), "probability 100"),
        (good_row(2).replace(",lead,", ",won-ish,"), "unknown stage"),
        (good_row(2).replace(",2027-01-31,", ",2027-02-30,"), "does not exist"),
        (good_row(2).replace(",2026-10-01,,", ",2026-10-01,2026-10-05,"), "open stage"),
        (good_row(2).replace(",2026-10-01,", ",2026-12-01,"), "in the future"),
        (good_row(2).replace(",organization,", ",company,"), "unknown customer kind"),
        (good_row(2).replace(",dana,", ",Dana Scully,"), "invalid user handle"),
        (good_row(2).replace("Acme Corp - Item 2", ""), "title"),
        (good_row(2) + ",extra", "fields"),
    ],
)
def test_invalid_rows_are_refused_with_their_line(demo, tmp_path, row, complaint):
    path = write_csv(tmp_path, row)
    error = demo.fails(2, "demo", "--file", path)
    assert "line 2:" in error
    assert complaint in error


def test_closed_before_created_is_refused(demo, tmp_path):
    row = good_row(2).replace(",lead,", ",lost,").replace(",2026-10-01,,", ",2026-10-01,2026-09-01,Price")
    assert "line 2: closed_at 2026-09-01 is before created_at 2026-10-01" in demo.fails(
        2, "demo", "--file", write_csv(tmp_path, row)
    )


def test_a_repeated_external_ref_names_both_lines(demo, tmp_path):
    path = write_csv(tmp_path, good_row(2), good_row(3), good_row(4).replace("REF-4", "REF-2"))
    assert "line 4: external ref 'REF-2' is also on line 2" in demo.fails(2, "demo", "--file", path)


def test_an_unknown_column_is_refused(demo, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text("title,customer,amount\nAcme Corp - Item,Acme Corp,5\n", encoding="utf-8")
    assert "unknown column 'amount'" in demo.fails(2, "demo", "--file", path)


def test_a_missing_file_is_invalid_input(demo, tmp_path):
    assert "no such file" in demo.fails(2, "demo", "--file", tmp_path / "nope.csv")


def test_loader_reuses_existing_customers_and_users(tmp_path, db):
    ctx = open_context(db, actor="dana", clock=Clock.from_env_value(DEMO_NOW))
    try:
        first = load_deals_csv(ctx, write_csv(tmp_path, good_row(2), good_row(3)))
        assert first == LoadSummary(created=2, customers_created=1, users_created=1)
        second = load_deals_csv(ctx, write_csv(tmp_path, good_row(4)))
        assert second == LoadSummary(created=1, customers_created=0, users_created=0)
        with pytest.raises(Conflict):
            load_deals_csv(ctx, write_csv(tmp_path, good_row(5)), only_into_empty=True)
        with pytest.raises(Conflict, match="line 2: external ref 'REF-2' already belongs to opportunity 1"):
            load_deals_csv(ctx, write_csv(tmp_path, good_row(2)))
        with pytest.raises(Invalid, match="line 2: title"):
            load_deals_csv(ctx, write_csv(tmp_path, good_row(6).replace("Acme Corp - Item 6", " ")))
    finally:
        ctx.close()


def test_the_readme_forecast_by_quarter_in_euros_works_on_the_demo_data(demo):
    """The demo's rates go to USD only: JPY, GBP and NOK reach EUR through USD."""
    demo("demo")
    result = json.loads(
        demo("forecast", "--by", "quarter", "--currency", "EUR", "-f", "json").stdout, parse_float=str
    )
    assert result["currency"] == "EUR"
    keys = [group["key"] for group in result["groups"]]
    assert keys == sorted(keys) and all(len(key) == 6 and key[4] == "Q" for key in keys)
    assert result["total"]["count"] == sum(group["count"] for group in result["groups"]) > 0
    table = demo("forecast", "--by", "quarter", "--currency", "EUR").stdout
    assert "forecast EUR" in table
