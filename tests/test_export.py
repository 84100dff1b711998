"""opp export: every status by default, the list filters, CSV/JSON/JSONL streamed, the formula guard,
and a round trip through opp import that loses nothing."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from opp.core.transfer.exporter import EXPORT_COLUMNS, export_deals
from tests.conftest import Cli

DEMO_NOW = "2026-11-26T09:00:00Z"
# What an export carries; ids and updated_at belong to the database, not to the deal.
# (The customer's email and phone and the assignee's name are the customer's and the user's.)
KEPT = [
    key
    for key in EXPORT_COLUMNS
    if key not in ("customer", "customer_kind", "customer_email", "customer_phone", "assignee_name")
]


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "demo.db"
    cli = Cli(path)
    cli.env["OPP_NOW"] = DEMO_NOW
    cli("demo")
    return path


@pytest.fixture
def demo(cli: Cli, db_path: Path, demo_template: Path) -> Cli:
    shutil.copyfile(demo_template, db_path)
    cli.env["OPP_NOW"] = DEMO_NOW
    return cli


def comparable(deal: dict) -> dict:
    return {
        **{key: deal[key] for key in KEPT},
        "customer": (deal["customer"]["name"], deal["customer"]["kind"]),
    }


def test_export_is_csv_of_every_status_in_the_import_columns(demo):
    text = demo("export").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == ",".join(EXPORT_COLUMNS)
    assert len(rows) == 40
    assert {row["stage"] for row in rows} >= {"closed-won", "closed-lost", "lead"}
    first = rows[0]
    assert (first["value"], first["currency"], first["created_at"]) == (
        "120000.00",
        "USD",
        "2026-11-02T00:00:00Z",
    )


def test_export_takes_the_filters_of_list(demo):
    for args in (
        ["--stage", "won"],
        ["--status", "open", "--assignee", "dana"],
        ["--unassigned", "--status", "all"],
        ["--customer", "Acme Corp", "--status", "all"],
        ["--search", "audit", "--status", "all"],
        ["--overdue"],
        ["--period", "2027Q1"],
    ):
        listed = [d["external_ref"] for d in demo.json("list", *args)]
        exported = [r["external_ref"] for r in demo("export", "-f", "json", *args).json()]
        assert sorted(exported, key=str) == sorted(listed, key=str), args
        assert exported, args
    assert len(demo("export", "-f", "json", "--limit", "3").json()) == 3


def test_json_is_an_array_and_jsonl_one_object_a_line(demo):
    array = demo("export", "--format", "json").json()
    lines = demo("export", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line) for line in lines] == array
    assert list(array[0]) == list(EXPORT_COLUMNS)
    assert array[0]["value"] == 120000.00


def test_an_empty_export_is_a_header_or_an_empty_array(opp):
    assert opp("export").stdout == ",".join(EXPORT_COLUMNS) + "\n"
    assert opp("export", "-f", "json").json() == []
    assert opp("export", "-f", "jsonl").stdout == ""


def test_csv_cells_are_guarded_against_formulas_unless_raw(opp):
    opp("customer", "add", "--org", "=HYPERLINK(1)")
    opp("create", "+Spreadsheet trick", "--org", "=HYPERLINK(1)", "--description", "@SUM(A1)")
    row = next(csv.DictReader(io.StringIO(opp("export").stdout)))
    assert (row["title"], row["customer"], row["description"]) == (
        "'+Spreadsheet trick",
        "'=HYPERLINK(1)",
        "'@SUM(A1)",
    )
    raw = next(csv.DictReader(io.StringIO(opp("export", "--raw").stdout)))
    assert raw["title"] == "+Spreadsheet trick"
    assert next(csv.DictReader(io.StringIO(opp("--raw", "export").stdout)))["title"] == "+Spreadsheet trick"
    assert opp("export", "-f", "json").json()[0]["title"] == "+Spreadsheet trick"  # JSON is never guarded


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_export_then_import_into_an_empty_database_loses_nothing(demo, tmp_path, fmt):
    demo("customer", "add", "--org", "=Formula Inc")
    demo("create", "--org", "=Formula Inc", "--description", "two\nlines", "--", '-Minus deal, "quoted"')
    path = tmp_path / f"pipeline.{fmt}"
    path.write_text(demo("export", "-f", fmt).stdout, encoding="utf-8")
    before = [comparable(d) for d in demo.json("list", "--status", "all")]
    fresh = Cli(tmp_path / "fresh.db")
    fresh.env["OPP_NOW"] = DEMO_NOW
    summary = fresh("import", path, "-o", "json").json()
    assert summary["created"] == len(before) == 41
    after = [comparable(d) for d in fresh.json("list", "--status", "all")]
    assert after == before
    assert {u["handle"] for u in fresh.json("user", "list")} == {"dana", "miguel", "priya", "sam", "lena"}


def test_the_core_export_reads_in_chunks(demo, ctx):
    progress: list[int] = []
    records = list(export_deals(ctx, chunk=7, progress=lambda count, fraction: progress.append(count)))
    assert len(records) == 40
    assert progress == [7, 14, 21, 28, 35, 40]
    won = list(export_deals(ctx, chunk=3, stages=["won"]))
    assert [r["stage"] for r in won] == ["closed-won"] * 7


@pytest.mark.slow
def test_export_into_a_closed_pipe_is_quiet(demo, run_opp, db_path):
    import subprocess

    from tests.conftest import OPP_BIN

    env_db = str(db_path)
    result = subprocess.run(
        f"'{OPP_BIN}' export | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env={"OPP_DB": env_db, "OPP_USER": "dana", "OPP_NOW": DEMO_NOW, "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.startswith("id,title,customer")
    assert result.stderr == ""
