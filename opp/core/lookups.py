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


QUERIES: dict[str, Callable[[str], Select[Any]]] = {
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
