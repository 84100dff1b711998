"""Team-wide settings kept in the database itself, so that everyone sharing it agrees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from opp.core.billing.numbering import check_issuer, check_pattern, check_term
from opp.core.context import Context
from opp.core.errors import Invalid
from opp.core.money.amounts import normalize_currency
from opp.core.records import Setting
from opp.store import schema

t = schema.settings


@dataclass(frozen=True)
class SettingSpec:
    key: str
    description: str
    default: str | None
    normalize: Callable[[str], str]


def parse_hourly_cost(text: str) -> str:
    """A cost per hour: a number not below zero, with at most four decimals."""
    from decimal import Decimal, InvalidOperation

    try:
        cost = Decimal(text.strip().replace("_", ""))
    except InvalidOperation:
        cost = Decimal(-1)
    if not cost.is_finite() or cost < 0 or cost.as_tuple().exponent < -4:  # type: ignore[operator]
        raise Invalid(f"invalid hourly cost {text!r}", hint="a number such as 60 or 72.50")
    return str(cost)


SPECS: dict[str, SettingSpec] = {
    spec.key: spec
    for spec in (
        SettingSpec("currency", "currency of new deals when none is given", "USD", normalize_currency),
        SettingSpec(
            "reporting_currency",
            "currency that forecasts and reports convert to (unset: the deals' own currency)",
            None,
            normalize_currency,
        ),
        SettingSpec(
            "invoice_pattern",
            "invoice numbers: {year}, {month} and {seq} (once; restarts each year when {year} is in it)",
            "INV-{year}-{seq:04d}",
            check_pattern,
        ),
        SettingSpec(
            "invoice_due",
            "payment term of new invoices when none is given: +30d, +2w, +1m",
            "+30d",
            check_term,
        ),
        SettingSpec(
            "support_hourly_cost",
            "cost of an hour of support in the reporting currency (the support report)",
            None,
            parse_hourly_cost,
        ),
        SettingSpec(
            "invoice_issuer",
            "who issues invoices (name, address, tax id), printed at the top of each invoice",
            None,
            check_issuer,
        ),
    )
}


def _spec(key: str) -> SettingSpec:
    spec = SPECS.get(key.strip().lower())
    if spec is None:
        raise Invalid(f"unknown setting {key!r}", hint="settings are " + ", ".join(SPECS))
    return spec


def _stored(conn: Connection, key: str) -> str | None:
    return conn.execute(select(t.c.value).where(t.c.key == key)).scalar()


def value_of(conn: Connection, key: str) -> str | None:
    """The setting's value, or its default when it was never set."""
    spec = _spec(key)
    stored = _stored(conn, spec.key)
    return stored if stored is not None else spec.default


def default_currency(conn: Connection) -> str:
    return value_of(conn, "currency") or "USD"


def _setting(conn: Connection, spec: SettingSpec) -> Setting:
    return Setting(
        key=spec.key, value=value_of(conn, spec.key), default=spec.default, description=spec.description
    )


def list_settings(ctx: Context) -> list[Setting]:
    with ctx.reading() as conn:
        return [_setting(conn, spec) for spec in SPECS.values()]


def get_setting(ctx: Context, key: str) -> Setting:
    spec = _spec(key)
    with ctx.reading() as conn:
        return _setting(conn, spec)


def set_setting(ctx: Context, key: str, value: str) -> Setting:
    """Set a setting; an empty value returns it to its default."""
    spec = _spec(key)
    with ctx.unit_of_work("config set") as uow:
        conn = uow.conn
        if not value.strip():
            conn.execute(delete(t).where(t.c.key == spec.key))
        else:
            clean = spec.normalize(value)
            if _stored(conn, spec.key) is None:
                conn.execute(insert(t).values(key=spec.key, value=clean))
            else:
                conn.execute(update(t).where(t.c.key == spec.key).values(value=clean))
        return _setting(conn, spec)
