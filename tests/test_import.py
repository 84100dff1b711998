"""opp import: CSV, JSON and JSONL, upsert by external ref, all or nothing, files from other CRMs."""

from __future__ import annotations

import gc
import io
import json
from pathlib import Path

import pytest

from opp.cli.transfer import ProgressBar
from opp.core.clock import Clock
from opp.core.context import open_context
from opp.core.errors import Invalid
from opp.core.transfer import importer
from opp.core.transfer import readers as loader
from opp.core.transfer.importer import (
    BATCH_SIZE,
    ImportOptions,
    derive_handle,
    import_deals,
    parse_mapping,
    parse_stage_map,
)
from tests.conftest import NOW

HEADER = "title,customer,customer_kind,value,currency,stage,probability,expected_close,external_ref,assignee"
SUMMARY_KEYS = ["created", "updated", "unchanged", "customers_created", "users_created"]


def row(n: int, **cells: str) -> str:
    values = {
        "title": f"Acme Corp - Item {n}",
        "customer": "Acme Corp",
        "customer_kind": "organization",
        "value": "1000",
        "currency": "USD",
        "stage": "lead",
        "probability": "",
        "expected_close": "2026-06-30",
        "external_ref": f"REF-{n}",
        "assignee": "dana",
        **cells,
    }
    return ",".join(values[name] for name in HEADER.split(","))


def write(tmp_path: Path, *rows: str, name: str = "deals.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def deals_by_ref(opp) -> dict[str, dict]:
    return {deal["external_ref"]: deal for deal in opp.json("list", "--status", "all")}


def test_a_csv_file_creates_deals_customers_and_users_and_prints_the_summary(opp, tmp_path):
    path = write(tmp_path, row(1), row(2, customer="Globex", assignee="sam"), row(3, stage="won"))
    outcome = opp("import", path, "-o", "json")
    summary = outcome.json()
    assert {key: summary[key] for key in SUMMARY_KEYS} == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "customers_created": 2,  # Acme Corp and Globex; Initech was there
        "users_created": 1,  # sam; dana was there
    }
    assert summary["new_users"] == ["sam"]
    assert "3 created" in outcome.stderr
    deals = deals_by_ref(opp)
    assert deals["REF-2"]["customer"]["name"] == "Globex"
    assert deals["REF-2"]["assignee"] == "sam"
    assert deals["REF-3"]["status"] == "won"
    assert deals["REF-3"]["probability"] == 100
    assert deals["REF-1"]["value"] == 1000.00
    history = opp.json("history", deals["REF-1"]["id"])
    assert [event["action"] for event in history] == ["created"]


def test_the_summary_prints_as_a_table_by_default_and_as_csv_on_request(opp, tmp_path):
    path = write(tmp_path, row(1))
    table = opp("import", path).stdout
    assert "created" in table and "customers_created" in table
    csv_text = opp("import", path, "-o", "csv").stdout
    assert csv_text.splitlines() == [
        "created,updated,unchanged,customers_created,users_created,skipped,blank_rows,"
        "probability_adjusted,dry_run",
        "0,0,1,0,0,0,0,0,False",
    ]


def test_a_known_external_ref_updates_the_deal_with_import_events(opp, tmp_path):
    opp("import", write(tmp_path, row(1)))
    deal_id = deals_by_ref(opp)["REF-1"]["id"]
    changed = row(1, value="2500", stage="negotiation", expected_close="2026-09-30", assignee="")
    summary = opp("import", write(tmp_path, changed), "-o", "json").json()
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 1, 0)
    deal = opp.json("show", deal_id)
    assert (deal["value"], deal["stage"], deal["probability"]) == (2500.00, "negotiation", 75)
    assert deal["expected_close"] == "2026-09-30"
    assert deal["assignee"] is None
    events = [e for e in deal["history"] if e["action"] == "import"]
    assert {(e["field"], e["old"], e["new"]) for e in events} == {
        ("value", "1000.00", "2500.00"),
        ("stage", "lead", "negotiation"),  # set directly: an import skips no stage rule
        ("probability", "15", "75"),
        ("expected_close", "2026-06-30", "2026-09-30"),
        ("assignee", "dana", None),
    }


def test_an_identical_row_changes_nothing(opp, tmp_path, unchanged):
    path = write(tmp_path, row(1), row(2, stage="lost"))
    opp("import", path)
    check = unchanged()
    summary = opp("import", path, "-o", "json").json()
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 2)
    check()


def test_closing_by_import_sets_status_and_closed_at_and_reopening_clears_them(opp, tmp_path):
    header = HEADER + ",created_at,closed_at,lost_reason"
    opp("import", write(tmp_path, row(1) + ",2026-01-05,,", header=header))
    opp("import", write(tmp_path, row(1, stage="lost") + ",2026-01-05,2026-03-01,Budget cut", header=header))
    deal = deals_by_ref(opp)["REF-1"]
    assert (deal["status"], deal["probability"], deal["lost_reason"]) == ("lost", 0, "Budget cut")
    assert deal["closed_at"] == "2026-03-01T00:00:00Z"
    opp("import", write(tmp_path, row(1, stage="proposal")))
    deal = deals_by_ref(opp)["REF-1"]
    assert (deal["status"], deal["closed_at"], deal["lost_reason"], deal["probability"]) == (
        "open",
        None,
        None,
        50,
    )


def test_an_update_keeps_the_currency_of_a_deal_with_billable_lines(opp, tmp_path, unchanged):
    opp("import", write(tmp_path, row(1)))
    deal_id = deals_by_ref(opp)["REF-1"]["id"]
    opp("bill", "add", deal_id, "--item", "Work", "--price", "100")
    check = unchanged()
    line = opp.fails(2, "import", write(tmp_path, row(1, currency="EUR")))  # a bad row rejects the file
    assert f"line 2: opportunity {deal_id} has billable lines in USD, so its currency cannot change" in line
    check()
    summary = opp("import", write(tmp_path, row(1, value="1200")), "-o", "json").json()
    assert summary["updated"] == 1 and opp.json("show", deal_id)["currency"] == "USD"


def test_a_later_row_with_the_same_ref_updates_the_deal_an_earlier_row_made(opp, tmp_path):
    summary = opp("import", write(tmp_path, row(1), row(1, value="5")), "-o", "json").json()
    assert (summary["created"], summary["updated"]) == (1, 1)
    assert deals_by_ref(opp)["REF-1"]["value"] == 5.00


def test_rows_without_a_ref_always_create(opp, tmp_path):
    path = write(tmp_path, row(1, external_ref=""))
    opp("import", path)
    opp("import", path)
    assert len(opp.json("list")) == 2


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_and_jsonl_files_import_like_csv(opp, tmp_path, fmt):
    records = [
        {
            "title": "Acme Corp - A",
            "customer": "Acme Corp",
            "value": 1200.5,
            "currency": "EUR",
            "external_ref": "A",
        },
        {
            "title": "Acme Corp - B",
            "customer": "Acme Corp",
            "value": "3k",
            "stage": "won",
            "external_ref": "B",
        },
    ]
    path = tmp_path / f"deals.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    else:
        path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    summary = opp("import", path, "-o", "json").json()
    assert summary["created"] == 2
    deals = deals_by_ref(opp)
    assert (deals["A"]["value"], deals["A"]["currency"]) == (1200.50, "EUR")
    assert deals["B"]["value"] == 3000.00
    assert deals["B"]["status"] == "won"


def test_the_format_option_overrides_the_extension_and_stdin_is_csv(opp, tmp_path):
    path = tmp_path / "deals.txt"
    path.write_text(json.dumps([{"title": "Acme Corp - A", "customer": "Acme Corp"}]), encoding="utf-8")
    assert "cannot tell the format" in opp.fails(2, "import", path)
    assert opp("import", path, "--format", "json", "-o", "json").json()["created"] == 1
    text = "\n".join([HEADER, row(7)]) + "\n"
    assert opp("import", "-", "-o", "json", input=text).json()["created"] == 1


def test_json_line_numbers_point_at_the_bad_object(opp, tmp_path):
    path = tmp_path / "deals.json"
    path.write_text(
        '[\n  {"title": "Acme Corp - A", "customer": "Acme Corp"},\n'
        '  {"title": "Acme Corp - B",\n   "customer": "Acme Corp", "value": -5}\n]\n',
        encoding="utf-8",
    )
    assert "line 3: value must not be negative" in opp.fails(2, "import", path)


def test_the_json_reader_streams_across_chunk_boundaries(monkeypatch):
    monkeypatch.setattr(loader, "_CHUNK", 7)
    records = [{"title": f"T{n}", "customer": "C", "value": 10**n, "note": "x\ny"} for n in range(12)]
    text = "[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]"
    rows = list(loader.iter_rows(io.StringIO(text), "json", "test", lambda names: names))
    assert [r.cells["value"] for r in rows] == [str(10**n) for n in range(12)]
    assert [r.line for r in rows] == list(range(2, 14))
    assert list(loader.iter_rows(io.StringIO(" [ ] "), "json", "test", lambda names: names)) == []
    with pytest.raises(Invalid, match="not closed"):
        list(loader.iter_rows(io.StringIO('[{"a": 1},'), "json", "test", lambda names: names))


def test_one_bad_row_rejects_the_file_and_lists_up_to_20_bad_lines(opp, tmp_path, unchanged):
    rows = [row(n) for n in range(2, 60)]
    for n in range(10, 60, 2):  # 25 bad rows, lines 10, 12, ... 58
        rows[n - 2] = row(n, value="-5")
    path = write(tmp_path, *rows)
    check = unchanged()
    outcome = opp("import", path, code=2)
    lines = outcome.stderr.splitlines()
    assert lines[0].startswith("opp: error: line 10: value must not be negative")
    assert "bad lines too: 12, 14," in lines[0]
    assert "48 and more" in lines[0]  # lines 10 ... 48: the first 20 bad lines
    assert lines[1].strip().startswith("line 12: value must not be negative")
    assert len([line for line in lines if line.strip().startswith("line ")]) == 19
    assert outcome.stdout == ""
    check()


def test_a_bad_row_in_the_middle_of_a_large_file_leaves_the_database_exactly_as_it_was(
    opp, tmp_path, unchanged
):
    opp("import", write(tmp_path, row(1), row(2)))  # existing deals that the large file would update
    rows = [row(n, value=str(n)) for n in range(1, 2 * BATCH_SIZE + 500)]
    bad = 2 * BATCH_SIZE + 300  # after two batches were already written
    rows[bad - 2] = row(bad, stage="won-ish")
    check = unchanged()
    error = opp.fails(2, "import", write(tmp_path, *rows))
    assert f"line {bad}: unknown stage 'won-ish'" in error
    check()


MIXED_HEADER = HEADER + ",created_at,closed_at,lost_reason"
MIXED = [
    row(1) + ",2026-01-05,,",
    row(2, customer="Globex", customer_kind="") + ",,,",  # a new customer, of the kind imports create
    row(3, customer="Globex", customer_kind="individual", assignee="Moses Frase") + ",,,",
    row(4, customer="Globex", customer_kind="") + ",,,",  # two customers called Globex: the organization
    row(1, value="2500", stage="proposal") + ",,,",  # updates the deal line 2 made
    row(5, external_ref="", stage="lost") + ",2026-01-02,2026-02-01,Budget cut",
    row(2, customer="Globex", customer_kind="", stage="won") + ",,,",  # closes the deal line 3 made
    row(6, customer="Initech", customer_kind="") + ",,,",  # a customer already there
    row(7, customer="Hooli", assignee="moses frase") + ",,,",
    row(1, value="2500", stage="lead") + ",,,",  # back a stage: set directly
]


def test_a_files_events_follow_its_rows_and_customers_are_found_by_name_and_kind(opp, tmp_path):
    summary = opp("import", write(tmp_path, *MIXED, header=MIXED_HEADER), "-o", "json").json()
    assert {key: summary[key] for key in SUMMARY_KEYS} == {
        "created": 7,
        "updated": 3,
        "unchanged": 0,
        "customers_created": 4,  # Acme Corp, Globex twice, Hooli
        "users_created": 1,
    }
    events = [(e["opportunity_id"], e["action"], e["field"]) for e in opp.json("history")]
    one, two, three, four, five, six, seven = (deal["id"] for deal in opp.json("list", "--status", "all"))
    assert events == [
        (one, "created", None),
        (two, "created", None),
        (three, "created", None),
        (four, "created", None),
        (one, "import", "value"),
        (one, "import", "stage"),
        (one, "import", "probability"),
        (five, "created", None),
        (two, "import", "stage"),
        (two, "import", "probability"),
        (two, "import", "status"),
        (two, "import", "closed_at"),
        (six, "created", None),
        (seven, "created", None),
        (one, "import", "stage"),
        (one, "import", "probability"),
    ]
    customers = {(c["kind"], c["name"]): c["id"] for c in opp.json("customer", "list")}
    deals = opp.json("list", "--status", "all")
    assert [(d["customer"]["kind"], d["customer"]["name"]) for d in deals] == [
        ("organization", "Acme Corp"),
        ("organization", "Globex"),
        ("individual", "Globex"),
        ("organization", "Globex"),
        ("organization", "Acme Corp"),
        ("organization", "Initech"),
        ("organization", "Hooli"),
    ]
    assert sorted(customers.values()) == list(range(1, 6))
    assert [d["assignee"] for d in deals] == [
        "dana",
        "dana",
        "moses-frase",
        "dana",
        "dana",
        "dana",
        "moses-frase",
    ]


# With --default-customer Walk-in: a new deal without a customer gets the default (a new customer,
# made before Umbrella), a later row names it, and an update without a customer leaves the deal's.
DEFAULTED = [
    row(40, customer="", customer_kind="") + ",,,",
    row(41, customer="Umbrella") + ",,,",
    row(42, customer="Walk-in", customer_kind="") + ",,,",
    row(41, customer="", customer_kind="", value="99") + ",,,",
]


@pytest.mark.parametrize(
    ("default_customer", "extra", "created", "customers_created"),
    [
        (None, [], 29, 4),
        ("Walk-in", DEFAULTED, 32, 6),
        ("Walk-in", [DEFAULTED[1], DEFAULTED[3]], 30, 5),  # only an update lacks a customer: no Walk-in
    ],
)
def test_batches_write_exactly_what_importing_one_row_at_a_time_writes(
    databases, opp_template, tmp_path, monkeypatch, default_customer, extra, created, customers_created
):
    monkeypatch.setattr(importer, "_CUSTOMER_CACHE", 2)  # customers are forgotten and looked up again
    monkeypatch.setattr(importer, "_LOOKUP_CHUNK", 2)
    more = [row(n, value=f"{n}.5", assignee=f"agent {n % 3}") + ",,," for n in range(8, 30)]
    path = write(tmp_path, *MIXED, *extra, *more, header=MIXED_HEADER)
    written = []
    for size in (1, 3, BATCH_SIZE):
        db = databases.new("batches")
        databases.restore(opp_template, db)
        context = open_context(db, actor="dana", clock=Clock.from_env_value(NOW))
        try:
            options = ImportOptions(batch_size=size, default_customer=default_customer)
            summary = import_deals(context, path, options)
        finally:
            context.close()
        written.append((summary, databases.snapshot(db)))
        databases.drop(db)
    assert written[0] == written[1] == written[2]
    assert (written[0][0].created, written[0][0].customers_created) == (created, customers_created)


def test_a_dry_run_reports_what_would_change_and_changes_nothing(opp, tmp_path, unchanged):
    opp("import", write(tmp_path, row(1)))
    check = unchanged()
    outcome = opp(
        "import", write(tmp_path, row(1, value="9"), row(2, assignee="newbie")), "--dry-run", "-o", "json"
    )
    summary = outcome.json()
    assert {key: summary[key] for key in SUMMARY_KEYS} == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "customers_created": 0,
        "users_created": 1,
    }
    assert summary["dry_run"] is True
    assert "would import" in outcome.stderr
    check()


def test_an_unknown_column_is_refused_unless_columns_are_mapped(opp, tmp_path):
    path = write(tmp_path, "Acme Corp - A,Acme Corp,5", header="title,customer,amount")
    assert "unknown column 'amount'" in opp.fails(2, "import", path)
    summary = opp("import", path, "--map", "value=amount", "-o", "json").json()
    assert summary["created"] == 1
    assert opp.json("list")[0]["value"] == 5.00


def test_a_mapped_column_must_exist_and_fields_must_be_known(opp, tmp_path):
    path = write(tmp_path, "Acme Corp - A,Acme Corp", header="title,customer")
    assert "no column 'deal'" in opp.fails(2, "import", path, "--map", "title=Deal")
    assert "unknown field 'amount'" in opp.fails(2, "import", path, "--map", "amount=value")
    assert "not FIELD=COLUMN" in opp.fails(2, "import", path, "--map", "title")


def test_formula_guards_from_an_export_are_stripped_unless_raw(opp, tmp_path):
    path = write(tmp_path, "'=Acme Corp - Sum,'+Plus Ltd,1", header="title,customer,value")
    opp("import", path)
    deal = opp.json("list")[0]
    assert (deal["title"], deal["customer"]["name"]) == ("=Acme Corp - Sum", "+Plus Ltd")
    opp("import", write(tmp_path, "'-raw,Acme Corp,1", header="title,customer,value"), "--raw")
    assert "'-raw" in {d["title"] for d in opp.json("list")}


def test_another_crms_file_with_maps_orders_and_defaults(opp, tmp_path):
    """Columns mapped (one feeding two fields), stages renamed, US dates, display-name assignees."""
    header = "Opportunity,Agent,Account,Stage,Engaged,Closed,Amount,Product"
    rows = [
        "OPP-1,Moses Frase,Cancity,Won,10/20/2016,3/1/2017,1054,GTX",
        "OPP-2,Dana Scully,,Engaging,11/3/2016,,,MG",
        "OPP-3,Zoë Ann-Marie,Betatech,Lost,1/2/2017,2/4/2017,0,GTX",
        "OPP-4,Moses Frase,,Prospecting,,,,GTX",
    ]
    path = write(tmp_path, *rows, header=header)
    outcome = opp(
        "import",
        path,
        "--map", "title=Opportunity",
        "--map", "external_ref=Opportunity",
        "--map", "assignee=Agent",
        "--map", "customer=Account",
        "--map", "stage=Stage",
        "--map", "created_at=Engaged",
        "--map", "closed_at=Closed",
        "--map", "expected_close=Closed",
        "--map", "value=Amount",
        "--stage-map", "Prospecting=lead",
        "--stage-map", "engaging=qualification",
        "--date-order", "mdy",
        "--currency", "EUR",
        "--default-customer", "(no account)",
        "--customer-kind", "organization",
        "-o", "json",
    )  # fmt: skip
    summary = outcome.json()
    assert (summary["created"], summary["customers_created"], summary["users_created"]) == (4, 3, 2)
    assert sorted(summary["new_users"]) == ["moses-frase", "zoe-ann-marie"]
    deals = deals_by_ref(opp)
    won = deals["OPP-1"]
    assert (won["title"], won["stage"], won["value"], won["currency"]) == (
        "OPP-1",
        "closed-won",
        1054.00,
        "EUR",
    )
    assert (won["created_at"], won["closed_at"], won["expected_close"]) == (
        "2016-10-20T00:00:00Z",
        "2017-03-01T00:00:00Z",
        "2017-03-01",
    )
    assert won["assignee"] == "moses-frase"
    assert deals["OPP-2"]["assignee"] == "dana"  # matched by the user's name, Dana Scully
    assert deals["OPP-2"]["customer"]["name"] == "(no account)"
    assert (deals["OPP-2"]["stage"], deals["OPP-2"]["value"]) == ("qualification", 0.00)
    assert deals["OPP-4"]["stage"] == "lead"
    users = {user["handle"]: user["name"] for user in opp.json("user", "list")}
    assert users["moses-frase"] == "Moses Frase"
    assert users["zoe-ann-marie"] == "Zoë Ann-Marie"


def test_a_shared_close_date_is_only_the_expected_close_of_an_open_deal(opp, tmp_path):
    path = write(tmp_path, "A,Acme Corp,proposal,2026-05-31", header="title,customer,stage,close")
    opp("import", path, "--map", "closed_at=close", "--map", "expected_close=close")
    deal = opp.json("list")[0]
    assert (deal["status"], deal["closed_at"], deal["expected_close"]) == ("open", None, "2026-05-31")
    other = write(tmp_path, "B,Acme Corp,proposal,2026-01-31", header="title,customer,stage,closed_at")
    assert "closed_at is given but proposal is an open stage" in opp.fails(2, "import", other)


def test_numeric_dates_need_a_date_order(opp, tmp_path):
    path = write(tmp_path, "A,Acme Corp,3/1/2026", header="title,customer,expected_close")
    outcome = opp("import", path, code=2)
    assert "line 2: expected_close: ambiguous date '3/1/2026'" in outcome.stderr
    assert "--date-order" in outcome.stderr
    opp("import", path, "--date-order", "dmy")
    assert opp.json("list")[0]["expected_close"] == "2026-01-03"


def test_a_row_without_customer_needs_a_default_customer(opp, tmp_path):
    path = write(tmp_path, "A,", header="title,customer")
    assert "line 2: customer is required" in opp.fails(2, "import", path)
    opp("import", path, "--default-customer", "Walk-ins", "--customer-kind", "individual")
    assert opp.json("list")[0]["customer"] == {**opp.json("list")[0]["customer"], "kind": "individual"}


def test_invalid_options_are_refused_before_reading(opp, tmp_path):
    path = write(tmp_path, row(1))
    assert "unknown currency" in opp.fails(2, "import", path, "--currency", "XYZ")
    assert "unknown customer kind" in opp.fails(2, "import", path, "--customer-kind", "company")
    assert "unknown date order" in opp.fails(2, "import", path, "--date-order", "myd")
    assert "unknown stage" in opp.fails(2, "import", path, "--stage-map", "Won=champion")
    assert "no such file" in opp.fails(2, "import", tmp_path / "missing.csv")


def test_handles_derived_from_names():
    assert derive_handle("Moses Frase") == "moses-frase"
    assert derive_handle("  Anna  O'Neil ") == "anna-o-neil"
    assert derive_handle("Zoë Ann-Marie") == "zoe-ann-marie"
    assert derive_handle("李") == "user"


def test_maps_parse_into_fields_and_columns():
    assert parse_mapping(["Title=Deal", "external_ref=deal"]) == {"title": "deal", "external_ref": "deal"}
    assert parse_stage_map(["Closed Won=won"]) == {"closed won": "won"}
    with pytest.raises(Invalid, match="twice"):
        parse_mapping(["title=a", "title=b"])


def test_progress_is_drawn_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    pipe = io.StringIO()
    ProgressBar("importing", pipe)(500, 0.5)
    assert pipe.getvalue() == ""
    terminal = Terminal()
    bar = ProgressBar("importing", terminal)
    bar(500, 0.5)
    bar.close()
    assert "\rimporting [###############...............]  50% 500 rows" in terminal.getvalue()


def test_a_real_import_into_a_pipe_shows_no_progress(run_opp, tmp_path):
    path = write(tmp_path, *(row(n) for n in range(1, 1200)))
    result = run_opp("import", path, "-o", "json")
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr
    assert json.loads(result.stdout)["created"] == 1199


def test_the_core_import_reads_a_stream_in_batches(ctx, tmp_path):
    text = "\n".join([HEADER, *(row(n) for n in range(1, 12))]) + "\n"
    seen: list[int] = []
    summary = import_deals(
        ctx,
        io.BytesIO(text.encode()),
        ImportOptions(fmt="csv", batch_size=5),
        progress=lambda count, fraction: seen.append(count),
    )
    assert summary.created == 11
    assert seen == [5, 10, 11]


def test_an_import_leaves_the_garbage_collector_as_it_found_it(ctx, tmp_path):
    before = (gc.get_threshold(), gc.get_freeze_count())
    assert import_deals(ctx, write(tmp_path, row(1)), ImportOptions()).created == 1
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
    with pytest.raises(Invalid):
        import_deals(ctx, write(tmp_path, row(2, value="-1")), ImportOptions())
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
