"""Custom fields: defining them, setting values by type, history, as-of and undo, --where and --by on
every command that covers deals, export and import."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

LATER = "2026-03-20T09:00:00Z"
MUCH_LATER = "2026-04-01T09:00:00Z"
FIELD_KEYS = ["name", "type", "on", "choices", "values"]


def define(opp):
    opp("field", "add", "region", "--type", "choice", "--choices", "EMEA,APAC,AMER")
    opp("field", "add", "seats", "--type", "number")
    opp("field", "add", "renewal", "--type", "date")
    opp("field", "add", "channel", "--type", "text")
    opp("field", "add", "tier", "--type", "choice", "--choices", "Gold,Silver", "--on", "customer")


@pytest.fixture
def fields(opp):
    """Initech and four deals: 1 EMEA 10 seats, 2 APAC 250 seats, 3 no region, 4 EMEA (won)."""
    define(opp)
    opp("create", "One", "--org", "Initech", "--value", "1000", "--set", "region=emea", "--set", "seats=10")
    opp("create", "Two", "--org", "Initech", "--value", "2000", "--set", "region=APAC", "--set", "seats=250")
    opp("create", "Three", "--org", "Initech", "--value", "4000", "--set", "renewal=2026-12-31")
    opp("create", "Four", "--org", "Initech", "--value", "8000", "--stage", "won", "--set", "region=EMEA")
    return opp


def ids(opp, *args, **env):
    listed = opp("list", "--status", "all", "--format", "ids", *args, **env).stdout
    return [int(line) for line in listed.split()]


# -- definitions ----------------------------------------------------------------------------------------


def test_field_add_prints_the_field(opp):
    added = opp.json("field", "add", "region", "--type", "choice", "--choices", "EMEA, APAC")
    assert added == {
        "name": "region",
        "type": "choice",
        "on": "deal",
        "choices": ["EMEA", "APAC"],
        "values": 0,
    }
    assert list(added) == FIELD_KEYS


def test_field_list_shows_deal_fields_first_with_their_counts(fields):
    listed = fields.json("field", "list")
    assert [(f["name"], f["on"], f["values"]) for f in listed] == [
        ("region", "deal", 3),
        ("seats", "deal", 2),
        ("renewal", "deal", 1),
        ("channel", "deal", 0),
        ("tier", "customer", 0),
    ]
    table = fields("field", "list").stdout
    assert "EMEA, APAC, AMER" in table and "[" not in table


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["Region", "--type", "text"], 2, "invalid field name"),
        (["9lives", "--type", "text"], 2, "invalid field name"),
        (["a-b", "--type", "text"], 2, "invalid field name"),
        (["x" * 41, "--type", "text"], 2, "at most 40"),
        (["value", "--type", "text"], 2, "built-in key"),
        (["stage", "--type", "text"], 2, "built-in key"),
        (["external_ref", "--type", "text"], 2, "built-in key"),
        (["fields", "--type", "text"], 2, "built-in key"),
        (["region", "--type", "money"], 2, "unknown field type"),
        (["region", "--type", "choice"], 2, "needs its choices"),
        (["region", "--type", "choice", "--choices", "A,,B"], 2, "must not be empty"),
        (["region", "--type", "choice", "--choices", "A,a"], 2, "given twice"),
        (["region", "--type", "text", "--choices", "A"], 2, "only a choice field"),
        (["region", "--type", "text", "--on", "invoice"], 2, "deals or customers"),
    ],
)
def test_field_add_refuses_bad_definitions(opp, unchanged, args, code, fragment):
    check = unchanged()
    assert fragment in opp.fails(code, "field", "add", *args)
    check()


def test_a_field_name_is_taken_once_across_deals_and_customers(opp, unchanged):
    opp("field", "add", "region", "--type", "text")
    check = unchanged()
    assert "exists already" in opp.fails(4, "field", "add", "region", "--type", "text", "--on", "customer")
    check()


def test_a_forty_character_name_is_allowed_and_goes_into_history(opp):
    name = "a" * 40
    opp("field", "add", name, "--type", "text")
    opp("create", "Deal", "--org", "Initech", "--set", f"{name}=yes")
    events = opp.json("history", "1")
    assert events[-1]["field"] == name


def test_choices_may_be_added_and_unused_ones_taken_away(fields):
    edited = fields.json("field", "edit", "region", "--choices", "EMEA,APAC,LATAM")
    assert edited["choices"] == ["EMEA", "APAC", "LATAM"]


def test_a_choice_in_use_cannot_be_taken_away(fields, unchanged):
    check = unchanged()
    message = fields.fails(4, "field", "edit", "region", "--choices", "APAC,AMER")
    assert "'EMEA'" in message and "2 records" in message
    check()


def test_a_choice_renamed_in_case_takes_its_records_along(fields):
    fields("field", "edit", "region", "--choices", "Emea,APAC,AMER")
    assert fields.json("show", "1")["fields"]["region"] == "Emea"


def test_field_edit_refuses_a_field_that_has_no_choices(fields, unchanged):
    check = unchanged()
    assert "only a choice field" in fields.fails(2, "field", "edit", "seats", "--choices", "A")
    assert "no custom field" in fields.fails(3, "field", "edit", "nope", "--choices", "A")
    check()


def test_a_field_in_use_is_removed_only_with_force(fields, unchanged):
    check = unchanged()
    message = fields.fails(4, "field", "remove", "region")
    assert "3 records" in message and "--force" in message
    check()
    fields("field", "remove", "region", "--force")
    assert "region" not in fields.json("show", "1")["fields"]
    assert "no custom field" in fields.fails(3, "field", "remove", "region")


def test_an_unused_field_is_removed(fields):
    assert fields.json("field", "remove", "channel")["name"] == "channel"
    assert [f["name"] for f in fields.json("field", "list")] == ["region", "seats", "renewal", "tier"]


# -- values ---------------------------------------------------------------------------------------------


def test_every_deal_carries_every_deal_field_null_where_unset(fields):
    shown = fields.json("show", "3")
    assert shown["fields"] == {"region": None, "seats": None, "renewal": "2026-12-31", "channel": None}
    assert [deal["fields"]["region"] for deal in fields.json("list", "--status", "all")] == [
        "EMEA",
        "APAC",
        None,
        "EMEA",
    ]


def test_values_are_read_by_type(opp):
    define(opp)
    sets = ["seats=1_250.50", "renewal=eom", "channel=  partner  ", "region=apac"]
    deal = opp.json("create", "Deal", "--org", "Initech", *(arg for pair in sets for arg in ("--set", pair)))
    assert deal["fields"] == {
        "region": "APAC",
        "seats": 1250.5,
        "renewal": "2026-03-31",
        "channel": "partner",
    }
    assert '"seats": 1250.5,' in opp("show", "1", "--format", "json").stdout  # a number, not a string


def test_set_with_nothing_after_the_equals_sign_clears(fields):
    edited = fields.json("edit", "1", "--set", "region=", "--set", "seats=")
    assert edited["fields"]["region"] is None and edited["fields"]["seats"] is None
    assert [f["values"] for f in fields.json("field", "list")][:2] == [2, 1]


@pytest.mark.parametrize(
    ("pair", "code", "fragment"),
    [
        ("region=Mars", 2, "not a choice"),
        ("seats=ten", 2, "not a number"),
        ("seats=1e5", 2, "not a number"),
        ("seats=1234567890123456", 2, "significant digits"),
        ("renewal=2026-02-30", 2, "does not exist"),
        ("renewal=01/02/2026", 2, "renewal"),
        ("channel=" + "x" * 501, 2, "at most 500"),
        ("nope=1", 2, "no custom field 'nope'"),
        ("tier=Gold", 2, "no custom field 'tier' on deals"),
        ("region", 2, "is not NAME=VALUE"),
        ("=EMEA", 2, "is not NAME=VALUE"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(fields, unchanged, pair, code, fragment):
    check = unchanged()
    assert fragment in fields.fails(code, "edit", "1", "--set", pair)
    assert fragment in fields.fails(code, "create", "New", "--org", "Initech", "--set", pair)
    check()


def test_a_choice_error_names_the_choices(fields):
    message = fields.fails(2, "edit", "1", "--set", "region=Mars")
    assert "region is one of EMEA, APAC, AMER" in message


def test_the_table_of_a_deal_shows_fields_readably(fields):
    table = fields("show", "1").stdout
    assert "fields.region" in table and "EMEA" in table
    assert "{" not in table
    listing = fields("list").stdout
    assert "region" in listing.splitlines()[0] and "{" not in listing


def test_customers_take_their_own_fields(opp):
    define(opp)
    added = opp.json("customer", "add", "--org", "Acme", "--set", "tier=gold")
    assert added["fields"] == {"tier": "Gold"}
    assert opp.json("customer", "show", "Acme")["fields"] == {"tier": "Gold"}
    assert [c["fields"] for c in opp.json("customer", "list")] == [{"tier": None}, {"tier": "Gold"}]
    assert "Gold" in opp("customer", "list").stdout
    assert "no custom field 'region' on customers" in opp.fails(
        2, "customer", "add", "--org", "Other", "--set", "region=EMEA"
    )


def test_set_customer_fields_is_there_for_customer_edit(opp, ctx):
    from opp.core.fields import set_customer_fields

    define(opp)
    assert set_customer_fields(ctx, "Initech", ["tier=silver"]) == {"tier": "Silver"}
    assert opp.json("customer", "show", "Initech")["fields"] == {"tier": "Silver"}


# -- history, as-of, undo ------------------------------------------------------------------------------


def test_a_change_is_an_updated_event_named_after_the_field(fields):
    fields("edit", "1", "--set", "region=APAC", "--set", "seats=10", OPP_NOW=LATER)
    events = fields.json("history", "1")
    assert [(e["action"], e["field"], e["old"], e["new"]) for e in events] == [
        ("created", None, None, events[0]["new"]),
        ("updated", "region", None, "EMEA"),
        ("updated", "seats", None, "10"),
        ("updated", "region", "EMEA", "APAC"),  # seats=10 again changes nothing
    ]
    assert fields.json("show", "1")["version"] == 2


def test_as_of_sees_the_fields_as_they_were(fields):
    fields("edit", "1", "--set", "region=APAC", OPP_NOW=LATER)
    fields("edit", "2", "--set", "region=", OPP_NOW=LATER)
    back = {"OPP_NOW": MUCH_LATER}
    assert ids(fields, "--where", "region=EMEA", "--as-of", "2026-03-15", **back) == [1, 4]
    assert ids(fields, "--where", "region=EMEA", **back) == [4]
    past = fields.json("list", "--as-of", "2026-03-15", **back)
    assert [d["fields"]["region"] for d in past] == ["EMEA", "APAC", None]
    grouped = fields.json("forecast", "--by", "region", "--as-of", "2026-03-15", **back)
    assert [(g["key"], g["count"]) for g in grouped["groups"]] == [("EMEA", 2), ("APAC", 1), (None, 1)]


def test_undo_reverts_a_change_of_fields(fields):
    fields("edit", "1", "--set", "region=APAC", "--set", "channel=web", OPP_NOW=LATER)
    fields("undo", OPP_NOW=LATER)
    assert fields.json("show", "1")["fields"] == {
        "region": "EMEA",
        "seats": 10,
        "renewal": None,
        "channel": None,
    }
    events = fields.json("history", "1")
    assert [(e["action"], e["field"], e["new"]) for e in events[-2:]] == [
        ("undo", "region", "EMEA"),
        ("undo", "channel", None),
    ]


def test_undo_of_a_create_removes_the_deal_and_its_values(fields):
    fields("create", "Five", "--org", "Initech", "--set", "region=AMER")
    fields("undo")
    assert fields.json("field", "list")[0]["values"] == 3
    assert ids(fields, "--where", "region=AMER") == []


def test_undo_refuses_a_field_removed_since(fields):
    fields("edit", "1", "--set", "channel=web", OPP_NOW=LATER)
    fields("field", "remove", "channel", "--force")
    assert "was removed since" in fields.fails(4, "undo", OPP_NOW=LATER)


def customer_events(ctx, customer_id):
    from sqlalchemy import select

    from opp.store import schema

    ch = schema.customer_history
    with ctx.reading() as conn:
        rows = conn.execute(
            select(ch.c.action, ch.c.field, ch.c.old, ch.c.new)
            .where(ch.c.customer_id == customer_id)
            .order_by(ch.c.id)
        ).all()
    return [(a, f, None if o is None else json.loads(o) if f == "fields" else o, n) for a, f, o, n in rows]


def test_a_customer_field_change_is_in_its_history_and_undone(fields, ctx):
    fields("customer", "edit", "Initech", "--set", "tier=gold", "--phone", "555")
    fields("customer", "edit", "Initech", "--set", "tier=Silver", OPP_NOW=LATER)
    assert customer_events(ctx, 1)[-3:] == [
        ("updated", "phone", None, "555"),
        ("updated", "fields", {"tier": None}, '{"tier": "Gold"}'),
        ("updated", "fields", {"tier": "Gold"}, '{"tier": "Silver"}'),
    ]
    undone = fields.json("undo", OPP_NOW=LATER)
    assert (undone["name"], undone["events"]) == ("customer edit", 1)
    assert fields.json("customer", "show", "1")["fields"] == {"tier": "Gold"}
    assert ids(fields, "--where", "tier=Gold") == [1, 2, 3, 4]
    fields("undo", OPP_NOW=LATER)
    shown = fields.json("customer", "show", "1")
    assert (shown["fields"], shown["phone"]) == ({"tier": None}, None)
    assert customer_events(ctx, 1)[-2:] == [  # newest first
        ("undo", "fields", {"tier": "Gold"}, '{"tier": null}'),
        ("undo", "phone", "555", None),
    ]


def test_a_customer_field_change_by_another_user_blocks_the_undo(fields, unchanged):
    fields("customer", "edit", "Initech", "--set", "tier=gold")
    fields("customer", "edit", "Initech", "--set", "tier=Silver", OPP_USER="sam")
    check = unchanged()
    assert "customer 1 was changed by sam since" in fields.fails(4, "undo")
    check()


def test_set_customer_fields_writes_history_too(fields, ctx):
    from opp.core.fields import set_customer_fields

    set_customer_fields(ctx, "Initech", ["tier=silver"])
    assert customer_events(ctx, 1)[-1] == ("updated", "fields", {"tier": None}, '{"tier": "Silver"}')
    fields("undo")
    assert fields.json("customer", "show", "1")["fields"] == {"tier": None}


def test_undo_of_a_customer_add_removes_it_with_its_fields(fields, ctx):
    added = fields.json("customer", "add", "--org", "Acme", "--set", "tier=gold")
    assert customer_events(ctx, added["id"]) == [
        ("created", None, None, "Acme"),
        ("updated", "fields", {"tier": None}, '{"tier": "Gold"}'),
    ]
    assert fields.json("undo")["name"] == "customer add"
    assert [c["name"] for c in fields.json("customer", "list")] == ["Initech"]
    assert fields.json("field", "list")[-1]["values"] == 0
    assert fields.json("undo")["name"] == "create"  # the deal created before it


def test_undo_of_a_customer_add_is_refused_once_a_deal_names_it(fields, unchanged):
    fields("customer", "add", "--org", "Acme", "--set", "tier=gold")
    fields("create", "Five", "--org", "Acme", OPP_USER="sam")
    check = unchanged()
    assert "customer 2 has opportunities since" in fields.fails(4, "undo")
    check()


def test_a_merge_carries_custom_fields_over_and_undo_restores_them(fields, ctx):
    fields("field", "add", "size", "--type", "number", "--on", "customer")
    fields("customer", "add", "--org", "Initech Inc", "--set", "tier=Silver", "--set", "size=40")
    fields("customer", "edit", "Initech", "--set", "tier=Gold")
    merged = fields.json("customer", "merge", "Initech", "Initech Inc")
    assert merged["keep"]["id"] == 1
    assert fields.json("customer", "show", "1")["fields"] == {"tier": "Gold", "size": 40}
    assert [f["values"] for f in fields.json("field", "list")][-2:] == [1, 1]  # nothing left of the dropped
    fields("undo")
    assert fields.json("customer", "show", "1")["fields"] == {"tier": "Gold", "size": None}
    assert fields.json("customer", "show", "2")["fields"] == {"tier": "Silver", "size": 40}


# -- where ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (["region=EMEA"], [1, 4]),
        (["region=emea"], [1, 4]),
        (["region!=EMEA"], [2, 3]),  # a deal with no region is not in EMEA
        (["region="], [3]),
        (["region!="], [1, 2, 4]),
        (["seats>=10"], [1, 2]),
        (["seats>10"], [2]),
        (["seats<250"], [1]),
        (["seats<=250", "region=APAC"], [2]),
        (["seats!=10"], [2, 3, 4]),
        (["renewal>=2026-12-01"], [3]),
        (["renewal<2026-12-01"], []),
        (["renewal=eoy"], [3]),
        (["Region=EMEA", "region!=APAC"], [1, 4]),
        (["channel=web"], []),
    ],
)
def test_where_on_list(fields, conditions, expected):
    assert ids(fields, *(arg for condition in conditions for arg in ("--where", condition))) == expected


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        ("nope=1", "no custom field 'nope'"),
        ("region>EMEA", "takes = and != only"),
        ("channel<=x", "takes = and != only"),
        ("seats>=ten", "not a number"),
        ("region=Mars", "not a choice"),
        ("renewal>2026-02-30", "does not exist"),
        ("seats>=", "needs a value"),
        ("region", "is not a condition"),
    ],
)
def test_where_refuses_bad_conditions(fields, condition, fragment):
    assert fragment in fields.fails(2, "list", "--where", condition)


def test_where_on_a_customer_field_keeps_that_customers_deals(fields):
    fields("customer", "add", "--org", "Acme", "--set", "tier=Gold")
    fields("create", "Acme deal", "--org", "Acme")
    assert ids(fields, "--where", "tier=Gold") == [5]
    assert ids(fields, "--where", "tier!=Gold") == [1, 2, 3, 4]


def test_where_on_forecast_pipeline_export_and_a_report(fields):
    forecast = fields.json("forecast", "--where", "region=EMEA")
    assert forecast["total"]["count"] == 2 and forecast["total"]["value"] == 9000
    pipeline = fields.json("pipeline", "--where", "region!=EMEA")
    assert pipeline["total"]["count"] == 2 and pipeline["total"]["value"] == 6000
    exported = list(csv.DictReader(io.StringIO(fields("export", "--where", "seats>=100").stdout)))
    assert [row["title"] for row in exported] == ["Two"]
    assert fields.json("report", "win-rate", "--where", "region=EMEA") == {"won": 1, "lost": 0, "win_rate": 1}
    assert fields.json("report", "win-rate", "--where", "region=APAC")["won"] == 0
    assert fields.json("report", "overdue", "--where", "region=APAC") == []


def test_every_report_takes_where():
    from opp.core.analytics.registry import REPORTS

    assert [report.name for report in REPORTS if report.option("where") is None] == []


def test_where_on_the_reports_of_money_won_and_quotas(fields):
    fields("bill", "add", "4", "--item", "Setup", "--price", "300")
    fields("bill", "invoice", "4")
    fields("user", "add", "sam")
    fields("quota", "set", "dana", "2026Q1", "10000")
    later = {"OPP_NOW": LATER}

    def won_in(report, *args):
        return fields.json("report", report, "--period", "2026Q1", *args, **later)["total"]["won"]

    assert (won_in("accuracy"), won_in("accuracy", "--where", "region=EMEA")) == (8000, 8000)
    assert won_in("accuracy", "--where", "region=APAC") == 0
    assert won_in("attainment", "--where", "region=APAC") == 0
    attained = fields.json("report", "attainment", "--period", "2026Q1", "--where", "region=EMEA", **later)
    assert (attained["total"]["won"], attained["total"]["quota"]) == (8000, 10000)  # quotas stay whole
    assert [r["key"] for r in fields.json("report", "support", "--where", "region=EMEA")] == [4]
    assert fields.json("report", "support", "--where", "region=APAC") == []
    assert [r["revenue"] for r in fields.json("report", "services", "--where", "region=EMEA")] == [300]
    assert fields.json("report", "services", "--where", "region!=EMEA") == []


def test_where_and_by_a_field_on_the_waterfall(fields):
    later = {"OPP_NOW": LATER}
    fields("edit", "1", "--set", "region=APAC", **later)  # counted where it is at the end: APAC
    flow = fields.json("report", "waterfall", "--from", "2026-03-01", "--where", "region=APAC", **later)
    assert (flow["start"]["count"], flow["end"]["count"], flow["end"]["value"]) == (0, 2, 3000)
    moved = fields.json(
        "report", "waterfall", "--from", "2026-03-01", "--detail", "--where", "region=APAC", **later
    )
    assert [m["id"] for m in moved] == [1, 2]
    split = fields.json("report", "waterfall", "--from", "2026-03-01", "--by", "region", **later)
    assert [(g["key"], g["end"]["count"]) for g in split["groups"]] == [("APAC", 2), (None, 1)]
    assert split["by"] == "region"
    # The whole's steps add up every group's (two groups created deals here).
    assert [(s["step"], s["count"], s["value"]) for s in split["steps"] if s["count"]] == [
        ("created", 3, 7000)
    ]
    table = fields("report", "waterfall", "--from", "2026-03-01", "--by", "region", **later).stdout
    assert table.splitlines()[0].split()[0] == "region"
    # As the deals stood on 2026-03-15, deal 1 was in EMEA.
    before = fields.json(
        "report", "waterfall", "--from", "2026-03-01", "--to", "2026-03-15", "--where", "region=EMEA", **later
    )
    assert before["end"]["count"] == 1


def test_where_on_pushes_and_the_review(fields):
    fields("edit", "1", "--close", "2026-04-01")
    fields("edit", "1", "--close", "2026-05-01", OPP_NOW=LATER)
    fields("edit", "2", "--close", "2026-04-01")
    fields("edit", "2", "--close", "2026-06-01", OPP_NOW=LATER)
    pushed = fields.json("report", "pushes", "--where", "region=EMEA", OPP_NOW=LATER)
    assert [p["id"] for p in pushed] == [1]
    review = fields.json("review", "--where", "region=APAC", OPP_NOW=LATER)
    assert review["pipeline"]["total"]["count"] == 1
    assert [p["id"] for p in review["pushes"]] == [2]
    assert review["forecast"]["total"]["count"] == 0  # deal 2 closes in Q2 now
    assert review["won"] == []
    everyone = fields.json("review", "--since", "2026-03-01", OPP_NOW=LATER)
    assert everyone["pipeline"]["total"]["count"] == 3 and [d["id"] for d in everyone["won"]] == [4]
    assert everyone["forecast"]["total"]["count"] == 1
    assert "no custom field 'nope'" in fields.fails(2, "review", "--where", "nope=1")
    fields("task", "add", "1", "Call EMEA", "--due", "2026-03-12")
    fields("task", "add", "2", "Call APAC", "--due", "2026-03-12")
    tasks = fields.json("review", "--where", "region=APAC", OPP_NOW=LATER)["overdue_tasks"]
    assert [task["title"] for task in tasks] == ["Call APAC"]
    assert len(fields.json("review", OPP_NOW=LATER)["overdue_tasks"]) == 2


# -- by -------------------------------------------------------------------------------------------------


def test_forecast_by_a_field_has_a_group_per_value_and_one_for_unset(fields):
    result = fields.json("forecast", "--by", "region")
    assert [(g["key"], g["count"], g["value"]) for g in result["groups"]] == [
        ("EMEA", 2, 9000),
        ("APAC", 1, 2000),
        (None, 1, 4000),
    ]
    assert result["total"]["count"] == 4
    table = fields("forecast", "--by", "region").stdout
    assert table.splitlines()[0].split()[0] == "region" and "(none)" in table


def test_forecast_by_a_field_reads_the_whole_and_the_deals_with_a_value_at_one_instant(fields):
    """The whole and the deals holding a value are read side by side on two connections: a deal
    created between the two reads' beginnings is in both or in neither, so the unset group (the whole
    less the others) never goes wrong."""
    from sqlalchemy import event

    from opp.core.analytics.forecast import forecast
    from opp.core.clock import Clock
    from opp.core.context import open_context
    from tests.conftest import NOW

    ctx = open_context(fields.db, actor="dana", clock=Clock.from_env_value(NOW))
    begun: list[int] = []
    # The forecast's own read, then the pair's: on SQLite the second connection's data version, the
    # first read and the second; on PostgreSQL the first (which exports its snapshot) and the second.
    second_begins = 4 if ctx.store.is_sqlite else 3

    @event.listens_for(ctx.store.engine, "begin")
    def create_one_between(conn) -> None:
        begun.append(1)
        if len(begun) == second_begins:
            fields("create", "Five", "--org", "Initech", "--value", "16000", "--set", "region=AMER")

    try:
        grouped = forecast(ctx, by="region")
    finally:
        ctx.close()
    assert len(begun) >= second_begins
    groups = [(group.key, group.count, group.value) for group in grouped.groups]
    before = [("EMEA", 2, 9000), ("APAC", 1, 2000), (None, 1, 4000)]
    after = [("EMEA", 2, 9000), ("APAC", 1, 2000), ("AMER", 1, 16000), (None, 1, 4000)]
    assert groups == (after if ctx.store.is_sqlite else before)  # SQLite begins both again
    assert grouped.total.count == sum(count for _, count, _ in groups)


def test_forecast_by_a_number_field_orders_by_number(fields):
    fields("edit", "3", "--set", "seats=9")
    keys = [g["key"] for g in fields.json("forecast", "--by", "seats")["groups"]]
    assert keys == ["9", "10", "250", None]


def test_forecast_by_a_customer_field(fields):
    fields("customer", "add", "--org", "Acme", "--set", "tier=Gold")
    fields("create", "Acme deal", "--org", "Acme", "--value", "100")
    groups = fields.json("forecast", "--by", "tier")["groups"]
    assert [(g["key"], g["count"]) for g in groups] == [("Gold", 1), (None, 4)]


def test_a_report_split_by_a_field(fields):
    fields("stage", "lost", "2", "--reason", "price")
    rows = fields.json("report", "win-rate", "--by", "region")
    assert rows == [  # in the order of the choices, as the forecast's groups
        {"key": "EMEA", "won": 1, "lost": 0, "win_rate": 1},
        {"key": "APAC", "won": 0, "lost": 1, "win_rate": 0},
    ]


def test_a_report_split_by_a_field_keeps_the_fields_order(fields):
    fields("edit", "4", "--set", "seats=9")
    fields("stage", "won", "1", "--force")
    fields("stage", "lost", "2", "--reason", "price")
    assert [r["key"] for r in fields.json("report", "win-rate", "--by", "seats")] == ["9", "10", "250"]
    fields("field", "edit", "region", "--choices", "AMER,APAC,EMEA")
    assert [r["key"] for r in fields.json("report", "lost-reasons", "--by", "region")] == ["APAC"]
    assert [r["key"] for r in fields.json("report", "cycle", "--by", "region")] == ["EMEA"]


def test_by_an_unknown_field_is_refused(fields):
    assert "custom field" in fields.fails(2, "forecast", "--by", "nope")
    assert "custom field" in fields.fails(2, "report", "win-rate", "--by", "nope")


# -- export and import ---------------------------------------------------------------------------------


def test_export_writes_a_column_per_deal_field(fields):
    exported = list(csv.DictReader(io.StringIO(fields("export").stdout)))
    assert list(exported[0])[-4:] == ["region", "seats", "renewal", "channel"]
    assert [(r["region"], r["seats"], r["renewal"]) for r in exported] == [
        ("EMEA", "10", ""),
        ("APAC", "250", ""),
        ("", "", "2026-12-31"),
        ("EMEA", "", ""),
    ]


def test_an_export_imports_back_with_its_field_values(fields, tmp_path, databases):
    from tests.conftest import Cli

    exported = fields("export").stdout
    (tmp_path / "deals.csv").write_text(exported)
    other = Cli(databases.new("other"))
    define(other)
    other("import", tmp_path / "deals.csv")
    assert other("export").stdout == exported
    assert other.json("history", "1")[-1]["action"] == "import"


def test_import_updates_field_values_by_external_ref_and_map_feeds_them(opp, tmp_path):
    define(opp)
    (tmp_path / "a.csv").write_text("title,customer,external_ref,Country,Seats\nA,Initech,X-1,emea,5\n")
    maps = ["region=country", "seats=seats", "title=title", "customer=customer", "external_ref=external_ref"]
    opp("import", tmp_path / "a.csv", *(arg for pair in maps for arg in ("--map", pair)))
    assert opp.json("show", "1")["fields"]["region"] == "EMEA"
    (tmp_path / "b.csv").write_text("title,customer,external_ref,region,seats\nA,Initech,X-1,APAC,\n")
    assert "1 updated" in opp("import", tmp_path / "b.csv").stderr
    assert opp.json("show", "1")["fields"] == {
        "region": "APAC",
        "seats": None,
        "renewal": None,
        "channel": None,
    }
    opp("undo")
    assert opp.json("show", "1")["fields"]["region"] == "EMEA"


def test_import_refuses_a_bad_field_value_with_its_line(opp, tmp_path, unchanged):
    define(opp)
    (tmp_path / "bad.csv").write_text("title,customer,region\nA,Initech,EMEA\nB,Initech,Mars\n")
    check = unchanged()
    message = opp.fails(2, "import", tmp_path / "bad.csv")
    assert "line 3" in message and "not a choice" in message
    assert "unknown field 'nope'" in opp.fails(2, "import", tmp_path / "bad.csv", "--map", "nope=region")
    check()


# -- where against a Python oracle ---------------------------------------------------------------------

REGIONS = (None, "EMEA", "APAC")
SEATS = (None, 0, 1, 2, 5)


def _holds(value, operator, given):
    """What a condition means, written out in Python (see opp.core.fields)."""
    if given is None:  # NAME= / NAME!=: unset / set
        return (value is None) if operator == "=" else (value is not None)
    if operator == "=":
        return value == given
    if operator == "!=":
        return value != given  # an unset value is not equal to anything
    if value is None:
        return False
    return {">": value > given, ">=": value >= given, "<": value < given, "<=": value <= given}[operator]


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(st.tuples(st.sampled_from(REGIONS), st.sampled_from(SEATS)), min_size=5, max_size=5),
    conditions=st.lists(
        st.one_of(
            st.tuples(st.just("region"), st.sampled_from(["=", "!="]), st.sampled_from(REGIONS)),
            st.tuples(
                st.just("seats"),
                st.sampled_from(["=", "!=", ">", ">=", "<", "<="]),
                st.sampled_from(SEATS[1:]),
            ),
            st.tuples(st.just("seats"), st.sampled_from(["=", "!="]), st.none()),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_where_means_what_the_oracle_says(where_deals, values, conditions):
    from opp.core import fields as custom
    from opp.core.pipeline.deals import list_deals

    ctx, deal_ids = where_deals
    with ctx.unit_of_work("test") as uow:
        for deal_id, (region, seats) in zip(deal_ids, values, strict=True):
            pairs = [("region", region or ""), ("seats", "" if seats is None else str(seats))]
            custom.write_values(uow.conn, "deal", deal_id, pairs, ctx.clock.today())
    texts = [f"{name}{operator}{'' if given is None else given}" for name, operator, given in conditions]
    found = [deal.id for deal in list_deals(ctx, status="all", where=texts)]
    expected = [
        deal_id
        for deal_id, (region, seats) in zip(deal_ids, values, strict=True)
        if all(
            _holds(region if name == "region" else seats, operator, given)
            for name, operator, given in conditions
        )
    ]
    assert found == expected, texts


@pytest.fixture
def where_deals(opp, ctx):
    opp("field", "add", "region", "--type", "choice", "--choices", "EMEA,APAC")
    opp("field", "add", "seats", "--type", "number")
    for number in range(5):
        opp("create", f"Deal {number}", "--org", "Initech")
    return ctx, [1, 2, 3, 4, 5]


TEXTS = (
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
    .map(str.strip)
    .filter(bool)
)
NUMBERS = st.builds(
    lambda digits, places: Decimal(digits).scaleb(-places),
    st.integers(-(10**12), 10**12),
    st.integers(0, 3),
)


TIERS = ("Gold", "Silver", "Bronze ÅÄÖ")


def add_typed(opp):
    for name, kind in TYPED:
        opp("field", "add", name, "--type", kind)
    opp("field", "add", "tier", "--type", "choice", "--choices", ",".join(TIERS))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    deals=st.lists(
        st.tuples(
            st.sampled_from(REGIONS),
            st.sampled_from(["USD", "EUR"]),
            st.integers(0, 10**9),
            st.integers(0, 100),
            st.sampled_from(["open", "won", "lost"]),
        ),
        min_size=5,
        max_size=5,
    )
)
def test_forecast_by_a_deal_field_adds_up_to_each_value_asked_alone(where_deals, deals):
    """The groups of ``forecast --by region`` (the deals holding a value, and the unset ones as the
    whole less those) are, figure for figure, what ``--where region=X`` (and ``region=``) gives, with
    deals in two currencies converted and open, won and lost ones mixed."""
    from sqlalchemy import update

    from opp.core import fields as custom
    from opp.core.analytics.forecast import forecast
    from opp.core.money.rates import set_rate
    from opp.store import schema

    ctx, deal_ids = where_deals
    set_rate(ctx, "EUR", "USD", "1.0837", on="2020-01-01")
    o = schema.opportunities
    with ctx.unit_of_work("test") as uow:
        for deal_id, (region, code, minor, probability, status) in zip(deal_ids, deals, strict=True):
            custom.write_values(uow.conn, "deal", deal_id, [("region", region or "")], ctx.clock.today())
            uow.conn.execute(
                update(o)
                .where(o.c.id == deal_id)
                .values(currency=code, value_minor=minor, probability=probability, status=status)
            )
    grouped = forecast(ctx, by="region", currency="USD")
    for group in grouped.groups:
        alone = forecast(ctx, by="stage", currency="USD", where=[f"region={group.key or ''}"]).total
        assert (group.count, group.value, group.forecast) == (alone.count, alone.value, alone.forecast)
    unset = forecast(ctx, by="stage", currency="USD", where=["region="]).total
    assert (None in [group.key for group in grouped.groups]) == (unset.count > 0)
    assert grouped.total == forecast(ctx, by="stage", currency="USD").total


@pytest.fixture
def typed_fields(opp):
    add_typed(opp)
    return opp


TYPED = (("note_text", "text"), ("amount", "number"), ("renewal", "date"))


def _exact(outcome):
    return json.loads(outcome.stdout, parse_float=Decimal)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=TEXTS,
    number=NUMBERS,
    day=st.dates(date(1900, 1, 1), date(2199, 12, 31)),
    tier=st.sampled_from(TIERS),
    upper=st.booleans(),
)
def test_a_value_set_reads_back_unchanged_through_show_export_and_import(
    typed_fields, databases, text, number, day, tier, upper
):
    from opp.core.pipeline.codec import custom_text
    from tests.conftest import Cli

    opp = typed_fields
    typed_tier = tier.upper() if upper else tier.lower()  # a choice is typed in any case
    sets = [f"note_text={text}", f"amount={number}", f"renewal={day.isoformat()}", f"tier={typed_tier}"]
    created = opp.json("create", "Deal", "--org", "Initech", *(a for pair in sets for a in ("--set", pair)))
    wanted = {"note_text": text, "amount": number, "renewal": day.isoformat(), "tier": tier}
    assert _exact(opp("show", created["id"], "--format", "json"))["fields"] == wanted
    exported = opp("export", "--raw").stdout
    cells = list(csv.DictReader(io.StringIO(exported)))[-1]
    assert {name: cells[name] for name in wanted} == {  # each cell the value's text, nothing else
        "note_text": text,
        "amount": custom_text("number", number),
        "renewal": day.isoformat(),
        "tier": tier,
    }
    other = Cli(databases.new("roundtrip"))
    add_typed(other)
    other("import", "-", input=opp("export").stdout)  # every deal so far, in id order (guarded CSV)
    assert _exact(other("show", created["id"], "--format", "json"))["fields"] == wanted
    other("import", "-", "--raw", input=exported)  # again, the unguarded text: nothing changes
    assert _exact(other("show", created["id"], "--format", "json"))["fields"] == wanted
    databases.drop(other.db)


# -- completion ----------------------------------------------------------------------------------------


def test_field_names_and_choices_complete(fields):
    from tests.test_completions import bash_complete

    assert bash_complete(fields, "opp create X --set re") == ["region=", "renewal="]
    assert bash_complete(fields, "opp edit 1 --set region=E") == ["region=EMEA"]
    assert bash_complete(fields, "opp customer add --set ") == ["tier="]
    assert bash_complete(fields, "opp list --where region!=A") == ["region\\!=APAC", "region\\!=AMER"]
    assert bash_complete(fields, "opp list --where t") == ["tier="]
    assert bash_complete(fields, "opp forecast --by re") == ["region", "renewal"]
    assert bash_complete(fields, "opp report win-rate --where se") == ["seats="]
    assert bash_complete(fields, "opp report win-rate --by re") == ["region", "renewal"]
    offered = bash_complete(fields, "opp report waterfall --by ")
    assert sorted(offered) == ["assignee", "channel", "region", "renewal", "seats", "stage", "tier"]
    offered = bash_complete(fields, "opp report support --by ")
    assert sorted(offered) == ["channel", "customer", "deal", "region", "renewal", "seats", "tier"]
    assert bash_complete(fields, "opp review --where region=A") == ["region=APAC", "region=AMER"]
    assert bash_complete(fields, "opp customer edit 1 --set tier=") == ["tier=Gold", "tier=Silver"]
    assert bash_complete(fields, "opp field remove c") == ["channel"]


def test_where_on_conversion_and_calibration(fields):
    fields("stage", "qualification", "1")
    rows = fields.json("report", "conversion", "--where", "region=EMEA")
    assert [(row["stage"], row["reached"]) for row in rows][:2] == [("lead", 1), ("qualification", 1)]
    assert fields.json("report", "conversion", "--where", "region=AMER")[0]["reached"] == 0
    bands = fields.json("report", "calibration", "--where", "region=APAC")
    assert sum(band["count"] for band in bands) == 0
