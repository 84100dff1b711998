"""Per-invocation settings (``--db``, ``--as``, environment) and the lazily opened core context."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opp.core.context import Context


@dataclass
class _Settings:
    db: str | None = None
    actor: str | None = None


_settings = _Settings()
_context: Context | None = None


def configure(*, db: str | None, actor: str | None) -> None:
    global _settings
    close()
    _settings = _Settings(db=db or None, actor=actor or None)


def default_db_path() -> str:
    from platformdirs import user_data_dir

    return os.path.join(user_data_dir("opp", appauthor=False), "opp.db")


def _make_default_folder(path: str) -> None:
    """The default location is opp's own: its folder is made (owner-only) on first use. A --db or
    OPP_DB in a folder that does not exist is refused instead (a typo must not scatter databases)."""
    with contextlib.suppress(OSError):  # opening it then says why it cannot be created
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)


def default_actor() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def database() -> str:
    """The database this command works on: --db, OPP_DB, or the default file."""
    return _settings.db or default_db_path()


def lock_timeout() -> float:
    from opp.core.context import parse_lock_timeout

    return parse_lock_timeout(os.environ.get("OPP_LOCK_TIMEOUT"))


def context() -> Context:
    """The core context for this command: the database opened (and migrated) on first use."""
    global _context
    if _context is None:
        from opp.core.clock import Clock
        from opp.core.context import open_context

        db = database()
        if not _settings.db:
            _make_default_folder(db)
        _context = open_context(
            db,
            actor=(_settings.actor or default_actor()).strip(),
            clock=Clock.from_env_value(os.environ.get("OPP_NOW")),
            lock_timeout=lock_timeout(),
        )
    return _context


def saved() -> list[str]:
    """What this command has saved so far ("deal 12"), for an error that comes after the commit."""
    return list(_context.saved) if _context is not None else []


def close() -> None:
    global _context
    if _context is not None:
        _context.close()
        _context = None
