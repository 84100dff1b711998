"""Long listings: the fast paths a listing of many deals takes print what the plain path printed.

A table beyond its first :data:`~opp.cli.render.TABLE_CHUNK` rows reads each record's cells from its
attributes, and a deal's record is built from its row by position without the dataclass ``__init__``:
the output is byte for byte that of the records made dicts first, in every format.
"""

from __future__ import annotations

import dataclasses
import io
import sys

import pytest

from opp.cli import render
from opp.cli.deals import DEAL_COLUMNS
from opp.cli.render import Column, Format, emit
from opp.core import records
from opp.core.pipeline import customers, deals
from opp.core.values import plain
from opp.core.work import tasks


def printed(items, fmt, columns=None):
    out, sys.stdout = sys.stdout, io.StringIO()
    try:
        emit(items, fmt, columns=columns)
        return sys.stdout.getvalue()
    finally:
        sys.stdout = out


@pytest.fixture
def many(ctx):
    customers.add_customer(ctx, "organization", "Initech")
    customers.add_customer(ctx, "individual", "Ann \x1b[31mRed")
    for n in range(12):
        deals.create_deal(
            ctx,
            f"Deal {n}" + (" with a title far longer than forty characters, cut" if n % 3 == 0 else ""),
            org="Initech" if n % 2 else None,
            person=None if n % 2 else "Ann \x1b[31mRed",
            value=(f"{n * 12345}" if n == 5 else f"{n * 12345}.5") if n % 4 else None,
            currency="JPY" if n == 5 else "EUR",
            close="2026-12-31" if n % 5 else None,
        )
    for deal_id in (2, 3, 7):
        tasks.add_task(ctx, deal_id, f"Call back {deal_id}", due="2026-08-01" if deal_id != 3 else None)
    return ctx


@pytest.mark.parametrize("chunk", [1, 3, 5, 2000])
@pytest.mark.parametrize("width", [None, 60, 200])
def test_a_long_table_is_what_the_dicts_print(many, monkeypatch, chunk, width):
    monkeypatch.setattr(render, "TABLE_CHUNK", chunk)
    monkeypatch.setattr(render, "terminal_width", lambda: width)
    listed = list(deals.stream_deals(many))
    assert len(listed) == 12
    columns = [*DEAL_COLUMNS, Column("region", "fields.region"), Column("next", "next_task")]
    fast = printed(iter(listed), Format.table, columns)
    slow = printed(iter([plain(deal) for deal in listed]), Format.table, columns)
    assert fast == slow
    assert "\x1b" not in fast and "\\x1b[" in fast  # the customer's control shown escaped


# (CSV of records has the record class's header, of dicts the first row's: not comparable so.)
@pytest.mark.parametrize("fmt", [Format.json, Format.jsonl, Format.ids])
def test_the_machine_formats_are_what_the_dicts_print(many, fmt):
    listed = list(deals.stream_deals(many))
    assert printed(iter(listed), fmt) == printed(iter([plain(deal) for deal in listed]), fmt)


def test_a_record_built_directly_is_the_record_init_makes(many):
    deal = next(iter(deals.stream_deals(many)))
    again = records.Opportunity(**{f.name: getattr(deal, f.name) for f in dataclasses.fields(deal)})
    assert deal == again
    assert deal.as_dict() == again.as_dict()
    assert list(deal.as_dict()) == list(again.as_dict()) == [f.name for f in dataclasses.fields(deal)]
    assert list(vars(deal)) == list(vars(again))
    for kind in (records.Opportunity, records.CustomerRef, records.NextTask):
        assert not hasattr(kind, "__post_init__")  # built() would skip it
