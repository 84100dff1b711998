"""Forecast categories: each deal's (its stage's, or set by hand and kept through stage changes),
`opp category`, `opp stages add|edit --category`, `forecast --by category` with its rollups, history,
undo and --as-of.

Money is read with ``parse_float=str`` so that figures compare as their exact JSON text.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from opp.core.analytics.forecast import CategoryForecast, forecast
from opp.core.pipeline.categories import CATEGORIES, set_category

LATER = "2026-03-12T10:00:00Z"


def deal(opp, *args, title="Deal", **env):
    return opp.json("create", title, "--org", "Initech", *args, **env)["id"]


def show(opp, deal_id, **env):
    return opp.json("show", deal_id, **env)


def category_of(opp, deal_id, **env):
    found = show(opp, deal_id, **env)
    return found["category"], found["category_set"]


def by_category(opp, *args, **env):
    return json.loads(opp("forecast", "--by", "category", *args, "-f", "json", **env).stdout, parse_float=str)


# -- the category of a deal ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("lead", "pipeline"),
        ("qualification", "pipeline"),
        ("proposal", "best-case"),
        ("negotiation", "commit"),
        ("closed-won", "closed"),
        ("closed-lost", "omitted"),
    ],
)
def test_a_deal_takes_its_stages_default_category(opp, stage, expected):
    assert category_of(opp, deal(opp, "--stage", stage)) == (expected, False)


def test_the_stages_carry_their_category(opp):
    assert [(s["key"], s["category"]) for s in opp.json("stages", "list")] == [
        ("lead", "pipeline"),
        ("qualification", "pipeline"),
        ("proposal", "best-case"),
        ("negotiation", "commit"),
        ("closed-won", "closed"),
        ("closed-lost", "omitted"),
    ]


def test_a_deal_follows_its_stage_through_moves(opp):
    deal_id = deal(opp)
    opp("stage", "qualification", deal_id)
    assert category_of(opp, deal_id) == ("pipeline", False)
    opp("stage", "proposal", deal_id)
    assert category_of(opp, deal_id) == ("best-case", False)
    opp("stage", "negotiation", deal_id)
    assert category_of(opp, deal_id) == ("commit", False)
    opp("stage", "won", deal_id)
    assert category_of(opp, deal_id) == ("closed", False)


def test_a_category_set_by_hand_stays_through_stage_changes_until_auto(opp):
    deal_id = deal(opp)
    changed = opp.json("category", "commit", deal_id)
    assert [(d["id"], d["category"], d["category_set"]) for d in changed] == [(deal_id, "commit", True)]
    opp("stage", "qualification", deal_id)
    opp("stage", "proposal", deal_id)
    assert category_of(opp, deal_id) == ("commit", True)
    opp("stage", "lead", deal_id)  # back
    assert category_of(opp, deal_id) == ("commit", True)
    opp.json("category", "auto", deal_id)
    assert category_of(opp, deal_id) == ("pipeline", False)


def test_closing_shows_the_outcome_and_reopening_brings_the_hand_set_category_back(opp):
    won, lost = deal(opp, "--stage", "negotiation"), deal(opp, "--stage", "proposal")
    opp("category", "omitted", won, lost)
    opp("stage", "won", won)
    opp("stage", "lost", lost)
    assert category_of(opp, won) == ("closed", False)
    assert category_of(opp, lost) == ("omitted", False)
    opp("stage", "proposal", won, "--reopen")
    assert category_of(opp, won) == ("omitted", True)
    opp("category", "auto", lost)  # allowed on a closed deal: drops the kept category
    opp("stage", "proposal", lost, "--reopen")
    assert category_of(opp, lost) == ("best-case", False)


def test_category_names_are_read_in_any_case_and_with_underscores(opp):
    deal_id = deal(opp)
    assert opp.json("category", "BEST_CASE", deal_id)[0]["category"] == "best-case"


def test_category_reads_ids_from_stdin(opp):
    first, second = deal(opp), deal(opp)
    changed = opp.json("category", "commit", "-", input=f"{first}\n{second}\n")
    assert [d["category"] for d in changed] == ["commit", "commit"]


def test_the_category_is_a_history_event(opp):
    deal_id = deal(opp)
    opp("category", "best-case", deal_id, OPP_NOW=LATER)
    opp("category", "auto", deal_id, OPP_NOW=LATER)
    events = [e for e in opp.json("history", deal_id) if e["action"] == "category"]
    assert [(e["field"], e["old"], e["new"], e["at"]) for e in events] == [
        ("category", None, "best-case", LATER),
        ("category", "best-case", None, LATER),
    ]
    assert len(opp.json("history", deal_id, "--action", "category")) == 2


def test_setting_the_same_category_again_changes_nothing(opp):
    deal_id = deal(opp)
    opp("category", "commit", deal_id)
    version = show(opp, deal_id)["version"]
    opp("category", "commit", deal_id)
    assert show(opp, deal_id)["version"] == version
    opp("category", "auto", deal(opp))  # already following its stage: nothing written
    assert not [e for e in opp.json("history") if e["action"] == "category" and e["new"] is None]


# -- bad input -----------------------------------------------------------------------------------------


def test_an_unknown_category_is_invalid_with_the_allowed_ones_in_the_hint(opp, unchanged):
    deal_id = deal(opp)
    check = unchanged()
    line = opp.fails(2, "category", "maybe", deal_id)
    assert "unknown category 'maybe'" in line
    assert "pipeline, best-case, commit, omitted, auto" in line
    check()


def test_closed_cannot_be_set_by_hand(opp, unchanged):
    deal_id = deal(opp)
    check = unchanged()
    assert "closed belongs to won deals" in opp.fails(2, "category", "closed", deal_id)
    check()


def test_a_closed_deals_category_cannot_be_set_and_nothing_changes(opp, unchanged):
    open_deal, won = deal(opp), deal(opp, "--stage", "won")
    check = unchanged()
    line = opp.fails(4, "category", "commit", open_deal, won)
    assert f"opportunity {won} is won, so its category is closed" in line
    check()


def test_unknown_and_bad_ids(opp, unchanged):
    check = unchanged()
    opp.fails(3, "category", "commit", 999)
    opp.fails(2, "category", "commit", "abc")
    opp.fails(2, "category", "commit")
    check()


def test_the_error_in_json_names_the_code(opp):
    deal_id = deal(opp, "--stage", "lost")
    outcome = opp("category", "commit", deal_id, "-f", "json", code=4)
    assert json.loads(outcome.stderr.splitlines()[1])["error"]["code"] == "conflict"


# -- stages --------------------------------------------------------------------------------------------


def test_a_new_stage_is_pipeline_unless_given(opp):
    assert opp.json("stages", "add", "discovery", "-p", "20", "--after", "lead")["category"] == "pipeline"
    added = opp.json("stages", "add", "verbal", "-p", "90", "--after", "negotiation", "--category", "commit")
    assert added["category"] == "commit"
    assert category_of(opp, deal(opp, "--stage", "verbal")) == ("commit", False)


def test_editing_a_stages_category_moves_its_deals_but_not_those_set_by_hand(opp):
    follows, by_hand = deal(opp, "--stage", "proposal"), deal(opp, "--stage", "proposal")
    opp("category", "pipeline", by_hand)
    assert opp.json("stages", "edit", "proposal", "--category", "commit")["category"] == "commit"
    assert category_of(opp, follows) == ("commit", False)
    assert category_of(opp, by_hand) == ("pipeline", True)


def test_bad_stage_categories(opp, unchanged):
    check = unchanged()
    assert "unknown category" in opp.fails(2, "stages", "edit", "lead", "--category", "soon")
    opp.fails(2, "stages", "edit", "lead", "--category", "closed")
    opp.fails(2, "stages", "add", "x", "-p", "5", "--after", "lead", "--category", "nope")
    opp.fails(4, "stages", "edit", "closed-won", "--category", "commit")  # closed stages are fixed
    check()


# -- forecast --by category ----------------------------------------------------------------------------


def test_forecast_by_category_lists_all_five_in_order_even_when_empty(cli):
    result = by_category(cli)
    assert list(result) == ["currency", "groups", "total", "rollups"]
    assert [g["key"] for g in result["groups"]] == list(CATEGORIES)
    assert all(
        g == {"key": g["key"], "count": 0, "value": "0.00", "forecast": "0.00"} for g in result["groups"]
    )
    assert result["rollups"] == {"commit": "0.00", "best_case": "0.00", "pipeline": "0.00"}


def test_forecast_by_category_and_the_rollups(opp):
    deal(opp, "--value", "1000", "--stage", "lead")  # pipeline 150.00
    deal(opp, "--value", "200", "--stage", "proposal")  # best-case 100.00
    deal(opp, "--value", "400", "--stage", "negotiation")  # commit 300.00
    deal(opp, "--value", "500", "--stage", "won")  # closed 500.00
    deal(opp, "--value", "700", "--stage", "lost")  # lost: left out of forecasts
    omitted = deal(opp, "--value", "80", "--stage", "proposal")  # 40.00, set aside by hand
    opp("category", "omitted", omitted)
    result = by_category(opp)
    assert [(g["key"], g["count"], g["value"], g["forecast"]) for g in result["groups"]] == [
        ("pipeline", 1, "1000.00", "150.00"),
        ("best-case", 1, "200.00", "100.00"),
        ("commit", 1, "400.00", "300.00"),
        ("closed", 1, "500.00", "500.00"),
        ("omitted", 1, "80.00", "40.00"),
    ]
    assert result["total"] == {"count": 5, "value": "2180.00", "forecast": "1090.00"}
    assert result["rollups"] == {
        "commit": "800.00",  # 300 + 500
        "best_case": "900.00",  # 100 + 300 + 500
        "pipeline": "550.00",  # 150 + 100 + 300
    }


def test_the_rollup_identities_hold_in_the_core(opp, ctx):
    for stage, value in [("lead", "333.33"), ("proposal", "10.01"), ("negotiation", "0.05"), ("won", "7")]:
        deal(opp, "--value", value, "--stage", stage)
    result = forecast(ctx, by="category")
    assert isinstance(result, CategoryForecast)
    sums = {g.key: g.forecast for g in result.groups}
    assert result.rollups.commit == sums["commit"] + sums["closed"]
    assert result.rollups.best_case == sums["best-case"] + sums["commit"] + sums["closed"]
    assert result.rollups.pipeline == sums["pipeline"] + sums["best-case"] + sums["commit"]
    assert result.total.forecast == sum(sums.values(), Decimal("0.00"))


def test_forecast_by_category_takes_the_forecasts_filters(opp):
    deal(opp, "--value", "100", "--stage", "proposal", "--close", "2026-03-20")
    deal(opp, "--value", "100", "--stage", "negotiation", "--close", "2026-08-20")
    result = by_category(opp, "--period", "2026-03")
    assert [(g["key"], g["count"]) for g in result["groups"] if g["count"]] == [("best-case", 1)]
    assert result["rollups"] == {"commit": "0.00", "best_case": "50.00", "pipeline": "50.00"}


def test_forecast_by_category_as_a_table_and_csv_carries_the_rollups(opp):
    deal(opp, "--value", "400", "--stage", "negotiation")
    table = opp("forecast", "--by", "category").stdout
    lines = table.splitlines()
    assert lines[0].split() == ["category", "count", "value", "USD", "forecast", "USD"]
    assert [line.split()[0] for line in lines[2:]] == [*CATEGORIES, "total", "rollup", "rollup", "rollup"]
    assert lines[-3].split() == ["rollup", "commit", "300.00"]
    assert "None" not in table and "{" not in table
    csv = opp("forecast", "--by", "category", "-f", "csv").stdout.splitlines()
    assert csv[0] == "category,currency,count,value,forecast"
    assert csv[1:] == [
        "pipeline,USD,0,0.00,0.00",
        "best-case,USD,0,0.00,0.00",
        "commit,USD,1,400.00,300.00",
        "closed,USD,0,0.00,0.00",
        "omitted,USD,0,0.00,0.00",
        "total,USD,1,400.00,300.00",
        "rollup commit,USD,,,300.00",
        "rollup best-case,USD,,,300.00",
        "rollup pipeline,USD,,,300.00",
    ]


def test_an_unknown_grouping_lists_category(opp):
    assert "category" in opp.fails(2, "forecast", "--by", "colour")


def test_forecast_by_category_converts_currencies(opp):
    deal(opp, "--value", "1000", "--currency", "EUR", "--stage", "negotiation")  # 750 EUR
    opp("rate", "set", "EUR", "USD", "1.1", "--date", "2026-01-01")
    result = by_category(opp, "--currency", "USD")
    assert result["currency"] == "USD"
    assert [g["forecast"] for g in result["groups"]] == ["0.00", "0.00", "825.00", "0.00", "0.00"]
    assert result["rollups"]["commit"] == "825.00"


# -- undo and --as-of ----------------------------------------------------------------------------------


def test_undo_takes_a_category_back(opp):
    deal_id = deal(opp)
    opp("category", "commit", deal_id)
    undone = opp.json("undo")
    assert undone["name"] == "category" and undone["restored"] == [deal_id]
    assert category_of(opp, deal_id) == ("pipeline", False)
    opp("category", "best-case", deal_id)
    opp("category", "auto", deal_id)
    opp("undo")
    assert category_of(opp, deal_id) == ("best-case", True)


def test_as_of_rebuilds_the_category(opp):
    deal_id = deal(opp, "--value", "100", "--stage", "proposal")  # 2026-03-10
    opp("category", "commit", deal_id, OPP_NOW="2026-03-11T09:00:00Z")
    opp("stage", "negotiation", deal_id, OPP_NOW="2026-03-12T09:00:00Z")
    opp("category", "auto", deal_id, OPP_NOW="2026-03-13T09:00:00Z")
    opp("category", "omitted", deal_id, OPP_NOW="2026-03-14T09:00:00Z")
    later = {"OPP_NOW": "2026-03-20T09:00:00Z"}

    def listed(day):
        found = opp.json("list", "--as-of", day, **later)
        return [(d["category"], d["category_set"]) for d in found]

    assert listed("2026-03-10") == [("best-case", False)]
    assert listed("2026-03-11") == [("commit", True)]
    assert listed("2026-03-12") == [("commit", True)]
    assert listed("2026-03-13") == [("commit", False)]  # negotiation's category
    assert listed("2026-03-14") == [("omitted", True)]

    def counted(day):
        result = by_category(opp, "--as-of", day, **later)
        return [g["key"] for g in result["groups"] if g["count"]]

    assert counted("2026-03-10") == ["best-case"]
    assert counted("2026-03-11") == ["commit"]
    assert counted("2026-03-14") == ["omitted"]


def test_set_category_in_the_core(opp, ctx):
    deal_id = deal(opp)
    [changed] = set_category(ctx, "commit", [deal_id])
    assert (changed.category, changed.category_set) == ("commit", True)


# -- export and import ---------------------------------------------------------------------------------


def test_categories_set_by_hand_go_through_export_and_import(opp, databases, tmp_path):
    import csv
    import io

    from tests.conftest import NOW, Cli

    one = deal(opp, "--stage", "proposal", "--ref", "A-1")
    two = deal(opp, "--stage", "lead")
    three = deal(opp, "--stage", "negotiation")
    opp("category", "commit", one)
    opp("category", "omitted", two)
    exported = opp("export").stdout
    assert [row["category"] for row in csv.DictReader(io.StringIO(exported))] == ["commit", "omitted", ""]
    path = tmp_path / "pipeline.csv"
    path.write_text(exported, encoding="utf-8")

    # Into an empty database: the same categories, set by hand where they were.
    fresh = Cli(databases.new("fresh"))
    fresh.env["OPP_NOW"] = NOW
    assert fresh("import", path, "-o", "json").json()["created"] == 3
    assert [category_of(fresh, i) for i in (one, two, three)] == [
        ("commit", True),
        ("omitted", True),
        ("commit", False),
    ]
    assert fresh.json("history", one)[-1] == {
        **fresh.json("history", one)[-1],
        "action": "import",
        "field": "category",
        "new": "commit",
    }
    # Into the same database: nothing changes.
    assert opp("import", path, "-o", "json").json()["unchanged"] == 3

    # Edited: an empty cell puts the deal back on its stage's category, auto too; undo takes it back.
    rows = list(csv.DictReader(io.StringIO(exported)))
    rows[0]["category"], rows[1]["category"], rows[2]["category"] = "", "AUTO", "Best_Case"
    edited = io.StringIO()
    writer = csv.DictWriter(edited, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(edited.getvalue(), encoding="utf-8")
    assert opp("import", path, "-o", "json", OPP_NOW=LATER).json()["updated"] == 3
    assert [category_of(opp, i) for i in (one, two, three)] == [
        ("best-case", False),
        ("pipeline", False),
        ("best-case", True),
    ]
    opp("undo", OPP_NOW=LATER)
    assert [category_of(opp, i)[1] for i in (one, two, three)] == [True, True, False]


def test_an_import_refuses_a_category_that_is_none_or_closed(opp, tmp_path, unchanged):
    path = tmp_path / "bad.csv"
    path.write_text("title,customer,category\nA,Initech,maybe\nB,Initech,closed\n", encoding="utf-8")
    check = unchanged()
    error = opp("import", path, code=2).stderr
    assert "line 2: unknown category 'maybe'" in error and "line 3: the category closed" in error
    check()
