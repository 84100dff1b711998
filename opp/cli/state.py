"""Per-invocation settings (``--db``, ``--as``, environment) and the lazily opened core context."""

from __future__ import annotations

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

        _context = open_context(
            database(),
            actor=(_settings.actor or default_actor()).strip(),
            clock=Clock.from_env_value(os.environ.get("OPP_NOW")),
            lock_timeout=lock_timeout(),
        )
    return _context


def close() -> None:
    global _context
    if _context is not None:
        _context.close()
        _context = None
