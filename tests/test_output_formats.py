"""--format table|json|jsonl|csv|ids, OPP_FORMAT, exact money, dates and instants, stdout vs stderr."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal

import pytest


@pytest.fixture
def deals(opp):
    """Two open deals for Initech."""
    opp("create", "First", "--org", "Initech", "--value", "1000", "--close", "2026-12-31")
    opp("create", "Second", "--org", "Initech", "--value", "250.50", "--currency", "EUR")
    return opp


def test_json_list_is_an_array_and_a_single_record_an_object(deals):
    listed = deals.json("list")
    assert isinstance(listed, list)
    assert [d["title"] for d in listed] == ["First", "Second"]
    assert isinstance(deals.json("customer", "show", "1"), dict)
    assert isinstance(deals.json("config", "get", "currency"), dict)
    assert deals.json("customer", "list", "--search", "nothing") == []


def test_jsonl_is_one_object_per_line(deals):
    lines = deals("list", "--format", "jsonl").stdout.splitlines()
    assert len(lines) == 2
    assert [json.loads(line)["title"] for line in lines] == ["First", "Second"]
    single = deals("customer", "show", "1", "-f", "jsonl").stdout
    assert single.count("\n") == 1
    assert json.loads(single)["name"] == "Initech"


def test_jsonl_of_an_empty_list_prints_nothing(cli):
    assert cli("user", "list", "--format", "jsonl").stdout == ""


def test_csv_has_a_header_and_flattens_nested_records(deals):
    text = deals("list", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == (
        "id,title,description,customer_id,customer_kind,customer,value,currency,probability,forecast,stage,"
        "status,expected_close,external_ref,assignee,lost_reason,created_at,updated_at,closed_at,version,"
        "next_task_id,next_task_title,next_task_due,category,category_set"
    )
    assert rows[0]["customer_id"] == "1"
    assert rows[0]["customer_kind"] == "organization"
    assert rows[0]["customer"] == "Initech"
    assert rows[0]["value"] == "1000.00"
    assert rows[0]["forecast"] == "150.00"
    assert rows[0]["expected_close"] == "2026-12-31"
    assert rows[0]["created_at"] == "2026-03-10T08:30:00Z"
    assert rows[0]["description"] == ""
    assert rows[1]["value"] == "250.50"
    assert rows[1]["currency"] == "EUR"


@pytest.mark.parametrize("title", ['Says "hi", then\nleaves', "carriage\rreturn"])
def test_csv_quotes_commas_quotes_and_line_breaks(opp, title):
    opp("create", title, "--org", "Initech")
    opp("create", "Next", "--org", "Initech")
    text = opp("list", "-f", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["title"] for row in rows] == [title, "Next"]


@pytest.mark.parametrize("text", ["=SUM(A1:A9)", "+1 555", "-minus", "@cmd", "-5"])
def test_csv_guards_text_cells_against_formula_injection(opp, text):
    opp("customer", "add", f"--org={text}")
    opp("create", "--org", "2", "--", text)
    rows = list(csv.DictReader(io.StringIO(opp("list", "-f", "csv").stdout)))
    assert rows[0]["title"] == "'" + text
    assert rows[0]["customer"] == "'" + text


def test_csv_does_not_guard_numbers_or_harmless_text(opp):
    opp("create", "Plain = fine", "--org", "Initech", "--value", "0")
    rows = list(csv.DictReader(io.StringIO(opp("list", "-f", "csv").stdout)))
    assert rows[0]["title"] == "Plain = fine"
    assert rows[0]["value"] == "0.00"
    assert rows[0]["probability"] == "15"
    assert rows[0]["id"] == "1"


@pytest.mark.parametrize("text", ["=1+2", "+x", "-x", "@x", "\tx", "\rx"])
def test_the_csv_renderer_guards_every_formula_prefix_but_not_numbers(capsys, text):
    from opp.cli.render import emit

    emit([{"text": text, "int": -1, "money": Decimal("-0.50"), "none": None}], "csv")
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out, newline="")))
    assert rows == [["text", "int", "money", "none"], ["'" + text, "-1", "-0.50", ""]]


def test_the_csv_renderer_quotes_a_carriage_return_and_ends_rows_with_a_newline(capsys):
    from opp.cli.render import emit

    emit([{"a": "x\ry", "b": "1"}, {"a": "z", "b": "2"}], "csv")
    assert capsys.readouterr().out == 'a,b\n"x\ry",1\nz,2\n'


def test_the_csv_renderer_writes_text_unguarded_when_raw(capsys):
    from opp.cli.render import emit

    emit([{"text": "=1+2"}], "csv", raw=True)
    assert capsys.readouterr().out == "text\n=1+2\n"


def test_ids_prints_one_id_per_line(deals):
    assert deals("list", "--format", "ids").stdout == "1\n2\n"
    assert deals("customer", "list", "-f", "ids").stdout == "1\n"
    assert deals("stages", "list", "-f", "ids").stdout.splitlines()[:2] == ["lead", "qualification"]


def test_table_is_the_default(deals):
    lines = deals("list").stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "title", "customer"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split()[:3] == ["1", "First", "Initech"]
    assert "1,000.00" in lines[2]


def test_opp_format_from_the_environment(deals):
    out = deals("list", OPP_FORMAT="json")
    assert [d["id"] for d in json.loads(out.stdout)] == [1, 2]
    # a flag beats the environment
    assert deals("list", "-f", "ids", OPP_FORMAT="json").stdout == "1\n2\n"


def test_format_is_case_insensitive(deals):
    assert isinstance(json.loads(deals("list", "--format", "JSON").stdout), list)


@pytest.mark.parametrize(("args", "env"), [(("--format", "xml"), None), ((), "xml"), (("-f", ""), None)])
def test_unknown_format_is_invalid(deals, unchanged, args, env):
    check = unchanged()
    line = deals.fails(2, "list", *args, OPP_FORMAT=env)
    assert "--format" in line
    check()


@pytest.mark.parametrize(
    ("value", "currency", "probability", "value_text", "forecast_text"),
    [
        ("0.10", "USD", "30", '"value": 0.10', '"forecast": 0.03'),
        ("0.30", "USD", "10", '"value": 0.30', '"forecast": 0.03'),
        ("1234567.89", "USD", "100", '"value": 1234567.89', '"forecast": 1234567.89'),
        ("1234567.89", "EUR", "33", '"value": 1234567.89', '"forecast": 407407.40'),
        ("0.05", "USD", "50", '"value": 0.05', '"forecast": 0.03'),  # 0.025 rounds half up
        ("1000", "JPY", "15", '"value": 1000', '"forecast": 150'),
        ("1.005", "KWD", "50", '"value": 1.005', '"forecast": 0.503'),
        ("9999999999999.99", "USD", "99", '"value": 9999999999999.99', '"forecast": 9899999999999.99'),
    ],
)
def test_money_in_json_is_exact(opp, value, currency, probability, value_text, forecast_text):
    raw = opp(
        "create",
        "Deal",
        "--org",
        "Initech",
        "--value",
        value,
        "--currency",
        currency,
        "-p",
        probability,
        "-f",
        "json",
    ).stdout
    assert value_text + "," in raw
    assert forecast_text + "," in raw
    assert "0000000" not in raw.replace(value, "")  # no float artefacts such as 0.30000000000000004
    parsed = json.loads(raw, parse_float=Decimal)
    assert parsed["value"] == Decimal(value)
    listed = opp("list", "-f", "json").stdout
    assert value_text + "," in listed
    assert forecast_text + "," in listed


def test_money_in_csv_and_jsonl_is_exact(opp):
    opp("create", "Deal", "--org", "Initech", "--value", "0.10", "-p", "30")
    assert '"forecast": 0.03,' in opp("list", "-f", "jsonl").stdout
    row = next(csv.DictReader(io.StringIO(opp("list", "-f", "csv").stdout)))
    assert (row["value"], row["forecast"]) == ("0.10", "0.03")


def test_dates_and_instants_have_the_contract_forms(opp):
    deal = opp.json(
        "create", "Deal", "--org", "Initech", "--close", "+14d", OPP_NOW="2026-03-10T10:30:05+02:00"
    )
    assert deal["expected_close"] == "2026-03-24"
    assert deal["created_at"] == "2026-03-10T08:30:05Z"
    assert deal["updated_at"] == "2026-03-10T08:30:05Z"
    assert deal["closed_at"] is None
    won = opp.json("stage", "won", deal["id"], "--force")[0]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", won["closed_at"])
    assert won["closed_at"] == "2026-03-10T08:30:00Z"


def test_success_writes_data_only_to_stdout(deals):
    for fmt in ("json", "jsonl", "csv", "ids", "table"):
        out = deals("list", "-f", fmt)
        assert out.stderr == ""
        assert out.stdout


def test_messages_go_to_stderr(cli):
    out = cli("customer", "list")
    assert out.stdout == ""
    assert out.stderr == "no customers match\n"


def test_errors_go_to_stderr_only(deals):
    line = deals.fails(3, "customer", "show", "Nobody", "-f", "json")
    assert line.startswith("opp: error: no customer 'Nobody'")


# -- streamed listings -----------------------------------------------------------------------------------


ROWS = [{"id": n, "title": f"Deal {n:03d}", "stage": "lead" if n % 2 else "proposal"} for n in range(1, 12)]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "ids", "table"])
def test_a_streamed_listing_prints_exactly_what_the_same_list_prints(capsys, monkeypatch, fmt):
    """Listings reach the renderer as generators; every format prints them as it would a list, and the
    table goes on past its first chunk of rows in the same widths."""
    from opp.cli import render

    columns = [render.Column("id", "id"), render.Column("title", "title"), render.Column("stage", "stage")]
    assert render.emit(list(ROWS), fmt, columns=columns) == len(ROWS)
    whole = capsys.readouterr().out
    monkeypatch.setattr(render, "TABLE_CHUNK", 4)
    assert render.emit(iter(ROWS), fmt, columns=columns) == len(ROWS)
    assert capsys.readouterr().out == whole


def test_a_streamed_table_writes_every_kind_of_cell_as_the_laid_out_rows(capsys, monkeypatch):
    """Past the first chunk, cells are written by the type of their value: each as tabulate shows it."""
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from opp.cli import render

    rows = [
        {
            "id": n,
            "title": "two\nlines" if n % 3 else None,
            "customer": {"name": f"Cust {n:02d}"},
            "value": Decimal("12345.50") if n % 2 else Decimal("7.00"),
            "close": date(2026, 1, n) if n % 4 else None,
            "at": datetime(2026, 1, n, 9, 30, tzinfo=UTC),
            "flag": n % 2 == 0,
        }
        for n in range(1, 12)
    ]
    columns = [
        render.Column("id", "id"),
        render.Column("title", "title"),
        render.Column("customer", "customer.name"),
        render.Column("value", "value"),
        render.Column("close", "close"),
        render.Column("at", "at"),
        render.Column("flag", "flag"),
    ]
    render.emit(list(rows), "table", columns=columns)
    whole = capsys.readouterr().out
    assert "12,345.50" in whole and "two lines" in whole and "2026-01-02T09:30:00Z" in whole
    monkeypatch.setattr(render, "TABLE_CHUNK", 4)
    render.emit(iter(rows), "table", columns=columns)
    assert capsys.readouterr().out == whole


def test_a_streamed_table_cuts_a_later_cell_wider_than_its_column(capsys, monkeypatch):
    from opp.cli import render

    monkeypatch.setattr(render, "TABLE_CHUNK", 2)
    rows = [{"id": 1, "title": "short"}, {"id": 2, "title": "tiny"}, {"id": 3, "title": "much longer title"}]
    render.emit(iter(rows), "table", columns=[render.Column("id", "id"), render.Column("title", "title")])
    assert capsys.readouterr().out.splitlines() == [
        "id    title",
        "----  -------",
        "1     short",
        "2     tiny",
        "3     much l…",
    ]


def test_a_streamed_table_with_wide_writes_a_later_cell_whole(capsys, monkeypatch):
    """``--wide`` promises every cell whole: past the first chunk too (the row's next cells move right)."""
    from opp.cli import render

    monkeypatch.setattr(render, "TABLE_CHUNK", 2)
    monkeypatch.setattr(render, "WIDE", True)
    rows = [{"id": 1, "title": "short"}, {"id": 2, "title": "tiny"}, {"id": 3, "title": "much longer title"}]
    columns = [render.Column("id", "id"), render.Column("title", "title", 8)]
    render.emit(iter(rows), "table", columns=columns)
    assert capsys.readouterr().out.splitlines()[-1] == "3     much longer title"


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "ids", "table"])
def test_an_empty_stream_prints_what_an_empty_list_prints(capsys, fmt):
    from opp.cli import render

    assert render.emit([], fmt, columns=[render.Column("id", "id")], empty="none") == 0
    whole = capsys.readouterr()
    assert render.emit(iter([]), fmt, columns=[render.Column("id", "id")], empty="none") == 0
    assert capsys.readouterr() == whole


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "ids", "table"])
def test_a_listing_refused_on_starting_prints_nothing_on_stdout(deals, fmt):
    """A listing is a generator: the bad option is found at its first record, before any output."""
    deals.fails(3, "list", "--assignee", "nobody", "--format", fmt)
    deals.fails(3, "report", "overdue", "--assignee", "nobody", "--format", fmt)
