"""The guide's Use Case 4, quarterly revenue forecasting, run step by step through the CLI.

Steps (opportunities-module-guide, "Use Case 4: Revenue Forecasting"): 1. review all open
opportunities; 2. ensure probabilities are accurate; 3. calculate forecasted revenue (value ×
probability); 4. filter by expected close date (this quarter); 5. compare forecasted vs. actual
revenue; 6. adjust forecasts based on new information. The quarter is the second of 2026, in USD.
"""

from __future__ import annotations

import json


def at(moment: str) -> str:
    return f"2026-{moment}T09:00:00Z"


def as_json(opp, *args, **env):
    return json.loads(opp(*args, "--format", "json", **env).stdout, parse_float=str)


def test_quarterly_revenue_forecast(opp):
    opp("user", "add", "sam")
    for name in ("Globex", "Hooli"):
        opp("customer", "add", "--org", name)

    def create(title, org, value, stage, close, assignee, when):
        return opp.json("create", title, "--org", org, "--value", value, "--stage", stage, "--close", close,
                        "--assign", assignee, OPP_NOW=at(when))["id"]  # fmt: skip

    # Last quarter's history: one deal won, one lost, both reaching proposal.
    create("Old win", "Initech", "5000", "proposal", "2026-02-28", "sam", "01-10")
    create("Old loss", "Initech", "3000", "proposal", "2026-02-28", "dana", "01-12")
    opp("stage", "negotiation", 1, OPP_NOW=at("01-20"))
    opp("stage", "won", 1, OPP_NOW=at("02-10"))
    opp("stage", "lost", 2, OPP_NOW=at("02-20"))
    # The pipeline going into the second quarter.
    assert [
        create("Globex renewal", "Globex", "20000", "negotiation", "2026-05-15", "dana", "03-02"),
        create("Initech expansion", "Initech", "10000", "proposal", "2026-06-20", "sam", "03-05"),
        create("Hooli pilot", "Hooli", "4000", "lead", "2026-06-30", "dana", "03-09"),
        create("Next quarter deal", "Globex", "8000", "qualification", "2026-08-01", "sam", "03-15"),
    ] == [3, 4, 5, 6]
    opp.env["OPP_NOW"] = at("04-10")

    # 1. Review all open opportunities.
    open_deals = as_json(opp, "list")
    assert [(d["id"], d["stage"], d["probability"], d["forecast"]) for d in open_deals] == [
        (3, "negotiation", 75, "15000.00"),
        (4, "proposal", 50, "5000.00"),
        (5, "lead", 15, "600.00"),
        (6, "qualification", 30, "2400.00"),
    ]

    # 2. Ensure probabilities are accurate: what history says about deal 4, beside its 50 %.
    # Closed deals that reached proposal: 1 (won) and 2 (lost); overall (1 + 1) / (2 + 2) = 1/2, so the
    # stage rate is (1 + 5 × 1/2) / (2 + 5) = 1/2. Organizations: the same two, 1/2. sam's: deal 1, won:
    # (1 + 2.5) / 6 = 7/12. USD 10k-100k: none, 1/2. Odds 1 × (7/12 ÷ 5/12) = 7/5: 7/12 = 58.33 % → 58.
    suggestion = as_json(opp, "suggest", "4")
    assert (suggestion["probability"], suggestion["suggested"], suggestion["stage_rate"]) == (
        50,
        58,
        "0.5000",
    )
    assert as_json(opp, "show", "4")["probability"] == 50  # a suggestion changes nothing by itself
    opp("edit", "4", "--probability", "58")  # the manager agrees and applies it

    # 3. Calculate forecasted revenue: value × probability per deal, rounded, then summed. Won deal 1
    # counts at 100 %, lost deal 2 not at all: 5000 + 15000 + 5800 + 600 + 2400.
    everything = as_json(opp, "forecast")
    assert everything["total"] == {"count": 5, "value": "47000.00", "forecast": "28800.00"}

    # 4. Filter by expected close date: this quarter (Q2) has deals 3, 4 and 5.
    quarter = as_json(opp, "forecast", "--period", "this-quarter", "--by", "assignee")
    assert [(g["key"], g["count"], g["value"], g["forecast"]) for g in quarter["groups"]] == [
        ("dana", 2, "24000.00", "15600.00"),
        ("sam", 1, "10000.00", "5800.00"),
    ]
    assert quarter["total"] == {"count": 3, "value": "34000.00", "forecast": "21400.00"}
    # The figure before the adjustment of step 2, from history:
    before = as_json(opp, "forecast", "--period", "this-quarter", "--as-of", "2026-04-09")
    assert before["total"] == {"count": 3, "value": "34000.00", "forecast": "20600.00"}
    # How wide the outcome may be: 20000 at 75 %, 10000 at 58 %, 4000 at 15 %, independent. Cumulative:
    # 0: .08925, 4000: .105, 10000: .22825, 14000: .25, 20000: .51775, 24000: .565, 30000: .93475.
    spread = as_json(opp, "forecast", "--period", "this-quarter", "--range")
    assert (spread["p10"], spread["p50"], spread["p90"], spread["method"]) == (
        "4000.00",
        "20000.00",
        "30000.00",
        "exact",
    )

    # The quarter happens: Globex renews, Initech is lost, Hooli slips, a walk-in deal is won.
    opp("stage", "won", 3, OPP_NOW=at("05-10"))
    walk_in = create("Walk-in", "Hooli", "2000", "negotiation", "2026-05-31", "sam", "05-01")
    opp("stage", "won", walk_in, OPP_NOW=at("05-20"))
    opp("stage", "lost", 4, OPP_NOW=at("06-25"))
    opp("edit", 5, "--close", "2026-07-15", OPP_NOW=at("06-28"))
    opp.env["OPP_NOW"] = at("07-02")

    # 5. Compare forecasted vs. actual revenue: the forecast as it stood on 04-01 (deal 4 still at 50 %)
    # against what was won in the quarter.
    accuracy = as_json(opp, "report", "accuracy", "--period", "last-quarter")
    assert (accuracy["period"], accuracy["currency"]) == ("2026Q2", "USD")
    assert [
        (r["key"], r["expected_count"], r["forecast"], r["won_count"], r["won"], r["difference"], r["ratio"])
        for r in accuracy["assignees"]
    ] == [
        ("dana", 2, "15600.00", 1, "20000.00", "4400.00", "1.2821"),  # 20000 / 15600
        ("sam", 1, "5000.00", 1, "2000.00", "-3000.00", "0.4000"),
    ]
    assert accuracy["total"] == {
        "expected_count": 3,
        "expected_value": "34000.00",
        "forecast": "20600.00",
        "won_count": 2,
        "won": "22000.00",
        "difference": "1400.00",
        "ratio": "1.0680",  # 22000 / 20600
    }

    # 6. Adjust forecasts based on new information: the next-quarter deal grows and advances.
    opp("edit", 6, "--value", "9000")
    opp("stage", "proposal", 6)
    now = as_json(opp, "forecast", "--period", "this-quarter")
    # Q3: Hooli pilot 4000 × 15 % = 600 (slipped in) and deal 6 9000 × 50 % = 4500.
    assert now["total"] == {"count": 2, "value": "13000.00", "forecast": "5100.00"}
    yesterday = as_json(opp, "forecast", "--period", "this-quarter", "--as-of", "yesterday")
    assert yesterday["total"] == {"count": 2, "value": "12000.00", "forecast": "3000.00"}  # 600 + 8000 × 30 %
