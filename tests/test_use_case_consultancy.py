"""The guide's Use Case 2, a service contract sale, run step by step through the CLI.

Steps (opportunities-module-guide, "Use Cases"): create the opportunity for an individual or an
organization, set its value to the total project value, add services from the catalog to its
billables, track it through the stages, generate the invoice from the billables when won, and close it
as Closed-Won. opp invoices only won deals, so the deal is closed as won before it is invoiced (an
earlier attempt is refused, exit 4). Each step happens on its own day; the consultancy works in NOK and
buys one service priced in EUR.
"""

from __future__ import annotations

import json


def day(n: int) -> str:
    return f"2026-03-{9 + n:02d}T09:00:00Z"


def exact(outcome):
    return json.loads(outcome.stdout, parse_float=str)


def test_service_contract_sale(opp, tmp_path):
    opp("config", "set", "currency", "NOK")
    opp("config", "set", "invoice_issuer", "Fjord Consulting AS\\nOrg.nr 999 888 777")
    opp("customer", "add", "--person", "Kari Nordmann", "--email", "kari@example.no")

    # The catalog: what the consultancy sells.
    opp("service", "add", "ADVICE-H", "--name", "Advisory hour", "--price", "1450", "--currency", "NOK",
        "--unit", "hour", "--tax", "25")  # fmt: skip
    opp("service", "add", "WORKSHOP", "--name", "Workshop day", "--price", "1200", "--currency", "EUR",
        "--unit", "day", "--tax", "25")  # fmt: skip
    opp("rate", "set", "EUR", "NOK", "11.4275", "--date", "2026-03-01")
    assert [s["code"] for s in opp.json("service", "list")] == ["ADVICE-H", "WORKSHOP"]

    # 1. Create the opportunity linked to the individual.
    opp("create", "Kari Nordmann - strategy review", "--person", "Kari Nordmann", OPP_NOW=day(1))
    deal = opp.json("show", 1)
    assert (deal["customer"]["kind"], deal["currency"], deal["stage"]) == ("individual", "NOK", "lead")

    # 2. Set the value to the total project value.
    opp("edit", 1, "--value", "30000", OPP_NOW=day(2))

    # 3. Add services from the catalog to the billables: 12.5 advisory hours and one workshop day.
    opp("bill", "add", 1, "--service", "ADVICE-H", "--qty", "12.5", OPP_NOW=day(3))
    bill = exact(opp("bill", "add", 1, "--service", "workshop", "--format", "json", OPP_NOW=day(3)))
    # 1450 × 12.5 = 18,125.00, tax 4,531.25; 1200 EUR × 11.4275 = 13,713.00 NOK, tax 3,428.25
    assert [(line["service"], line["quantity"], line["unit_price"], line["amount"], line["tax"])
            for line in bill["lines"]] == [
        ("ADVICE-H", "12.5", "1450.00", "18125.00", "4531.25"),
        ("WORKSHOP", 1, "13713.00", "13713.00", "3428.25"),
    ]  # fmt: skip
    assert bill["lines"][1]["conversion"] == {
        "currency": "EUR", "price": "1200.00", "pair": "EUR/NOK", "rate": "11.4275",
    }  # fmt: skip
    assert (bill["subtotal"], bill["tax"], bill["total"]) == ("31838.00", "7959.50", "39797.50")

    # The billables come to more than the value: show says so, and edit aligns them.
    billing = exact(opp("show", 1, "--format", "json"))["billing"]
    assert (billing["total"], billing["matches_value"]) == ("31838.00", False)
    assert "differs from the value 30,000.00" in opp("show", 1).stdout
    assert opp.json("edit", 1, "--value-from-billables", OPP_NOW=day(3))["value"] == 31838.0

    # 4. Track the opportunity through the stages; it can't be invoiced while open.
    for n, stage in enumerate(["qualification", "proposal", "negotiation"], 4):
        opp("stage", stage, 1, OPP_NOW=day(n))
    assert "opportunity 1 is negotiation, not won" in opp.fails(4, "bill", "invoice", 1, OPP_NOW=day(7))

    # 6. Close the opportunity as Closed-Won ...
    won = opp.json("stage", "won", 1, OPP_NOW=day(8))[0]
    assert (won["status"], won["probability"]) == ("won", 100)

    # 5. ... and generate the invoice from the billables.
    invoice = exact(opp("bill", "invoice", 1, "--due", "+14d", "--format", "json", OPP_NOW=day(9)))
    assert invoice["number"] == "INV-2026-0001"
    assert (invoice["issue_date"], invoice["due_date"]) == ("2026-03-18", "2026-04-01")
    assert invoice["customer"] == {
        "id": 2, "kind": "individual", "name": "Kari Nordmann", "email": "kari@example.no", "phone": None,
    }  # fmt: skip
    assert (invoice["currency"], invoice["subtotal"], invoice["tax"], invoice["total"]) == (
        "NOK", "31838.00", "7959.50", "39797.50",
    )  # fmt: skip
    assert opp.fails(4, "bill", "invoice", 1, OPP_NOW=day(9)).endswith(
        "opportunity 1 has nothing left to invoice (hint: every line is invoiced already, or there are none: "
        "see opp bill list 1)"
    )
    assert "is on invoice INV-2026-0001" in opp.fails(4, "bill", "remove", 1, 2)

    # The invoice prints, and the deal, the customer and the services report all know about it.
    target = tmp_path / "INV-2026-0001.html"
    opp("invoice", "show", "INV-2026-0001", "--format", "html", "--out", target)
    page = target.read_text(encoding="utf-8")
    assert "Fjord Consulting AS\nOrg.nr 999 888 777" in page
    assert "39,797.50 NOK" in page
    assert "1,200.00 EUR at EUR/NOK 11.4275 = 13,713.00 NOK" in page
    deal = exact(opp("show", 1, "--format", "json"))
    assert deal["billing"] == {
        "currency": "NOK", "lines": 2, "billed": "31838.00", "unbilled": "0.00", "total": "31838.00",
        "matches_value": True,
    }  # fmt: skip
    totals = exact(opp("customer", "show", "Kari Nordmann", "--format", "json"))["totals"]["by_currency"]
    assert [(t["currency"], t["won_value"], t["billed"], t["unbilled"]) for t in totals] == [
        ("NOK", "31838.00", "31838.00", "0.00")
    ]
    report = exact(opp("report", "services", "--period", "2026-03", "--format", "json"))
    assert [(r["service"], r["quantity"], r["revenue"]) for r in report] == [
        ("ADVICE-H", "12.5", "18125.00"),
        ("WORKSHOP", 1, "13713.00"),
    ]

    # History tells the whole story, one event per step.
    events = [(e["at"], e["action"], e["field"], e["old"], e["new"]) for e in opp.json("history", 1)]
    assert [event[1:] for event in events if event[1] in ("billable", "invoice", "updated")] == [
        ("updated", "value", "0.00", "30000.00"),
        ("billable", "line", None, "1"),
        ("billable", "line", None, "2"),
        ("updated", "value", "30000.00", "31838.00"),
        ("invoice", "invoice", None, "INV-2026-0001"),
    ]
    assert events[-1][0] == day(9)
    assert [event[4] for event in events if event[1] == "stage" and event[2] == "stage"] == [
        "qualification", "proposal", "negotiation", "closed-won",
    ]  # fmt: skip
