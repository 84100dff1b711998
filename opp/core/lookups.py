"""Short lists of names to offer while a user types: stage keys, handles, customer names (all, or
organizations or individuals only), service codes.

Shell completion asks for these on every TAB, so they read an existing database as it is: no creating,
no migrating, a short lock timeout, and at most ``limit`` names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, String, cast, func, select

from opp.store import schema
from opp.store.engine import Store, resolve_url


def _stages(prefix: str) -> Select[Any]:
    s = schema.stages
    return (
        select(s.c.key, s.c.name)
        .where(s.c.key.startswith(prefix.lower(), autoescape=True))
        .order_by(s.c.position)
    )


def _users(prefix: str) -> Select[Any]:
    u = schema.users
    return (
        select(u.c.handle, u.c.name)
        .where(u.c.handle.startswith(prefix.lower(), autoescape=True))
        .order_by(u.c.handle)
    )


def _customers(prefix: str, kind: str | None = None) -> Select[Any]:
    c = schema.customers
    query = select(c.c.name, c.c.kind).where(func.lower(c.c.name).startswith(prefix.lower(), autoescape=True))
    if kind is not None:
        query = query.where(c.c.kind == kind)
    return query.order_by(c.c.name)


def _organizations(prefix: str) -> Select[Any]:
    return _customers(prefix, "organization")


def _individuals(prefix: str) -> Select[Any]:
    return _customers(prefix, "individual")


def _services(prefix: str) -> Select[Any]:
    sv = schema.services
    return (
        select(sv.c.code, sv.c.name)
        .where(sv.c.retired_at.is_(None), func.lower(sv.c.code).startswith(prefix.lower(), autoescape=True))
        .order_by(sv.c.code)
    )


def _tasks(prefix: str) -> Select[Any]:
    """Open tasks whose id starts with what is typed, newest first, with their titles."""
    t = schema.tasks
    return (
        select(t.c.id, t.c.title)
        .where(t.c.status == "open", cast(t.c.id, String).startswith(prefix, autoescape=True))
        .order_by(t.c.id.desc())
    )


def _tickets(prefix: str) -> Select[Any]:
    """Tickets not closed whose id starts with what is typed, newest first, with their titles."""
    tk = schema.tickets
    return (
        select(tk.c.id, tk.c.title)
        .where(tk.c.status != "closed", cast(tk.c.id, String).startswith(prefix, autoescape=True))
        .order_by(tk.c.id.desc())
    )


def _fields(prefix: str, record: str | None = None) -> Select[Any]:
    f = schema.custom_fields
    query = select(f.c.name, f.c.type).where(f.c.name.startswith(prefix.lower(), autoescape=True))
    if record is not None:
        query = query.where(f.c.record == record)
    return query.order_by(f.c.name)


def _deal_fields(prefix: str) -> Select[Any]:
    return _fields(prefix, "deal")


def _customer_fields(prefix: str) -> Select[Any]:
    return _fields(prefix, "customer")


QUERIES: dict[str, Callable[[str], Select[Any]]] = {
    "field": _fields,
    "deal_field": _deal_fields,
    "customer_field": _customer_fields,
    "stage": _stages,
    "user": _users,
    "customer": _customers,
    "organization": _organizations,
    "individual": _individuals,
    "service": _services,
    "task": _tasks,
    "ticket": _tickets,
}


def names(db: str, kind: str, prefix: str, *, limit: int = 200) -> list[tuple[str, str]]:
    """``(name, description)`` pairs of ``kind`` starting with ``prefix``, from the database at ``db``."""
    store = Store(resolve_url(db), lock_timeout=1.0)
    try:
        with store.read() as conn:
            rows = conn.execute(QUERIES[kind](prefix).limit(limit)).all()
    finally:
        store.close()
    return [(str(name), str(description or "")) for name, description in rows]


def field_choices(db: str, name: str) -> list[str]:
    """The choices of the custom field ``name`` (none for a field of another type, or no such field)."""
    import json

    f = schema.custom_fields
    store = Store(resolve_url(db), lock_timeout=1.0)
    try:
        with store.read() as conn:
            found = conn.execute(select(f.c.choices).where(f.c.name == name.lower())).scalar()
    finally:
        store.close()
    return [str(choice) for choice in json.loads(found)] if found else []
