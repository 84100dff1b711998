"""Tables at a terminal: fitted to its width (COLUMNS) with "…", whole with --wide or into a pipe; stored
text with control characters shown escaped in table cells, exact in JSON and CSV."""

from __future__ import annotations

import csv
import io

import pytest

LONG_TITLE = "Enterprise licence renewal with premium support and on-site training for every office"
LONG_NOTE = "Called the buyer: " + "they want a discount before the end of the quarter, " * 3


@pytest.fixture
def terminal(monkeypatch):
    """stdout taken for a terminal (CliRunner's is not), so that tables are fitted to COLUMNS."""
    from opp.cli import render

    monkeypatch.setattr(render, "_at_terminal", lambda: True)


@pytest.fixture
def long(opp):
    opp("customer", "add", "--org", "Consolidated Widgets International Holdings")
    opp(
        "create",
        LONG_TITLE,
        "--org",
        "2",
        "--value",
        "1234567.89",
        "--close",
        "2026-12-31",
        "--assign",
        "dana",
    )
    opp("note", "1", LONG_NOTE)
    return opp


def _widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


@pytest.mark.parametrize("command", [("list",), ("history",), ("show", "1")])
def test_at_80_columns_a_table_shortens_its_text_and_fits(long, terminal, command):
    whole = long("--wide", *command).stdout
    assert _widest(whole) > 80
    fitted = long(*command, COLUMNS="80").stdout
    assert _widest(fitted) <= 80
    assert "…" in fitted
    assert LONG_TITLE not in fitted


def test_a_fitted_table_never_cuts_figures_or_dates(long, terminal):
    fitted = long("list", COLUMNS="100").stdout
    assert "1,234,567.89" in fitted and "185,185.18" in fitted and "2026-12-31" in fitted
    assert fitted.splitlines()[2].startswith("1 ")
    narrow = long("list", COLUMNS="80").stdout
    assert "1,234,567.89" in narrow and "2026-12-31" in narrow


def test_at_80_columns_list_leaves_out_probability_forecast_and_assignee_before_cutting_titles(
    long, terminal
):
    """At 80 columns ten columns left a title of five characters (``Acme …``): the lowest-value
    columns go first (probability, forecast, then assignee), and a title keeps 20 characters."""
    fitted = long("list", COLUMNS="80").stdout
    header, _, row = fitted.splitlines()[:3]
    assert header.split() == ["id", "title", "customer", "stage", "value", "cur", "close"]
    assert LONG_TITLE[:19] + "…" in row
    assert _widest(fitted) <= 80
    wider = long("list", COLUMNS="110").stdout.splitlines()[0].split()
    assert wider == [
        "id",
        "title",
        "customer",
        "stage",
        "value",
        "cur",
        "prob",
        "forecast",
        "close",
        "assignee",
    ]
    assert long("--wide", "list", COLUMNS="80").stdout.splitlines()[0].split() == wider


def test_a_wider_terminal_shows_more_of_the_text(long, terminal):
    narrow = long("list", COLUMNS="80").stdout.splitlines()[2]
    wide = long("list", COLUMNS="120").stdout.splitlines()[2]
    assert len(wide.split("…")[0]) > len(narrow.split("…")[0])
    assert _widest(long("list", COLUMNS="120").stdout) <= 120


@pytest.mark.parametrize("command", [("list",), ("history",), ("show", "1")])
def test_wide_prints_every_cell_whole_even_at_a_terminal(long, terminal, command):
    out = long("--wide", *command, COLUMNS="80").stdout
    assert LONG_TITLE in out or LONG_NOTE.strip() in out
    assert "…" not in out


def test_into_a_pipe_a_table_is_not_fitted_even_with_columns_set(long):
    """CliRunner's stdout is not a terminal: the table keeps its own widths."""
    out = long("history", COLUMNS="80").stdout
    assert _widest(out) > 80


HOSTILE = {
    "ESC": ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    "BEL": ("ring\x07", "ring\\x07"),
    "CR": ("over\rwrite", "over\\rwrite"),
    "C1": ("csi\x9b2J", "csi\\x9b2J"),
    "bidi": ("abc\u202edcba", "abc\\u202edcba"),
    "isolate": ("x\u2066y\u2069", "x\\u2066y\\u2069"),
    "tab": ("a\tb", "a\\tb"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_control_characters_in_stored_text_are_escaped_in_tables_and_exact_in_json(opp, name):
    text, shown = HOSTILE[name]
    opp("customer", "add", "--org", f"Org {text}")
    opp("create", "--org", "2", "--", f"Deal {text}")
    opp("note", "1", f"Note {text}")
    for command in (
        ("list",),
        ("show", "1"),
        ("history", "1"),
        ("customer", "list"),
        ("customer", "show", "2"),
    ):
        table = opp(*command).stdout
        assert text not in table, command
        assert shown in table, (command, table)
        assert not any(ch in table for ch in "\x1b\x07\r\x9b\u202e\u2066"), command
    assert opp.json("show", "1")["title"] == f"Deal {text}"
    assert opp.json("history", "1")[-1]["note"] == f"Note {text}"
    rows = list(csv.DictReader(io.StringIO(opp("list", "-f", "csv").stdout, newline="")))
    assert rows[0]["title"] == f"Deal {text}"
