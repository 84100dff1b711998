"""Invoices: opp bill invoice, opp invoice list/show, numbering, frozen lines, printable documents, and
the billing figures of opp show, opp customer show, opp edit --value-from-billables and report services.

Numbers follow the invoice_pattern setting (default INV-{year}-{seq:04d}); the sequence is a counter row
bumped in the transaction that writes the invoice, so numbers are unique and gapless even when several
processes invoice at once.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from opp.core.billing import invoices
from opp.core.errors import Conflict
from tests.conftest import NOW, OPP_BIN

INVOICE_KEYS = [
    "number",
    "opportunity_id",
    "customer",
    "issued_at",
    "currency",
    "lines",
    "subtotal",
    "tax",
    "total",
    "title",
    "issue_date",
    "due_date",
    "issued_by",
    "issuer",
]


def exact(outcome):
    return json.loads(outcome.stdout, parse_float=str)


def won_deal(opp, *lines, currency="USD", value="1000", title="Deal"):
    """A won deal for Initech with these custom lines (each a list of bill add options); its id."""
    deal = opp.json("create", title, "--org", "Initech", "--value", value, "--currency", currency,
                    "--stage", "won")["id"]  # fmt: skip
    for line in lines:
        opp("bill", "add", deal, *line)
    return deal


def invoice(opp, deal, *args, **env):
    return exact(opp("bill", "invoice", deal, *args, "--format", "json", **env))


@pytest.fixture
def billed(opp):
    """Deal 1, won, in USD, with two lines: 2 × 500.00 at 25 % and 1 × 0.10 untaxed."""
    won_deal(
        opp,
        ["--item", "Workshop", "--price", "500", "--qty", "2", "--tax", "25"],
        ["--item", "Stamp", "--price", "0.10"],
    )
    return opp


# -- issuing -------------------------------------------------------------------------------------------


def test_an_invoice_has_the_contract_shape(billed):
    out = billed("bill", "invoice", 1, "--format", "json")
    found = json.loads(out.stdout, parse_float=str)
    assert list(found) == INVOICE_KEYS
    assert found["number"] == "INV-2026-0001"
    assert found["opportunity_id"] == 1
    assert found["customer"] == {
        "id": 1,
        "kind": "organization",
        "name": "Initech",
        "email": None,
        "phone": None,
    }
    assert found["issued_at"] == "2026-03-10T08:30:00Z"
    assert (found["issue_date"], found["due_date"]) == ("2026-03-10", "2026-04-09")  # +30d by default
    assert (found["currency"], found["title"], found["issued_by"]) == ("USD", "Deal", "dana")
    assert (found["subtotal"], found["tax"], found["total"]) == ("1000.10", "250.00", "1250.10")
    assert [(line["line"], line["amount"], line["invoice"]) for line in found["lines"]] == [
        (1, "1000.00", "INV-2026-0001"),
        (2, "0.10", "INV-2026-0001"),
    ]
    assert '"subtotal": 1000.10, "tax": 250.00, "total": 1250.10' in out.stdout


def test_invoiced_lines_are_marked_and_frozen(billed, unchanged):
    billed("bill", "invoice", 1)
    listed = exact(billed("bill", "list", 1, "--format", "json"))
    assert [line["invoice"] for line in listed["lines"]] == ["INV-2026-0001", "INV-2026-0001"]
    check = unchanged()
    assert "line 1 is on invoice INV-2026-0001 and cannot change" in billed.fails(4, "bill", "remove", 1, 1)
    check()


def test_a_second_invoice_takes_only_the_new_lines(billed):
    billed("bill", "invoice", 1)
    billed("bill", "add", 1, "--item", "Follow-up", "--price", "300", "--tax", "10")
    second = invoice(billed, 1)
    assert second["number"] == "INV-2026-0002"
    assert [line["line"] for line in second["lines"]] == [3]
    assert (second["subtotal"], second["tax"], second["total"]) == ("300.00", "30.00", "330.00")
    # bill list still covers every line, invoiced or not
    assert exact(billed("bill", "list", 1, "--format", "json"))["total"] == "1580.10"


def test_history_records_the_invoice(billed):
    billed("bill", "invoice", 1, "--due", "+14d", OPP_NOW="2026-03-12T10:00:00Z")
    events = [e for e in billed.json("history", 1) if e["action"] == "invoice"]
    assert [(e["field"], e["old"], e["new"], e["actor"], e["at"]) for e in events] == [
        ("invoice", None, "INV-2026-0001", "dana", "2026-03-12T10:00:00Z")
    ]
    assert events[0]["note"] == "lines 1, 2: 1,250.10 USD, due 2026-03-26"
    assert billed.json("history", "--action", "invoice")[0]["new"] == "INV-2026-0001"


@pytest.mark.parametrize(
    ("due", "expected"), [("2026-04-30", "2026-04-30"), ("+2w", "2026-03-24"), ("today", "2026-03-10")]
)
def test_the_due_date(billed, due, expected):
    assert invoice(billed, 1, "--due", due)["due_date"] == expected


def test_the_default_term_is_a_setting(billed):
    billed("config", "set", "invoice_due", "+1M")
    assert billed.json("config", "get", "invoice_due")["value"] == "+1m"
    assert invoice(billed, 1)["due_date"] == "2026-04-10"


def test_the_customer_details_and_the_issuer_are_on_the_invoice(opp):
    opp("customer", "add", "--person", "Pat Doe", "--email", "pat@example.com", "--phone", "+47 555 01")
    opp("config", "set", "invoice_issuer", "Example Consulting AS\\nStorgata 1, Oslo\\nVAT NO 123")
    deal = opp.json("create", "Coaching", "--person", "Pat Doe", "--stage", "won")["id"]
    opp("bill", "add", deal, "--item", "Session", "--price", "100")
    found = invoice(opp, deal)
    assert found["customer"] == {
        "id": 2, "kind": "individual", "name": "Pat Doe", "email": "pat@example.com", "phone": "+47 555 01",
    }  # fmt: skip
    assert found["issuer"] == "Example Consulting AS\nStorgata 1, Oslo\nVAT NO 123"


# -- refusals ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "args", "expected"),
    [
        (3, [99], "no opportunity 99"),
        (2, ["abc"], "opportunity id must be a positive integer"),
        (2, [0], "opportunity id must be a positive integer"),
        (2, [1, "--due", "2026-02-30"], "2026-02-30"),
        (2, [1, "--due", "soon"], "soon"),
        (2, [1, "--due", "2026-03-09"], "before the issue date"),
        (2, [1, "--due", "-1d"], "before the issue date"),
    ],
)
def test_bad_invoices_are_refused(billed, unchanged, code, args, expected):
    check = unchanged()
    assert expected in billed.fails(code, "bill", "invoice", *args)
    check()


@pytest.mark.parametrize(
    ("stage", "shown"), [("lead", "lead"), ("negotiation", "negotiation"), ("lost", "closed-lost")]
)
def test_only_won_deals_are_invoiced(opp, unchanged, stage, shown):
    deal = opp.json("create", "Deal", "--org", "Initech", "--value", "10")["id"]
    opp("bill", "add", deal, "--item", "X", "--price", "10")
    opp("stage", stage, deal, "--force")
    check = unchanged()
    line = opp.fails(4, "bill", "invoice", deal)
    assert f"opportunity {deal} is {shown}, not won" in line
    assert "opp stage won" in line
    check()


def test_nothing_left_to_invoice(billed, unchanged):
    empty = won_deal(billed)
    check = unchanged()
    assert f"opportunity {empty} has nothing left to invoice" in billed.fails(4, "bill", "invoice", empty)
    check()
    billed("bill", "invoice", 1)
    check = unchanged()
    assert "opportunity 1 has nothing left to invoice" in billed.fails(4, "bill", "invoice", 1)
    check()


def test_removed_lines_are_not_invoiced(billed, unchanged):
    billed("bill", "remove", 1, 1)
    assert [line["line"] for line in invoice(billed, 1)["lines"]] == [2]


def test_a_refused_invoice_uses_no_number(opp):
    open_deal = opp.json("create", "Open", "--org", "Initech")["id"]
    opp("bill", "add", open_deal, "--item", "X", "--price", "1")
    opp.fails(4, "bill", "invoice", open_deal)
    deal = won_deal(opp, ["--item", "X", "--price", "1"])
    assert invoice(opp, deal)["number"] == "INV-2026-0001"


def test_a_failure_after_the_number_was_taken_leaves_no_gap(billed, ctx, monkeypatch):
    """The counter is bumped in the invoice's own transaction: when a later step fails, it rolls back."""
    calls = []

    def broken(conn, ref, **kwargs):
        calls.append(ref)
        raise Conflict("simulated failure after numbering")

    with monkeypatch.context() as patched:
        patched.setattr(invoices, "resolve_customer", broken)
        with pytest.raises(Conflict):
            invoices.invoice_deal(ctx, 1)
    assert calls  # the failure came after allocate_number
    assert invoices.invoice_deal(ctx, 1).number == "INV-2026-0001"


# -- numbering -----------------------------------------------------------------------------------------


def test_numbers_increase_across_deals_and_restart_each_year(opp):
    deals = [won_deal(opp, ["--item", "X", "--price", "1"]) for _ in range(3)]
    assert [invoice(opp, d)["number"] for d in deals[:2]] == ["INV-2026-0001", "INV-2026-0002"]
    assert invoice(opp, deals[2], OPP_NOW="2027-01-02T09:00:00Z")["number"] == "INV-2027-0001"


def test_the_pattern_is_a_setting(opp):
    deals = [won_deal(opp, ["--item", "X", "--price", "1"]) for _ in range(3)]
    assert opp.json("config", "get", "invoice_pattern")["value"] == "INV-{year}-{seq:04d}"
    opp("config", "set", "invoice_pattern", "{year}/{month:02d}/{seq:05d}")
    assert invoice(opp, deals[0])["number"] == "2026/03/00001"
    opp("config", "set", "invoice_pattern", "ACME-{seq}")  # no {year}: one series that never restarts
    assert invoice(opp, deals[1])["number"] == "ACME-1"
    assert invoice(opp, deals[2], OPP_NOW="2027-06-01T00:00:00Z")["number"] == "ACME-2"


def test_a_pattern_that_repeats_a_number_is_refused_and_changes_nothing(billed, unchanged):
    other = won_deal(billed, ["--item", "X", "--price", "1"])
    billed("bill", "invoice", 1)  # INV-2026-0001, series 2026
    billed("config", "set", "invoice_pattern", "INV-2026-{seq:04d}")  # series "all" starts again at 1
    check = unchanged()
    line = billed.fails(4, "bill", "invoice", other)
    assert "invoice number INV-2026-0001 is taken" in line
    check()


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("INV-{year}", "must contain {seq} exactly once"),
        ("{seq}-{seq}", "must contain {seq} exactly once"),
        ("INV-{customer}-{seq}", "unknown placeholder {customer}"),
        ("INV-{seq.real}", "unknown placeholder"),
        ("INV-{seq!r}", "unknown placeholder"),
        ("INV-{seq", "is not a pattern"),
        ("INV-{seq:.2f}x{year:q}", "invoice_pattern"),
        ("{seq:0100d}", "{seq:0100d} is not a number format"),
        ("{seq:99999999999d}", "is not a number format"),  # would take all memory to render
        ("INV-{seq:c}", "{seq:c} is not a number format"),  # numbers that are control characters
        ("INV-{seq:013d}", "is not a number format"),
        ("INV-{seq:x}", "is not a number format"),
        ("INV-{year:>20d}-{seq}", "is not a number format"),
        ("INVOICE-NUMBER-OF-THE-CONSULTANCY-FIRM-{seq}", "longer than 40 characters"),
    ],
)
def test_bad_patterns_are_refused(cli, unchanged, pattern, expected):
    cli("config", "list")
    check = unchanged()
    assert expected in cli.fails(2, "config", "set", "invoice_pattern", pattern)
    check()


@pytest.mark.parametrize("term", ["30", "30d", "-30d", "+30x", "2026-04-01"])
def test_bad_terms_are_refused(cli, term):
    assert "invoice_due must be a term" in cli.fails(2, "config", "set", "--", "invoice_due", term)


@pytest.mark.slow
def test_several_processes_invoicing_at_once_get_gapless_unique_numbers(opp, db):
    """Six real opp processes against one database, each invoicing a different won deal."""
    deals = [won_deal(opp, ["--item", f"Work {n}", "--price", "100"]) for n in range(6)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPP_")}
    env.update(OPP_DB=db, OPP_USER="dana", OPP_NOW=NOW)
    processes = [
        subprocess.Popen(
            [OPP_BIN, "bill", "invoice", str(deal), "--format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for deal in deals
    ]
    results = [(process.communicate(timeout=120), process.returncode) for process in processes]
    assert [code for _, code in results] == [0] * 6, results
    numbers = {json.loads(out)["opportunity_id"]: json.loads(out)["number"] for (out, _), _ in results}
    assert sorted(numbers) == deals
    assert sorted(numbers.values()) == [f"INV-2026-{n:04d}" for n in range(1, 7)]
    listed = opp.json("invoice", "list")
    assert [inv["number"] for inv in listed] == [f"INV-2026-{n:04d}" for n in range(1, 7)]
    assert {inv["number"]: inv["opportunity_id"] for inv in listed} == {n: d for d, n in numbers.items()}


@pytest.mark.slow
def test_two_processes_invoicing_the_same_deal_make_one_invoice(opp, db):
    deal = won_deal(opp, ["--item", "X", "--price", "100"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPP_")}
    env.update(OPP_DB=db, OPP_USER="dana", OPP_NOW=NOW)
    processes = [
        subprocess.Popen([OPP_BIN, "bill", "invoice", str(deal)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(3)
    ]  # fmt: skip
    codes = sorted(process.wait(timeout=120) for process in processes)
    assert codes == [0, 4, 4]
    assert [inv["number"] for inv in opp.json("invoice", "list")] == ["INV-2026-0001"]


# -- money in three currencies -------------------------------------------------------------------------


def test_yen_invoices_have_no_decimals(opp):
    deal = won_deal(
        opp,
        ["--item", "Licence", "--price", "1234", "--qty", "1.5", "--tax", "10"],  # 1851, tax 185.1 → 185
        ["--item", "Support", "--price", "333", "--qty", "0.5", "--tax", "8"],  # 166.5 → 167, tax 13.36 → 13
        currency="JPY",
        value="100000",
    )
    out = opp("bill", "invoice", deal, "--format", "json").stdout
    assert out.endswith('"subtotal": 2018, "tax": 198, "total": 2216, "title": "Deal", '
                        '"issue_date": "2026-03-10", "due_date": "2026-04-09", "issued_by": "dana", '
                        '"issuer": null}\n')  # fmt: skip
    assert '"unit_price": 333, "tax_rate": 8, "amount": 167, "tax": 13,' in out


def test_krone_invoices(opp):
    deal = won_deal(
        opp,
        ["--item", "Konsulent", "--price", "999.99", "--qty", "0.125", "--tax", "25"],  # 124.99875 → 125.00
        ["--item", "Reise", "--price", "0.05", "--qty", "0.5", "--tax", "12"],  # 0.025 → 0.03, tax 0.0036 → 0
        currency="NOK",
    )
    found = invoice(opp, deal)
    assert [(line["amount"], line["tax"]) for line in found["lines"]] == [
        ("125.00", "31.25"),
        ("0.03", "0.00"),
    ]
    assert (found["currency"], found["subtotal"], found["tax"], found["total"]) == (
        "NOK", "125.03", "31.25", "156.28",
    )  # fmt: skip


def test_dinar_invoices_have_three_decimals(opp):
    deal = won_deal(
        opp,
        ["--item", "Support", "--price", "1.234", "--qty", "2.5", "--tax", "5"],  # 3.085, tax 0.15425 → 0.154
        [
            "--item",
            "Extra",
            "--price",
            "0.001",
            "--qty",
            "0.5",
            "--tax",
            "5",
        ],  # 0.0005 → 0.001, tax 0.00005 → 0
        currency="KWD",
    )
    out = opp("bill", "invoice", deal, "--format", "json").stdout
    assert '"subtotal": 3.086, "tax": 0.154, "total": 3.240,' in out
    assert '"amount": 0.001, "tax": 0.000,' in out


# -- list and show -------------------------------------------------------------------------------------


@pytest.fixture
def issued(opp):
    """Three invoices: INV-2026-0001 (deal 1, USD), INV-2026-0002 (deal 2, EUR, a person), and
    INV-2026-0003 (deal 1 again, issued in April)."""
    opp("customer", "add", "--person", "Pat Doe")
    won_deal(opp, ["--item", "A", "--price", "100", "--tax", "10"])
    deal = opp.json("create", "Coaching", "--person", "Pat Doe", "--currency", "EUR", "--stage", "won")["id"]
    opp("bill", "add", deal, "--item", "B", "--price", "50")
    opp("bill", "invoice", 1)
    opp("bill", "invoice", deal)
    opp("bill", "add", 1, "--item", "C", "--price", "7", OPP_NOW="2026-04-02T10:00:00Z")
    opp("bill", "invoice", 1, OPP_NOW="2026-04-02T10:00:00Z")
    return opp


def test_invoice_list(issued):
    listed = issued.json("invoice", "list")
    assert [
        (inv["number"], inv["opportunity_id"], inv["customer"]["name"], inv["currency"]) for inv in listed
    ] == [
        ("INV-2026-0001", 1, "Initech", "USD"),
        ("INV-2026-0002", 2, "Pat Doe", "EUR"),
        ("INV-2026-0003", 1, "Initech", "USD"),
    ]
    assert [line["description"] for line in listed[2]["lines"]] == ["C"]
    assert (
        issued("invoice", "list", "--format", "ids").stdout == "INV-2026-0001\nINV-2026-0002\nINV-2026-0003\n"
    )
    assert [inv["number"] for inv in issued.json("invoice", "list", "--deal", 1)] == [
        "INV-2026-0001",
        "INV-2026-0003",
    ]
    assert [inv["number"] for inv in issued.json("invoice", "list", "--customer", "Pat Doe")] == [
        "INV-2026-0002"
    ]
    assert [inv["number"] for inv in issued.json("invoice", "list", "--period", "2026-04")] == [
        "INV-2026-0003"
    ]
    table = issued("invoice", "list").stdout.splitlines()
    assert table[0].split() == [
        "number",
        "deal",
        "customer",
        "issued",
        "due",
        "cur",
        "subtotal",
        "tax",
        "total",
    ]
    assert table[2].split() == ["INV-2026-0001", "1", "Initech", "2026-03-10", "2026-04-09", "USD", "100.00",
                                "10.00", "110.00"]  # fmt: skip
    csv = issued("invoice", "list", "--format", "csv").stdout.splitlines()
    assert csv[0].startswith("number,opportunity_id,customer_id,customer_kind,customer,")


def test_an_empty_invoice_list(opp):
    out = opp("invoice", "list")
    assert (out.stdout, out.stderr) == ("", "no invoices\n")
    assert opp.json("invoice", "list") == []


def test_invoice_show(issued):
    found = exact(issued("invoice", "show", "inv-2026-0002", "--format", "json"))
    assert (found["number"], found["total"], found["currency"]) == ("INV-2026-0002", "50.00", "EUR")
    table = issued("invoice", "show", "INV-2026-0002").stdout
    assert "number          INV-2026-0002" in table
    assert "\nlines\n" in table


@pytest.mark.parametrize(
    ("code", "args", "expected"),
    [
        (3, ["INV-2026-0099"], "no invoice 'INV-2026-0099'"),
        (2, [" "], "invoice number must not be empty"),
        (2, ["INV-2026-0001", "--out", "x.json"], "--out goes with --format md or --format html"),
        (2, ["INV-2026-0001", "--format", "pdf"], "pdf"),
    ],
)
def test_invoice_show_refuses(issued, unchanged, code, args, expected):
    check = unchanged()
    assert expected in issued.fails(code, "invoice", "show", *args)
    check()


@pytest.mark.parametrize("command", [["invoice", "list"], ["bill", "list", "1"], ["show", "1"]])
def test_documents_are_only_for_invoice_show(issued, command):
    issued.fails(2, *command, "--format", "md")


def test_a_markdown_invoice(issued):
    issued("config", "set", "invoice_issuer", "Example | Consulting")  # printed as of issue: not on these
    text = issued("invoice", "show", "INV-2026-0001", "--format", "md").stdout
    assert text.startswith("# Invoice INV-2026-0001\n")
    assert "**Issued** 2026-03-10 · **Due** 2026-04-09 · **Opportunity** 1: Deal" in text
    assert "| 1 | A |  | 1 | 100.00 | 10 | 100.00 | 10.00 |" in text
    assert "| **Total** | **110.00** |" in text
    assert "Example" not in text


def test_an_html_invoice_is_self_contained_printable_and_escaped(opp, tmp_path):
    opp("customer", "add", "--org", "<script>alert('x')</script> & Co", "--email", "a@b.example")
    opp("config", "set", "invoice_issuer", "Example <Consulting>\\nOslo")
    deal = opp.json("create", "Deal", "--org", "2", "--stage", "won", "--currency", "EUR")["id"]
    opp("bill", "add", deal, "--item", "Design <b>bold</b>", "--price", "1234.5", "--tax", "25")
    opp("bill", "invoice", deal)
    target = tmp_path / "invoice.html"
    out = opp("invoice", "show", "INV-2026-0001", "--format", "html", "--out", target)
    assert out.stdout == ""
    assert f"wrote invoice INV-2026-0001 to {target}" in out.stderr
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "@media print" in page and "@page" in page
    for outside in ("<script", "http://", "https://", "<link", "src=", "@import", "url("):
        assert outside not in page
    assert (
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co" in page
    )  # Jinja2's escape writes ' as &#39;
    assert "Design &lt;b&gt;bold&lt;/b&gt;" in page
    assert "Example &lt;Consulting&gt;\nOslo" in page
    assert "1,543.13 EUR" in page  # 1,234.50 + 308.625 → 308.63
    assert opp("invoice", "show", "INV-2026-0001", "--format", "html").stdout == page


def test_an_out_file_in_a_missing_folder_cannot_be_written(issued, tmp_path):
    line = issued.fails(5, "invoice", "show", "INV-2026-0001", "-f", "md", "--out", tmp_path / "no" / "x.md")
    assert "cannot write" in line and "there is no folder" in line


# -- billing on show, customer show and edit ----------------------------------------------------------


def test_show_reports_billed_and_unbilled_and_whether_they_make_the_value(billed):
    assert billed.json("show", 1)["billing"] == {
        "currency": "USD", "lines": 2, "billed": 0.0, "unbilled": 1000.1, "total": 1000.1,
        "matches_value": False,
    }  # fmt: skip
    billed("bill", "invoice", 1)
    billing = exact(billed("show", 1, "--format", "json"))["billing"]
    assert (billing["billed"], billing["unbilled"], billing["total"]) == ("1000.10", "0.00", "1000.10")
    line = next(row for row in billed("show", 1).stdout.splitlines() if row.startswith("billing"))
    assert line.split(None, 1)[1] == (
        "1,000.10 USD before tax: billed 1,000.10, unbilled 0.00 (differs from the value 1,000.00: "
        "see opp edit --value-from-billables)"
    )


def test_a_deal_without_lines_has_nothing_to_compare(opp):
    deal = opp.json("create", "Deal", "--org", "Initech", "--value", "10")["id"]
    assert opp.json("show", deal)["billing"]["matches_value"] is None
    assert "billing         no billable lines" in opp("show", deal).stdout


def test_value_from_billables_aligns_the_value(billed):
    edited = exact(
        billed("edit", 1, "--value-from-billables", "--format", "json", OPP_NOW="2026-03-11T09:00:00Z")
    )
    assert edited["value"] == "1000.10"
    event = billed.json("history", 1, "--action", "updated")[-1]
    assert (event["field"], event["old"], event["new"], event["note"]) == (
        "value", "1000.00", "1000.10", "value from billables",
    )  # fmt: skip
    assert billed.json("show", 1)["billing"]["matches_value"] is True
    assert "(matches the value)" in billed("show", 1).stdout
    before = len(billed.json("history", 1))
    billed("edit", 1, "--value-from-billables")  # already aligned: no event
    assert len(billed.json("history", 1)) == before


@pytest.mark.parametrize(
    ("code", "args", "expected"),
    [
        (2, ["--value", "5"], "--value-from-billables goes without --value and --currency"),
        (2, ["--currency", "EUR"], "--value-from-billables goes without --value and --currency"),
    ],
)
def test_value_from_billables_refuses(billed, unchanged, code, args, expected):
    check = unchanged()
    assert expected in billed.fails(code, "edit", 1, "--value-from-billables", *args)
    check()


def test_value_from_billables_needs_lines(opp, unchanged):
    deal = opp.json("create", "Deal", "--org", "Initech", "--value", "10")["id"]
    check = unchanged()
    assert "has no billable lines" in opp.fails(4, "edit", deal, "--value-from-billables")
    check()


def test_customer_show_has_billed_and_unbilled_per_currency(issued):
    issued("bill", "add", 1, "--item", "D", "--price", "3", "--tax", "50")
    totals = exact(issued("customer", "show", "Initech", "--format", "json"))["totals"]["by_currency"]
    assert [(t["currency"], t["billed"], t["unbilled"]) for t in totals] == [("USD", "107.00", "3.00")]
    other = exact(issued("customer", "show", "Pat Doe", "--format", "json"))["totals"]["by_currency"]
    assert [(t["currency"], t["billed"], t["unbilled"]) for t in other] == [("EUR", "50.00", "0.00")]


# -- report services -----------------------------------------------------------------------------------


@pytest.fixture
def sold(opp):
    """Consulting hours and a workshop sold in USD and NOK; some invoiced in March, some in April."""
    opp("service", "add", "CONSULT-H", "--name", "Consulting hour", "--price", "150", "--currency", "USD")
    opp("service", "add", "WORKSHOP", "--name", "Workshop", "--price", "2000", "--currency", "USD")
    usd = won_deal(opp, ["--service", "CONSULT-H", "--qty", "12.5"], ["--service", "WORKSHOP"],
                   ["--item", "Travel", "--price", "80"])  # fmt: skip
    opp("rate", "set", "USD", "NOK", "10.5", "--date", "2026-01-01")
    nok = won_deal(opp, ["--service", "CONSULT-H", "--qty", "2"], currency="NOK")
    opp("bill", "invoice", usd)
    opp("bill", "invoice", nok, OPP_NOW="2026-04-01T09:00:00Z")
    opp("bill", "add", usd, "--service", "CONSULT-H", "--qty", "4")  # not invoiced: not counted
    return opp


def test_report_services_counts_invoiced_lines_per_service_and_currency(sold):
    rows = exact(sold("report", "services", "--format", "json"))
    assert rows == [
        {"service": "CONSULT-H", "name": "Consulting hour", "currency": "NOK", "lines": 1, "quantity": 2,
         "revenue": "3150.00"},
        {"service": "CONSULT-H", "name": "Consulting hour", "currency": "USD", "lines": 1, "quantity": "12.5",
         "revenue": "1875.00"},
        {"service": "WORKSHOP", "name": "Workshop", "currency": "USD", "lines": 1, "quantity": 1,
         "revenue": "2000.00"},
        {"service": None, "name": None, "currency": "USD", "lines": 1, "quantity": 1, "revenue": "80.00"},
    ]  # fmt: skip


def test_report_services_period_is_the_invoice_issue_date(sold):
    april = exact(sold("report", "services", "--period", "2026-04", "--format", "json"))
    assert [(row["service"], row["currency"]) for row in april] == [("CONSULT-H", "NOK")]
    assert sold.json("report", "services", "--period", "2025") == []
    out = sold("report", "services", "--period", "2025")
    assert out.stderr == "nothing invoiced\n"
    table = sold("report", "services").stdout.splitlines()
    assert table[0].split() == ["service", "name", "cur", "lines", "quantity", "revenue"]


@pytest.mark.parametrize("option", [["--by", "month"], ["--assignee", "dana"], ["--days", "3"]])
def test_report_services_refuses_other_options(sold, option):
    assert "does not apply to report services" in sold.fails(2, "report", "services", *option)


# -- settings ------------------------------------------------------------------------------------------


def test_invoice_settings_are_listed_with_their_defaults(cli):
    listed = {s["key"]: s for s in cli.json("config", "list")}
    assert listed["invoice_pattern"]["value"] == "INV-{year}-{seq:04d}"
    assert listed["invoice_due"]["value"] == "+30d"
    assert listed["invoice_issuer"]["value"] is None
