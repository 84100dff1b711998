"""The history codec (``opp.core.pipeline.codec``): every deal field written into an event comes back
unchanged, read in Python (as ``opp undo`` reads it) and in SQL on a real database (as ``--as-of``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, literal, select

from opp.core.context import Context
from opp.core.money.amounts import MAX_MINOR
from opp.core.money.currencies import MINOR_UNITS
from opp.core.pipeline import codec, customers, deals
from opp.store import schema
from opp.store.dialect import json_text_field

h = schema.history
us = schema.users

TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=40
)
HANDLES = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)
INSTANTS = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)).map(
    lambda instant: instant.replace(microsecond=0)
)
#: A value of every field of a deal's history, as its opportunities column holds it (assignee: a handle).
DEAL_FIELDS = st.fixed_dictionaries(
    {
        "title": TEXT,
        "description": st.none() | TEXT,
        "external_ref": st.none() | TEXT,
        "customer_id": st.integers(1, 2**31 - 1),
        "currency": st.sampled_from(sorted(MINOR_UNITS)),
        "value": st.integers(0, MAX_MINOR),
        "probability": st.integers(0, 100),
        "stage": st.sampled_from(
            ["lead", "qualification", "proposal", "negotiation", "closed-won", "closed-lost"]
        ),
        "status": st.sampled_from(["open", "won", "lost"]),
        "expected_close": st.none() | st.dates(),
        "assignee": st.none() | HANDLES,
        "closed_at": st.none() | INSTANTS,
        "lost_reason": st.none() | TEXT,
    }
)
EXAMPLES = settings(max_examples=60, deadline=None)


def _a_deal(ctx: Context) -> int:
    customers.add_customer(ctx, "organization", "Initech")
    return deals.create_deal(ctx, "Deal", org="Initech").id


def _ensure_users(conn: Any, handles: list[str | None], at: datetime) -> None:
    for handle in handles:
        if handle is not None and conn.execute(select(us.c.id).where(us.c.handle == handle)).first() is None:
            conn.execute(insert(us).values(handle=handle, created_at=at))


def test_every_field_has_a_column_of_the_opportunities_table():
    columns = set(schema.opportunities.c.keys())
    assert {field.column for field in codec.FIELDS.values()} <= columns


def test_a_value_is_written_with_exactly_its_currencys_decimals():
    assert codec.field_text("value", 123450, "USD") == "1234.50"
    assert codec.field_text("value", 1234, "JPY") == "1234"
    assert codec.field_text("value", 5, "KWD") == "0.005"
    assert codec.field_text("value", 0, "USD") == "0.00"


def test_instants_are_written_in_utc_whole_seconds_and_dates_zero_padded():
    from datetime import UTC, date, timedelta, timezone

    east = timezone(timedelta(hours=2))
    assert codec.field_text("closed_at", datetime(2026, 3, 10, 10, 30, tzinfo=east)) == "2026-03-10T08:30:00Z"
    assert codec.field_text("closed_at", datetime(2026, 3, 10, 8, 30)) == "2026-03-10T08:30:00Z"
    assert codec.field_text("closed_at", datetime(2026, 3, 10, 8, 30, tzinfo=UTC)) == "2026-03-10T08:30:00Z"
    assert codec.field_text("expected_close", date(33, 1, 2)) == "0033-01-02"


def test_every_field_comes_back_unchanged_in_python_and_in_sql(ctx: Context) -> None:
    deal_id = _a_deal(ctx)

    @given(values=DEAL_FIELDS)
    @EXAMPLES
    def round_trip(values: dict[str, Any]) -> None:
        currency = values["currency"]
        texts = {name: codec.field_text(name, value, currency) for name, value in values.items()}
        with ctx.unit_of_work("codec") as uow:
            conn = uow.conn
            _ensure_users(conn, [values["assignee"]], uow.at)
            expected = {**values, "assignee": codec.column_value(conn, "assignee", values["assignee"])}
            events = {
                name: uow.record(deal_id, "updated", field=name, new=text) for name, text in texts.items()
            }
            for name, text in texts.items():
                assert codec.column_value(conn, name, text, currency) == expected[name], name
                in_sql = codec.column_sql(conn.dialect.name, name, h.c.new)
                found = conn.execute(select(in_sql).where(h.c.id == events[name])).scalar_one()
                assert found == expected[name], name
            assert codec.assignee_text(conn, expected["assignee"]) == values["assignee"]

    round_trip()


def test_the_created_snapshot_comes_back_unchanged_in_sql(ctx: Context) -> None:
    deal_id = _a_deal(ctx)

    @given(values=DEAL_FIELDS)
    @EXAMPLES
    def round_trip(values: dict[str, Any]) -> None:
        row = {codec.column_of(name): value for name, value in values.items() if name != "assignee"}
        with ctx.unit_of_work("codec") as uow:
            conn = uow.conn
            _ensure_users(conn, [values["assignee"]], uow.at)
            event = uow.record(deal_id, "created", new=codec.snapshot_text(row, assignee=values["assignee"]))
            for name in codec.FIELDS:
                if name == "description":
                    continue  # not in the snapshot (as-of reads it from the first edit)
                if name == "category":
                    # Not in the snapshot: a new deal follows its stage; the absent key reads as null.
                    text = json_text_field(conn.dialect.name, h.c.new, name)
                    assert conn.execute(select(text).where(h.c.id == event)).scalar_one() is None
                    continue
                text = json_text_field(conn.dialect.name, h.c.new, name)
                in_sql = codec.column_sql(conn.dialect.name, name, text)
                value = conn.execute(select(in_sql).where(h.c.id == event)).scalar_one()
                if name == "assignee":
                    value = codec.assignee_text(conn, value)
                assert value == values[name], name

    round_trip()


def test_the_created_snapshot_written_in_sql_is_the_one_written_in_python(ctx: Context) -> None:
    """A bulk write makes its ``created`` events in the database (codec.snapshot_sql): the same object,
    field for field, as the Python writer's, for any deal and whatever other currencies are at hand."""
    o = schema.opportunities

    @given(values=DEAL_FIELDS, others=st.sets(st.sampled_from(sorted(MINOR_UNITS)), max_size=4))
    @EXAMPLES
    def same(values: dict[str, Any], others: set[str]) -> None:
        row = {codec.column_of(name): value for name, value in values.items() if name != "assignee"}
        with ctx.unit_of_work("codec") as uow:
            conn = uow.conn
            _ensure_users(conn, [values["assignee"]], uow.at)
            stored = {**row, "assignee_id": codec.column_value(conn, "assignee", values["assignee"])}
            deal = select(*(literal(value, o.c[key].type).label(key) for key, value in stored.items()))
            written = codec.snapshot_sql(conn.dialect.name, deal.subquery(), {values["currency"], *others})
            text = conn.execute(select(written)).scalar_one()
        expected = json.loads(codec.snapshot_text(row, assignee=values["assignee"]))
        assert json.loads(text) == expected
        assert list(json.loads(text)) == list(codec.SNAPSHOT_FIELDS) == list(expected)

    same()
