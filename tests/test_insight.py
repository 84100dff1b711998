"""`opp forecast --range`, `opp report calibration` and `opp suggest`, on small pipelines built through
the CLI at known instants, each figure checked against a hand-computed expectation.

Money and rates are read with ``parse_float=str`` and compared as exact JSON text.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from opp.core.analytics import ranges
from opp.core.pipeline import customers, deals


def day(n: int) -> str:
    return f"2026-03-{n:02d}T10:00:00Z"


def as_json(cli, *args, **env):
    return json.loads(cli(*args, "--format", "json", **env).stdout, parse_float=str)


def create(opp, title, *args, when=day(1)):
    return opp.json("create", title, "--org", "Initech", *args, OPP_NOW=when)["id"]


# -- forecast --range ----------------------------------------------------------------------------------


@pytest.fixture
def chances(opp):
    """W 500 (negotiation, won on day 3), X 1000 at 50 %, Y 2000 at 20 %, Z 700 lost; all USD, day 1."""
    create(opp, "W", "--value", "500", "--stage", "negotiation")
    create(opp, "X", "--value", "1000", "--probability", "50")
    create(opp, "Y", "--value", "2000", "--probability", "20")
    create(opp, "Z", "--value", "700", "--stage", "lost")
    opp("stage", "won", 1, OPP_NOW=day(3))
    opp.env["OPP_NOW"] = day(10)
    return opp


def spread(result):
    return {key: result[key] for key in ("minimum", "p10", "p50", "p90", "maximum", "forecast")}


def test_range_is_the_exact_distribution_of_independent_wins(chances):
    result = as_json(chances, "forecast", "--range")
    # W is won: 500 for certain. X and Y: neither 0.5 × 0.8 = 0.40 (500), X alone 0.40 (1500),
    # Y alone 0.10 (2500), both 0.10 (3500). P(≤ 500) = 0.40 ≥ 0.1; P(≤ 1500) = 0.80 ≥ 0.5;
    # P(≤ 2500) = 0.90 ≥ 0.9 exactly, so P90 is 2500. Forecast: 500 + 500 + 400.
    assert spread(result) == {
        "minimum": "500.00",
        "p10": "500.00",
        "p50": "1500.00",
        "p90": "2500.00",
        "maximum": "3500.00",
        "forecast": "1400.00",
    }
    assert (result["currency"], result["count"], result["method"]) == ("USD", 3, "exact")
    assert (result["trials"], result["seed"]) == (None, None)


def test_range_as_of_a_day_treats_a_deal_won_later_as_open(chances):
    result = as_json(chances, "forecast", "--range", "--as-of", "2026-03-02")
    # W open at 75 %. Totals and chances: 0: .25×.5×.8 = .10; 500: .30; 1000: .10; 1500: .30; 2000: .025;
    # 2500: .075; 3000: .025; 3500: .075. Cumulative: .10 .40 .50 .80 .825 .90 .925 1 — every quantile
    # falls on an exact boundary. Forecast: 375 + 500 + 400.
    assert spread(result) == {
        "minimum": "0.00",
        "p10": "0.00",
        "p50": "1000.00",
        "p90": "2500.00",
        "maximum": "3500.00",
        "forecast": "1275.00",
    }


def test_range_takes_the_forecast_filters_and_converts(chances):
    chances("rate", "set", "EUR", "USD", "1.5", "--date", "2026-01-01")
    create(
        chances, "V", "--value", "100", "--currency", "EUR", "--probability", "10", "--close", "2026-04-30"
    )
    result = as_json(chances, "forecast", "--range", "--currency", "USD", "--period", "2026-04")
    # Only V: 150 USD at 10 %: P10 = P50 = 0 (P(0) = 0.9), P90 = 0 too (0.9 ≥ 0.9).
    assert spread(result) == {
        "minimum": "0.00",
        "p10": "0.00",
        "p50": "0.00",
        "p90": "0.00",
        "maximum": "150.00",
        "forecast": "15.00",
    }
    assert result["count"] == 1
    assert as_json(chances, "forecast", "--range", "--stage", "won")["p10"] == "500.00"


def test_range_as_a_table(chances):
    lines = chances("forecast", "--range").stdout.splitlines()
    assert ["method", "exact"] in [line.split() for line in lines]
    assert ["p90", "2,500.00"] in [line.split() for line in lines]


def test_range_with_by_is_refused(chances):
    assert "--by" in chances.fails(2, "forecast", "--range", "--by", "assignee")


def test_a_large_distribution_is_simulated_with_a_fixed_seed(ctx):
    customers.add_customer(ctx, "organization", "Initech")
    for n in range(1, 13):
        deals.create_deal(ctx, f"D{n}", org="Initech", value=str(100 * n + n), probability=str(8 * n))
    exact = ranges.forecast_range(ctx)
    assert exact.method == "exact"
    simulated = ranges.forecast_range(ctx, exact_limit=10)
    assert (simulated.method, simulated.trials, simulated.seed) == (
        "simulation",
        ranges.TRIALS,
        ranges.SEED,
    )
    assert ranges.forecast_range(ctx, exact_limit=10) == simulated  # the same deals, the same figures
    assert (simulated.minimum, simulated.maximum, simulated.forecast) == (
        exact.minimum,
        exact.maximum,
        exact.forecast,
    )
    # 10 000 draws: each quantile within 3 % of the whole range of the exact one.
    tolerance = exact.maximum * 3 / 100
    for key in ("p10", "p50", "p90"):
        assert abs(getattr(simulated, key) - getattr(exact, key)) <= tolerance, key


# -- calibration ---------------------------------------------------------------------------------------


@pytest.fixture
def closed(opp):
    """Closed deals whose stage probabilities are known (USD; day n is 2026-03-0n), and two others.

    id  customer   value  assignee  history                                                  outcome
    1   Initech    5000   dana      lead 15 → qualification 30 → proposal 50 → negotiation 75  won
    2   Initech    5000   sam       lead 15 → qualification at 35                              lost
    3   Pat Smith  500    -         lead 15                                                    lost
    4   Initech    20000  dana      created in negotiation 75, edited to 90                    won
    5   Pat Smith  8000   sam       proposal 50 → back to qualification 30 → proposal 50,      lost
                                    edited to 45
    6   Initech    3000   dana      lead 15                                                    open
    7   Initech    1000   dana      created won                                                won
    """
    opp("user", "add", "sam")
    opp("customer", "add", "--person", "Pat Smith")
    create(opp, "K1", "--value", "5000", "--assign", "dana")
    create(opp, "K2", "--value", "5000", "--assign", "sam")
    opp.json("create", "K3", "--person", "Pat Smith", "--value", "500", OPP_NOW=day(1))
    create(opp, "K4", "--value", "20000", "--assign", "dana", "--stage", "negotiation")
    pat = ("--person", "Pat Smith")
    opp.json(
        "create", "K5", *pat, "--value", "8000", "--assign", "sam", "--stage", "proposal", OPP_NOW=day(1)
    )
    create(opp, "K6", "--value", "3000", "--assign", "dana")
    create(opp, "K7", "--value", "1000", "--assign", "dana", "--stage", "won")
    for n, stage in enumerate(["qualification", "proposal", "negotiation", "won"], start=2):
        opp("stage", stage, 1, OPP_NOW=day(n))
    opp("stage", "qualification", 2, "--probability", "35", OPP_NOW=day(2))
    opp("stage", "lost", 2, OPP_NOW=day(3))
    opp("stage", "lost", 3, OPP_NOW=day(2))
    opp("edit", 4, "--probability", "90", OPP_NOW=day(2))
    opp("stage", "won", 4, OPP_NOW=day(3))
    opp("stage", "qualification", 5, OPP_NOW=day(2))
    opp("stage", "proposal", 5, OPP_NOW=day(3))
    opp("edit", 5, "--probability", "45", OPP_NOW=day(4))
    opp("stage", "lost", 5, OPP_NOW=day(5))
    opp.env["OPP_NOW"] = day(10)
    return opp


def bands(result):
    return [
        (row["key"], row["band"], row["count"], row["won"], row["expected"], row["win_rate"], row["gap"])
        for row in result
    ]


def test_calibration_by_band(closed):
    # Observations (probability when the deal last left the stage, won?):
    # lead: 1 15 won, 2 15 lost, 3 15 lost; qualification: 1 30 won, 2 35 lost, 5 30 lost;
    # proposal: 1 50 won, 5 45 lost (its last exit, to lost); negotiation: 1 75 won, 4 90 won.
    assert bands(as_json(closed, "report", "calibration")) == [
        (None, "0-19", 3, 1, "0.1500", "0.3333", "0.1833"),  # 1/3 - 0.15
        (None, "20-39", 3, 1, "0.3167", "0.3333", "0.0167"),  # 95/300; 100/300 - 95/300
        (None, "40-59", 2, 1, "0.4750", "0.5000", "0.0250"),
        (None, "60-79", 1, 1, "0.7500", "1.0000", "0.2500"),
        (None, "80-100", 1, 1, "0.9000", "1.0000", "0.1000"),
    ]


def test_calibration_by_stage(closed):
    assert bands(as_json(closed, "report", "calibration", "--by", "stage")) == [
        ("lead", "0-19", 3, 1, "0.1500", "0.3333", "0.1833"),
        ("qualification", "20-39", 3, 1, "0.3167", "0.3333", "0.0167"),
        ("proposal", "40-59", 2, 1, "0.4750", "0.5000", "0.0250"),
        ("negotiation", "60-79", 1, 1, "0.7500", "1.0000", "0.2500"),
        ("negotiation", "80-100", 1, 1, "0.9000", "1.0000", "0.1000"),
    ]


def test_calibration_of_one_assignee_and_a_period(closed):
    # dana's closed deals: 1 (four observations, won) and 4 (negotiation 90, won); 7 was never open.
    assert bands(as_json(closed, "report", "calibration", "--assignee", "dana")) == [
        (None, "0-19", 1, 1, "0.1500", "1.0000", "0.8500"),
        (None, "20-39", 1, 1, "0.3000", "1.0000", "0.7000"),
        (None, "40-59", 1, 1, "0.5000", "1.0000", "0.5000"),
        (None, "60-79", 1, 1, "0.7500", "1.0000", "0.2500"),
        (None, "80-100", 1, 1, "0.9000", "1.0000", "0.1000"),
    ]
    # Closed in February: none, yet every band is listed.
    assert bands(as_json(closed, "report", "calibration", "--period", "2026-02")) == [
        (None, band, 0, 0, None, None, None) for band in ("0-19", "20-39", "40-59", "60-79", "80-100")
    ]


def test_calibration_refuses_other_splits_and_options(closed):
    assert "--by stage" in closed.fails(2, "report", "calibration", "--by", "month")
    assert "--currency does not apply" in closed.fails(2, "report", "calibration", "--currency", "USD")


def test_calibration_as_a_table(closed):
    lines = closed("report", "calibration").stdout.splitlines()
    assert lines[0].split() == ["band", "%", "count", "won", "expected", "win", "rate", "gap"]
    assert lines[2].split() == ["0-19", "3", "1", "0.1500", "0.3333", "0.1833"]


# -- suggest -------------------------------------------------------------------------------------------


def test_suggest_refines_the_stage_rate_by_kind_assignee_and_value(closed, unchanged):
    check = unchanged()
    found = as_json(closed, "suggest", "6")
    # Closed: 6 deals, 3 won: the overall rate, smoothed, is (3 + 1) / (6 + 2) = 1/2.
    # Reached lead: deals 1, 2, 3, one won: (1 + 5 × 1/2) / (3 + 5) = 7/16 = 0.4375.
    # Organizations among them: 1 and 2, one won: (1 + 5 × 7/16) / (2 + 5) = 51/112 = 0.4554.
    # dana's: 1, won: (1 + 5 × 7/16) / (1 + 5) = 51/96 = 0.53125 → 0.5313.
    # USD 1k-10k: 1 and 2 (3 is 500), one won: 51/112.
    # Odds: 7/9 × ((51/61) / (7/9))² × ((17/15) / (7/9)) = 1.30956…, so 56.70 % → 57.
    assert found == {
        "id": 6,
        "title": "K6",
        "stage": "lead",
        "probability": 15,
        "suggested": 57,
        "closed": 6,
        "reached": 3,
        "won": 1,
        "stage_rate": "0.4375",
        "factors": [
            {"factor": "customer_kind", "value": "organization", "deals": 2, "won": 1, "rate": "0.4554"},
            {"factor": "assignee", "value": "dana", "deals": 1, "won": 1, "rate": "0.5313"},
            {"factor": "value_band", "value": "USD 1k-10k", "deals": 2, "won": 1, "rate": "0.4554"},
        ],
    }
    assert as_json(closed, "show", "6")["probability"] == 15  # shown, never applied
    check()


def test_suggest_table_says_how_to_apply_it(closed):
    outcome = closed("suggest", "6")
    assert ["suggested", "57"] in [line.split() for line in outcome.stdout.splitlines()]
    assert "opp edit 6 --probability 57" in outcome.stderr


def test_suggest_with_no_closed_deal_suggests_nothing(opp):
    create(opp, "Fresh", "--value", "100")
    found = as_json(opp, "suggest", "1")
    assert (found["suggested"], found["closed"], found["factors"]) == (None, 0, [])


def test_suggest_refuses_closed_and_unknown_deals(closed):
    assert "suggestions are for open deals" in closed.fails(4, "suggest", "1")
    assert "no opportunity 99" in closed.fails(3, "suggest", "99")
    closed.fails(2, "suggest", "x")


def test_the_simulation_lands_near_the_exact_quantiles(ctx):
    """Forty deals: the exact distribution is known; the seeded simulation's quantiles fall within a
    few per cent of the total value of it."""
    customers.add_customer(ctx, "organization", "Initech")
    for n in range(1, 41):
        deals.create_deal(ctx, f"D{n}", org="Initech", value=str(1000 + 37 * n), probability=str(5 + 2 * n))
    exact = ranges.forecast_range(ctx)
    simulated = ranges.forecast_range(ctx, exact_limit=10)
    assert (exact.method, simulated.method) == ("exact", "simulation")
    tolerance = exact.maximum * Decimal("0.02")
    for name in ("p10", "p50", "p90"):
        assert abs(getattr(simulated, name) - getattr(exact, name)) <= tolerance, name
