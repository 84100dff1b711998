"""The one output path: formats a command declares, grouped results in CSV and table, --raw, empty CSV."""

from __future__ import annotations

import csv
import io

import pytest


@pytest.fixture
def billed(opp):
    """Deal 1 won with two billable lines and an invoice; deal 2 open in EUR; a rate to add them."""
    opp("config", "set", "reporting_currency", "USD")
    opp("rate", "set", "EUR", "USD", "1.10", "--date", "2026-01-01")
    opp(
        "create",
        "Website",
        "--org",
        "Initech",
        "--value",
        "1000",
        "--close",
        "2026-03-31",
        "--assign",
        "dana",
    )
    opp(
        "create",
        "Support",
        "--org",
        "Initech",
        "--value",
        "500",
        "--currency",
        "EUR",
        "--close",
        "2026-06-30",
    )
    opp("bill", "add", "1", "--item", "Design", "--price", "600")
    opp("bill", "add", "1", "--item", "Build", "--price", "400", "--tax", "20")
    opp("stage", "won", "1", "--force")
    opp("bill", "invoice", "1")
    return opp


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.parametrize(
    "command",
    [("forecast",), ("pipeline",), ("db", "info"), ("rate", "list"), ("bill", "list", "1"), ("show", "1")],
)
def test_ids_on_a_command_that_is_not_a_list_is_invalid_input_naming_its_formats(billed, unchanged, command):
    check = unchanged()
    line = billed.fails(2, *command, "-f", "ids")
    assert "table, json, jsonl or csv" in line
    check()


def test_ids_is_refused_before_a_command_changes_anything(billed, unchanged):
    check = unchanged()
    billed.fails(2, "create", "Never", "--org", "Initech", "-f", "ids")
    billed.fails(2, "note", "1", "never", OPP_FORMAT="ids")
    check()


def test_ids_still_lists_ids_of_lists(billed):
    assert billed("list", "-f", "ids").stdout == "2\n"
    assert billed("invoice", "list", "-f", "ids").stdout == "INV-2026-0001\n"


def test_forecast_csv_has_a_row_per_group_and_the_total(billed):
    rows = _csv(billed("forecast", "-f", "csv").stdout)
    assert [(row["stage"], row["count"], row["value"]) for row in rows] == [
        ("lead", "1", "550.00"),
        ("closed-won", "1", "1000.00"),
        ("total", "2", "1550.00"),
    ]
    assert {row["currency"] for row in rows} == {"USD"}


def test_forecast_by_assignee_names_a_group_without_one_in_the_table_and_leaves_it_empty_in_csv(billed):
    rows = _csv(billed("forecast", "--by", "assignee", "-f", "csv").stdout)
    assert [row["assignee"] for row in rows] == ["dana", "", "total"]
    assert "(none)" in billed("forecast", "--by", "assignee").stdout


def test_pipeline_csv_has_a_row_per_stage(billed):
    rows = _csv(billed("pipeline", "-f", "csv").stdout)
    assert [row["stage"] for row in rows] == ["lead", "qualification", "proposal", "negotiation", "total"]
    assert rows[0]["forecast"] == "82.50" and "bar" not in rows[0]


def test_bill_list_csv_has_a_row_per_line(billed):
    rows = _csv(billed("bill", "list", "1", "-f", "csv").stdout)
    assert [(row["line"], row["description"], row["amount"]) for row in rows] == [
        ("1", "Design", "600.00"),
        ("2", "Build", "400.00"),
    ]


def test_invoice_csv_has_a_row_per_line_with_its_number(billed):
    rows = _csv(billed("invoice", "show", "INV-2026-0001", "-f", "csv").stdout)
    assert [(row["invoice"], row["description"]) for row in rows] == [
        ("INV-2026-0001", "Design"),
        ("INV-2026-0001", "Build"),
    ]


def test_customer_show_csv_has_a_row_per_currency(billed):
    rows = _csv(billed("customer", "show", "Initech", "-f", "csv").stdout)
    assert [(row["name"], row["currency"], row["open_value"]) for row in rows] == [
        ("Initech", "EUR", "500.00"),
        ("Initech", "USD", "0.00"),
    ]


def test_accuracy_csv_has_a_row_per_assignee_and_the_total(billed):
    rows = _csv(billed("report", "accuracy", "--period", "2026Q1", "-f", "csv").stdout)
    assert len(rows) >= 2 and rows[-1]["key"] == "total"


@pytest.mark.parametrize(
    "command",
    [("customer", "show", "Initech"), ("db", "info"), ("service", "list"), ("history", "1"), ("show", "1")],
)
def test_a_table_never_shows_raw_json_or_python_values(billed, command):
    billed("service", "add", "CONS", "--name", "Consulting", "--price", "100", "--currency", "USD")
    table = billed(*command).stdout
    for raw in ('{"', "[{", "True", "False", "None"):
        assert raw not in table, (raw, table)


def test_nested_figures_are_a_line_each_in_a_vertical_table(billed):
    table = billed("customer", "show", "Initech").stdout
    assert any(line.split() == ["totals.open", "1"] for line in table.splitlines())
    assert any(
        line.split()[:1] == ["counts.opportunities"] for line in billed("db", "info").stdout.splitlines()
    )


@pytest.mark.parametrize("flag", [("--raw",), ()])
def test_global_raw_turns_the_formula_guard_off_in_list_as_in_export(opp, flag):
    opp("create", "--org", "Initech", "--", "=SUM(A1)")
    listed = _csv(opp(*flag, "list", "-f", "csv").stdout)[0]["title"]
    exported = _csv(opp(*flag, "export").stdout)[0]["title"]
    assert listed == exported == ("=SUM(A1)" if flag else "'=SUM(A1)")
    assert _csv(opp("list", "--raw", "-f", "csv").stdout)[0]["title"] == "=SUM(A1)"


def test_an_empty_csv_listing_prints_its_header_as_export_does(opp):
    header = opp("list", "-f", "csv").stdout
    assert header.startswith("id,title,description,customer_id,customer_kind,customer,value,")
    assert header.count("\n") == 1
    assert opp("export").stdout.count("\n") == 1
    assert opp("history", "--action", "note", "-f", "csv").stdout == (
        "id,opportunity_id,at,actor,action,field,old,new,note\n"
    )


def test_the_created_event_holds_the_deals_fields_as_an_object_with_money_as_a_number(opp):
    opp("create", "Website", "--org", "Initech", "--value", "1234.50", "--close", "2026-03-31")
    text = opp("history", "1", "-f", "json").stdout
    assert '"value": 1234.50' in text
    created = opp.json("history", "1")[0]
    assert created["new"]["title"] == "Website" and created["new"]["currency"] == "USD"
    assert opp.json("show", "1")["history"][0]["new"] == created["new"]
    row = _csv(opp("history", "1", "-f", "csv").stdout)[0]
    assert list(row) == ["id", "opportunity_id", "at", "actor", "action", "field", "old", "new", "note"]
    assert '"value": 1234.50' in row["new"] and row["old"] == ""
    assert "created                   Website" in opp("history", "1").stdout
