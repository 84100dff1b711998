"""opp report: every figure of a fixed pipeline, built through the CLI at known instants, checked against
a hand-computed expectation; the lists behind cron alerts (stuck, overdue, --fail-if-any) and bad input.

Numbers are read with ``parse_float=str`` so that money, days and rates are compared as the exact JSON
text (``"1625.28"``, ``"0.5714"``).
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import BACKEND, Cli

REPORT_NOW = "2026-05-10T12:00:00Z"


def at(moment: str) -> str:
    """An instant in 2026: ``at("01-05T09:00")``."""
    return f"2026-{moment}:00Z"


def report(opp, *args, **env):
    return json.loads(opp("report", *args, "--format", "json", **env).stdout, parse_float=str)


def create(opp, title, value, when, *args):
    return opp.json("create", title, "--org", "Initech", "--value", value, *args, OPP_NOW=at(when))["id"]


def move(opp, stage, deal_id, when, *args):
    opp("stage", stage, deal_id, *args, OPP_NOW=at(when))


def build_pipeline(opp):
    """Ten deals in USD (ids in creation order), then the clock set to REPORT_NOW (2026-05-10 12:00 UTC).

    id  assignee  value    history                                               closed
    1 A dana      1000.00  lead → qualification → proposal → negotiation → won     won 02-15 09:00
    2 B sam       3000.00  lead → qual → proposal → back to qual → proposal → neg  won 03-05 21:00
    3 C dana      2000.00  lead → negotiation (forced skip) → won                  won 04-10 09:00
    4 D sam        500.00  lead → qualification → lost "Price too high"            lost 02-20
    5 E dana       800.00  lead → lost "Price too high"                            lost 04-15
    6 F -          100.00  lead → lost (no reason)                                 lost 04-20
    7 G dana      4000.00  created in proposal 01-05, never moved, close 03-01    open (edited 05-01)
    8 H sam        700.00  lead → qualification on 04-10 12:00, close 06-30       open
    9 J dana       250.55  created in negotiation 03-01 09:00 → won                won 03-20 09:00
    10 K -          50.00  lead → qualification 04-01 → back to lead 05-01        open
    All but J are created 2026-01-05 09:00.
    """
    opp("user", "add", "sam")
    jan5 = "01-05T09:00"
    a = create(opp, "A", "1000", jan5, "--assign", "dana", "--close", "2026-02-01")
    b = create(opp, "B", "3000", jan5, "--assign", "sam")
    c = create(opp, "C", "2000", jan5, "--assign", "dana")
    d = create(opp, "D", "500", jan5, "--assign", "sam")
    e = create(opp, "E", "800", jan5, "--assign", "dana")
    f = create(opp, "F", "100", jan5)
    g = create(opp, "G", "4000", jan5, "--assign", "dana", "--stage", "proposal", "--close", "2026-03-01")
    h = create(opp, "H", "700", jan5, "--assign", "sam", "--close", "2026-06-30")
    j = create(opp, "J", "250.55", "03-01T09:00", "--assign", "dana", "--stage", "negotiation")
    k = create(opp, "K", "50", jan5)
    assert [a, b, c, d, e, f, g, h, j, k] == list(range(1, 11))

    move(opp, "qualification", a, "01-10T09:00")
    move(opp, "proposal", a, "01-20T09:00")
    move(opp, "negotiation", a, "02-01T09:00")
    move(opp, "won", a, "02-15T09:00")

    move(opp, "qualification", b, "01-10T09:00")
    move(opp, "proposal", b, "01-20T09:00")
    move(opp, "qualification", b, "02-01T09:00")  # back
    move(opp, "proposal", b, "02-10T09:00")
    move(opp, "negotiation", b, "02-20T09:00")
    move(opp, "won", b, "03-05T21:00")

    move(opp, "negotiation", c, "01-10T09:00", "--force")  # skips qualification and proposal
    move(opp, "won", c, "04-10T09:00")

    move(opp, "qualification", d, "01-10T09:00")
    move(opp, "lost", d, "02-20T09:00", "--reason", "Price too high")
    move(opp, "lost", e, "04-15T09:00", "--reason", "Price too high")
    move(opp, "lost", f, "04-20T09:00")

    opp("edit", g, "--value", "4000.50", OPP_NOW=at("05-01T09:00"))  # an edit is no stage change
    opp("note", g, "chased the buyer", OPP_NOW=at("05-01T09:00"))
    move(opp, "qualification", h, "04-10T12:00")
    move(opp, "won", j, "03-20T09:00")
    move(opp, "qualification", k, "04-01T09:00")
    move(opp, "lead", k, "05-01T09:00")  # back


def build(db):
    """The pipeline (as the ``opp`` fixture would start it: user dana, Initech)."""
    opp = Cli(db)
    opp("user", "add", "dana", "--name", "Dana Scully")
    opp("customer", "add", "--org", "Initech")
    build_pipeline(opp)


@pytest.fixture(scope="module")
def built(databases):
    """The pipeline built once for the module."""
    return databases.template(build)


@pytest.fixture
def pipeline(built, cli, restore):
    """A copy of the built pipeline for one test, with the clock at REPORT_NOW."""
    restore(built)
    cli.env["OPP_NOW"] = REPORT_NOW
    return cli


# -- win rate ------------------------------------------------------------------------------------------


def test_win_rate_is_won_over_closed_rounded_to_four_decimals(pipeline):
    # closed: won A, B, C, J; lost D, E, F → 4 / 7 = 0.571428… → 0.5714
    assert report(pipeline, "win-rate") == {"won": 4, "lost": 3, "win_rate": "0.5714"}
    assert '"win_rate": 0.5714}' in pipeline("report", "win-rate", "-f", "json").stdout


def test_win_rate_by_assignee_puts_unassigned_last(pipeline):
    # dana: won A, C, J, lost E → 3/4; sam: won B, lost D → 1/2; nobody: lost F → 0/1
    assert report(pipeline, "win-rate", "--by", "assignee") == [
        {"key": "dana", "won": 3, "lost": 1, "win_rate": "0.7500"},
        {"key": "sam", "won": 1, "lost": 1, "win_rate": "0.5000"},
        {"key": None, "won": 0, "lost": 1, "win_rate": "0.0000"},
    ]


def test_win_rate_by_month_and_quarter_of_the_close(pipeline):
    # 2026-02: A won, D lost; 2026-03: B, J won; 2026-04: C won, E and F lost
    assert report(pipeline, "win-rate", "--by", "month") == [
        {"key": "2026-02", "won": 1, "lost": 1, "win_rate": "0.5000"},
        {"key": "2026-03", "won": 2, "lost": 0, "win_rate": "1.0000"},
        {"key": "2026-04", "won": 1, "lost": 2, "win_rate": "0.3333"},
    ]
    # Q1: A, B, J won, D lost → 3/4; Q2: C won, E, F lost → 1/3
    assert report(pipeline, "win-rate", "--by", "quarter") == [
        {"key": "2026Q1", "won": 3, "lost": 1, "win_rate": "0.7500"},
        {"key": "2026Q2", "won": 1, "lost": 2, "win_rate": "0.3333"},
    ]


def test_win_rate_period_and_assignee_filter_the_closed_deals(pipeline):
    assert report(pipeline, "win-rate", "--period", "2026Q2") == {"won": 1, "lost": 2, "win_rate": "0.3333"}
    # this-month is May 2026: nothing closed
    assert report(pipeline, "win-rate", "--period", "this-month") == {"won": 0, "lost": 0, "win_rate": None}
    assert report(pipeline, "win-rate", "--assignee", "sam") == {"won": 1, "lost": 1, "win_rate": "0.5000"}


def test_win_rate_is_null_when_nothing_closed(opp):
    create(opp, "open", "100", "01-05T09:00")
    assert report(opp, "win-rate") == {"won": 0, "lost": 0, "win_rate": None}
    assert report(opp, "win-rate", "--by", "assignee") == []


# -- deal size -----------------------------------------------------------------------------------------


def test_deal_size_of_won_deals_with_an_even_count(pipeline):
    # won: 1000.00, 3000.00, 2000.00, 250.55 (lost and open deals are left out)
    # average 6250.55 / 4 = 1562.6375 → 1562.64; median of 250.55, 1000, 2000, 3000 = (1000 + 2000) / 2
    assert report(pipeline, "deal-size") == {
        "currency": "USD",
        "count": 4,
        "average": "1562.64",
        "median": "1500.00",
        "min": "250.55",
        "max": "3000.00",
    }


def test_deal_size_median_of_an_odd_count_and_half_cent_rounding(pipeline):
    # Q1: A 1000.00, B 3000.00, J 250.55 → median 1000.00, average 4250.55 / 3 = 1416.85
    assert report(pipeline, "deal-size", "--period", "2026Q1") == {
        "currency": "USD",
        "count": 3,
        "average": "1416.85",
        "median": "1000.00",
        "min": "250.55",
        "max": "3000.00",
    }
    # March: B 3000.00, J 250.55 → median (3000.00 + 250.55) / 2 = 1625.275 → 1625.28 (half up)
    march = report(pipeline, "deal-size", "--period", "2026-03")
    assert (march["count"], march["average"], march["median"]) == (2, "1625.28", "1625.28")


def test_deal_size_by_assignee_and_with_nothing_won(pipeline):
    # dana: A 1000.00, C 2000.00, J 250.55 → average 3250.55 / 3 = 1083.5166… → 1083.52, median 1000.00
    assert report(pipeline, "deal-size", "--by", "assignee") == [
        {
            "key": "dana",
            "currency": "USD",
            "count": 3,
            "average": "1083.52",
            "median": "1000.00",
            "min": "250.55",
            "max": "2000.00",
        },
        {
            "key": "sam",
            "currency": "USD",
            "count": 1,
            "average": "3000.00",
            "median": "3000.00",
            "min": "3000.00",
            "max": "3000.00",
        },
    ]
    assert report(pipeline, "deal-size", "--period", "2025") == {
        "currency": "USD",
        "count": 0,
        "average": None,
        "median": None,
        "min": None,
        "max": None,
    }


def test_deal_size_converts_each_deal_like_the_forecast(opp):
    create(opp, "dollars", "1000", "01-05T09:00", "--stage", "won")
    create(opp, "euros", "500", "01-05T09:00", "--stage", "won", "--currency", "EUR")
    opp("rate", "set", "EUR", "USD", "1.1", "--date", "2026-01-01")
    # two currencies, no --currency and no reporting currency: refused, as forecast does
    assert "--currency" in opp.fails(4, "report", "deal-size")
    # EUR 500.00 × 1.1 = USD 550.00 at the rate in force on the close date; with USD 1000.00:
    # average = median = 775.00
    assert report(opp, "deal-size", "--currency", "USD") == {
        "currency": "USD",
        "count": 2,
        "average": "775.00",
        "median": "775.00",
        "min": "550.00",
        "max": "1000.00",
    }


# -- cycle ---------------------------------------------------------------------------------------------


def test_cycle_is_elapsed_days_from_created_to_won(pipeline):
    # A 01-05 09:00 → 02-15 09:00 = 41 d; B → 03-05 21:00 = 59.5 d; C → 04-10 09:00 = 95 d;
    # J 03-01 09:00 → 03-20 09:00 = 19 d. Average 214.5 / 4 = 53.625 → 53.6;
    # median of 19, 41, 59.5, 95 = (41 + 59.5) / 2 = 50.25 → 50.3 (half up)
    assert report(pipeline, "cycle") == {"count": 4, "average_days": "53.6", "median_days": "50.3"}


def test_cycle_by_quarter_and_empty(pipeline):
    # Q1: A 41, B 59.5, J 19 → average 119.5 / 3 = 39.83… → 39.8, median 41.0; Q2: C 95
    assert report(pipeline, "cycle", "--by", "quarter") == [
        {"key": "2026Q1", "count": 3, "average_days": "39.8", "median_days": "41.0"},
        {"key": "2026Q2", "count": 1, "average_days": "95.0", "median_days": "95.0"},
    ]
    assert report(pipeline, "cycle", "--period", "2025") == {
        "count": 0,
        "average_days": None,
        "median_days": None,
    }


# -- conversion ----------------------------------------------------------------------------------------


def test_conversion_reads_the_stages_each_deal_was_ever_in_from_history(pipeline):
    # reached (from history) and advanced (ever in a later open stage or closed-won):
    # lead:          A B C D E F H K reached (G and J were created later in the pipeline) = 8;
    #                advanced A B C (forced to negotiation) D H K (went to qualification, then back) = 6
    # qualification: A B D H K = 5 (C's forced skip did not reach it); advanced A B = 2
    # proposal:      A B G = 3 (B's second visit counts once); advanced A B = 2
    # negotiation:   A B C J = 4; all four won
    assert report(pipeline, "conversion") == [
        {"stage": "lead", "reached": 8, "advanced": 6, "rate": "0.7500"},
        {"stage": "qualification", "reached": 5, "advanced": 2, "rate": "0.4000"},
        {"stage": "proposal", "reached": 3, "advanced": 2, "rate": "0.6667"},
        {"stage": "negotiation", "reached": 4, "advanced": 4, "rate": "1.0000"},
    ]


def test_conversion_period_is_a_cohort_of_deals_created_in_it(pipeline):
    # created in March 2026: only J (created in negotiation, won); a stage nobody reached has no rate
    assert report(pipeline, "conversion", "--period", "2026-03") == [
        {"stage": "lead", "reached": 0, "advanced": 0, "rate": None},
        {"stage": "qualification", "reached": 0, "advanced": 0, "rate": None},
        {"stage": "proposal", "reached": 0, "advanced": 0, "rate": None},
        {"stage": "negotiation", "reached": 1, "advanced": 1, "rate": "1.0000"},
    ]
    # sam's deals now: B (won through every stage), D (lead → qualification → lost), H (in qualification)
    assert [row["reached"] for row in report(pipeline, "conversion", "--assignee", "sam")] == [3, 3, 1, 1]


# -- lost reasons --------------------------------------------------------------------------------------


def test_lost_reasons_count_most_frequent_first_and_no_reason_last(pipeline):
    # D and E "Price too high"; F without a reason
    assert report(pipeline, "lost-reasons") == [
        {"reason": "Price too high", "count": 2},
        {"reason": None, "count": 1},
    ]
    # Q1: D; Q2: E, F
    assert report(pipeline, "lost-reasons", "--by", "quarter") == [
        {"key": "2026Q1", "reason": "Price too high", "count": 1},
        {"key": "2026Q2", "reason": "Price too high", "count": 1},
        {"key": "2026Q2", "reason": None, "count": 1},
    ]
    assert report(pipeline, "lost-reasons", "--period", "2026-04", "--assignee", "dana") == [
        {"reason": "Price too high", "count": 1}
    ]


# -- stuck and overdue ---------------------------------------------------------------------------------


def ids(opp, *args, **kwargs):
    return [int(line) for line in opp("report", *args, "--format", "ids", **kwargs).stdout.split()]


def test_stuck_counts_days_since_the_last_stage_change(pipeline):
    # now 05-10 12:00. G: in proposal since 01-05 (its edit and note on 05-01 are no stage change);
    # H: in qualification since 04-10 12:00, exactly 30 days: not stuck at 30, stuck at 29;
    # K: moved back to lead on 05-01, 9.1 days ago. Closed deals are never stuck.
    assert ids(pipeline, "stuck") == [7]
    assert ids(pipeline, "stuck", "--days", "29") == [7, 8]  # longest stuck first
    assert ids(pipeline, "stuck", "--days", "9") == [7, 8, 10]
    assert ids(pipeline, "stuck", "--days", "126") == []  # G is 125.1 days in proposal
    assert ids(pipeline, "stuck", "--days", "0", "--assignee", "sam") == [8]


def test_limit_keeps_the_first_of_the_list(pipeline):
    assert ids(pipeline, "stuck", "--days", "9", "--limit", "2") == [7, 8]  # the two longest stuck
    assert ids(pipeline, "stuck", "--days", "9", "--limit", "5") == [7, 8, 10]
    assert ids(pipeline, "overdue", "--limit", "1") == [7]
    assert (
        pipeline(
            "report", "stuck", "--days", "9", "--limit", "1", "--fail-if-any", "-f", "ids", code=6
        ).stdout
        == "7\n"
    )
    assert "--limit must be a positive number" in pipeline.fails(2, "report", "stuck", "--limit", "0")


def test_stuck_reads_the_open_deals_in_order_from_their_index(pipeline, db):
    """report stuck never sorts every open deal: the partial index on open deals' last stage change
    gives them longest stuck first, so --limit 20 reads twenty (see migration 0006)."""
    from sqlalchemy import text

    from opp.core.analytics.reports import stuck_filter
    from opp.core.clock import Clock
    from opp.core.context import open_context
    from opp.core.pipeline.deals import page_ids_query

    ctx = open_context(db, actor="dana", clock=Clock.from_env_value(REPORT_NOW))
    try:
        with ctx.store.write() as conn:
            if BACKEND == "postgresql":
                conn.execute(text("SET LOCAL enable_seqscan = off"))  # plan as for a big table
            chosen = stuck_filter(conn, ctx, days=30, limit=20)
            # The page's ids are chosen first, over the deals alone (then read whole by id).
            query = page_ids_query(conn, chosen)
            assert query is not None
            sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
            prefix = "EXPLAIN QUERY PLAN " if BACKEND == "sqlite" else "EXPLAIN "
            plan = "\n".join(str(row[-1]) for row in conn.execute(text(prefix + sql)))
    finally:
        ctx.close()
    assert "ix_opportunities_open_stage_changed_at" in plan, plan
    if BACKEND == "sqlite":
        assert "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize(
    "args",
    [
        ("list",),
        ("list", "--status", "all", "--sort", "-value"),
        ("list", "--status", "all", "--search", "a", "--limit", "3"),
        ("list", "--status", "all", "--as-of", "2026-04-01"),
        ("list", "--overdue"),
        ("report", "stuck", "--days", "9"),
        ("report", "stuck", "--days", "0", "--limit", "2"),
        ("report", "overdue"),
    ],
)
def test_format_ids_prints_the_ids_of_the_records(pipeline, args):
    """-f ids reads the ids alone, without building records: the same deals in the same order."""
    assert pipeline(*args, "-f", "ids").stdout == "".join(f"{d['id']}\n" for d in pipeline.json(*args))


def test_stuck_prints_the_records_of_opp_list(pipeline):
    listed = pipeline("list", "--stage", "proposal", "-f", "json").stdout
    assert pipeline("report", "stuck", "-f", "json").stdout == listed


def test_overdue_lists_open_deals_past_their_expected_close(pipeline):
    # G: expected 03-01, still open; A's close date (02-01) has passed but it is won; H closes 06-30
    assert ids(pipeline, "overdue") == [7]
    assert (
        pipeline("report", "overdue", "-f", "json").stdout
        == pipeline("list", "--overdue", "-f", "json").stdout
    )
    assert ids(pipeline, "overdue", "--assignee", "sam") == []


def test_fail_if_any_exits_6_after_printing_a_non_empty_list(pipeline):
    found = pipeline("report", "stuck", "--fail-if-any", "-f", "ids", code=6)
    assert found.stdout == "7\n"
    assert found.stderr == ""
    assert pipeline("report", "overdue", "--fail-if-any", "-f", "json", code=6).json()[0]["id"] == 7


def test_fail_if_any_exits_0_on_an_empty_list(pipeline):
    assert pipeline("report", "stuck", "--days", "200", "--fail-if-any", "-f", "json").json() == []
    assert pipeline("report", "overdue", "--assignee", "sam", "--fail-if-any", "-f", "ids").stdout == ""
    table = pipeline("report", "overdue", "--assignee", "sam", "--fail-if-any")
    assert (table.stdout, table.stderr) == ("", "no overdue opportunities\n")


# -- tables and bad input ------------------------------------------------------------------------------


def test_tables(pipeline):
    table = pipeline("report", "win-rate", "--by", "quarter").stdout.splitlines()
    assert table[0].split() == ["quarter", "won", "lost", "win", "rate"]
    assert table[2].split() == ["2026Q1", "3", "1", "0.7500"]
    single = pipeline("report", "cycle").stdout.splitlines()
    assert [line.split() for line in single] == [
        ["count", "4"],
        ["average_days", "53.6"],
        ["median_days", "50.3"],
    ]
    assert "proposal" in pipeline("report", "conversion").stdout
    assert "G" in pipeline("report", "stuck").stdout


@pytest.mark.parametrize(
    "args",
    [
        ("bogus",),
        ("stuck", "--days", "-1"),
        ("stuck", "--days", "abc"),
        ("win-rate", "--by", "bogus"),
        ("win-rate", "--period", "2026Q5"),
        ("cycle", "--period", "bad"),
        ("conversion", "--by", "assignee"),
        ("win-rate", "--days", "3"),
        ("overdue", "--by", "month"),
        ("cycle", "--fail-if-any"),
        ("win-rate", "--currency", "EUR"),
        ("win-rate", "--format", "ids"),
        ("stuck", "--limit", "0"),
        ("overdue", "--limit", "x"),
        ("win-rate", "--limit", "3"),
        ("deal-size", "--currency", "XYZ"),
    ],
)
def test_bad_input_is_exit_2(pipeline, unchanged, args):
    check = unchanged()
    pipeline.fails(2, "report", *args)
    check()


def test_messages_name_the_problem(pipeline):
    assert "unknown report 'bogus'" in pipeline.fails(2, "report", "bogus")
    assert "--days must be 0 or more" in pipeline.fails(2, "report", "stuck", "--days", "-1")
    assert "--by does not apply to report overdue" in pipeline.fails(2, "report", "overdue", "--by", "month")
    assert "assignee, month, quarter" in pipeline.fails(2, "report", "win-rate", "--by", "stage")


def test_an_unknown_assignee_is_not_found(pipeline):
    pipeline.fails(3, "report", "stuck", "--assignee", "nobody")
    pipeline.fails(3, "report", "win-rate", "--assignee", "nobody")


# -- the guide's use case 5: pipeline management ---------------------------------------------------------


def test_use_case_5_pipeline_management(pipeline):
    """Review the pipeline, find deals stuck in a stage, move them forward, watch the conversion rates."""
    # 1. review the pipeline view: the open deals G (proposal), H (qualification), K (lead)
    board = pipeline.json("pipeline")
    assert [(s["stage"], s["count"]) for s in board["stages"]] == [
        ("lead", 1),
        ("qualification", 1),
        ("proposal", 1),
        ("negotiation", 0),
    ]
    # 2. identify the opportunities stuck in a stage: a cron job alerts with exit 6
    assert pipeline("report", "stuck", "--fail-if-any", "-f", "ids", code=6).stdout == "7\n"
    # 3. move them forward as they progress: G goes to negotiation with a new close date
    pipeline("stage", "negotiation", 7)
    pipeline("edit", 7, "--close", "2026-06-15")
    # the stuck and overdue checks are clean again
    assert pipeline("report", "stuck", "--fail-if-any", "-f", "ids").stdout == ""
    assert pipeline("report", "overdue", "--fail-if-any", "-f", "ids").stdout == ""
    # 4./5. opportunities in each stage, the pipeline balanced across them
    board = pipeline.json("pipeline")
    assert [s["count"] for s in board["stages"]] == [1, 1, 0, 1]
    # 6. monitor conversion rates: proposal now has 3 of 3 advanced (A, B and G), negotiation 4 of 5
    rates = {
        row["stage"]: (row["reached"], row["advanced"], row["rate"]) for row in report(pipeline, "conversion")
    }
    assert rates["proposal"] == (3, 3, "1.0000")
    assert rates["negotiation"] == (5, 4, "0.8000")


def test_a_group_without_an_assignee_is_named_none_in_tables_as_in_the_forecast(opp):
    opp("create", "Nobody's", "--org", "Initech", "--stage", "won")
    opp("create", "Dana's", "--org", "Initech", "--stage", "lost", "--assign", "dana")
    table = opp("report", "win-rate", "--by", "assignee").stdout.splitlines()
    assert [line.split()[0] for line in table[2:]] == ["dana", "(none)"]
    assert [row["key"] for row in opp.json("report", "win-rate", "--by", "assignee")] == ["dana", None]
    assert "(none)" in opp("forecast", "--by", "assignee").stdout
