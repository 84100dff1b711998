"""Users: the sales team members who are assigned deals and act on them."""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, insert, select, update

from opp.core.context import Context
from opp.core.errors import Conflict, NotFound
from opp.core.records import User
from opp.core.refs import clean_email, clean_text, handle_key, parse_handle
from opp.store import schema


def _user(row: RowMapping) -> User:
    return User(handle=row["handle"], name=row["name"], email=row["email"])


def add_user(ctx: Context, handle: str, *, name: str | None = None, email: str | None = None) -> User:
    handle = parse_handle(handle)
    name = clean_text(name, what="name", max_length=200)
    email = clean_email(email)
    with ctx.unit_of_work("user add") as uow:
        if user_id(uow.conn, handle, required=False) is not None:
            raise Conflict(f"user {handle!r} already exists")
        uow.conn.execute(
            insert(schema.users).values(handle=handle, name=name, email=email, created_at=uow.at)
        )
    return User(handle=handle, name=name, email=email)


def edit_user(ctx: Context, handle: str, *, name: str | None = None, email: str | None = None) -> User:
    """Change a user's name or email (``""`` clears one); the handle stays, as history names it."""
    changes: dict[str, str | None] = {}
    if name is not None:
        changes["name"] = clean_text(name, what="name", max_length=200)
    if email is not None:
        changes["email"] = clean_email(email)
    with ctx.unit_of_work("user edit") as uow:
        found = user_id(uow.conn, handle)
        users = schema.users
        if changes:
            uow.conn.execute(update(users).where(users.c.id == found).values(**changes))
        return _user(uow.conn.execute(select(users).where(users.c.id == found)).mappings().one())


def list_users(ctx: Context) -> list[User]:
    with ctx.reading() as conn:
        rows = conn.execute(select(schema.users).order_by(schema.users.c.handle)).mappings()
        return [_user(row) for row in rows]


def user_id(conn: Connection, handle: str, *, required: bool = True) -> int | None:
    """The id of the user with this handle (in any case); NotFound (or None when not required) if none."""
    found = conn.execute(
        select(schema.users.c.id).where(schema.users.c.handle == handle_key(handle))
    ).scalar()
    if found is None and required:
        raise _no_such_user(handle)
    return found


def _no_such_user(handle: str) -> NotFound:
    return NotFound(f"no user {handle!r}", hint="add the user first", reason="no-user")
