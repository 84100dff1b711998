"""The single source of "now" for opp, so tests and demos can pin time with OPP_NOW.

Nothing else in opp should call ``datetime.now``: asking a ``Clock`` keeps every timestamp and
every relative date (``today``, ``+14d``, ``this-quarter``) reproducible when the clock is fixed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from opp.core.errors import Invalid

__all__ = ["Clock"]


class Clock:
    """Current time in UTC, either the real clock or a fixed instant."""

    __slots__ = ("_fixed",)

    def __init__(self, fixed: datetime | None = None) -> None:
        """Pin the clock to ``fixed`` (naive taken as UTC), or follow real time when None."""
        if fixed is not None:
            utc = fixed.replace(tzinfo=UTC) if fixed.tzinfo is None else fixed.astimezone(UTC)
            fixed = utc.replace(microsecond=0)
        self._fixed = fixed

    @classmethod
    def from_env_value(cls, text: str | None) -> Clock:
        """Build the clock from an OPP_NOW value; unset or blank means the real clock."""
        if text is None or not text.strip():
            return cls()
        from opp.core.dates import parse_instant

        try:
            return cls(parse_instant(text))
        except Invalid:
            raise Invalid(
                f"invalid OPP_NOW value {text!r}",
                hint=(
                    "set OPP_NOW to an ISO-8601 instant such as 2026-03-10T08:30:00Z, "
                    "a date such as 2026-03-10, or leave it unset for the real clock"
                ),
            ) from None

    @property
    def fixed(self) -> datetime | None:
        """The pinned instant, or None when following real time."""
        return self._fixed

    def now(self) -> datetime:
        """Aware UTC now, to the second, so stored timestamps round-trip through text exactly."""
        if self._fixed is not None:
            return self._fixed
        return datetime.now(UTC).replace(microsecond=0)

    def today(self) -> date:
        """The UTC calendar day of ``now()``, the base for relative dates."""
        return self.now().date()

    def __repr__(self) -> str:
        """Show whether the clock is pinned, for debugging."""
        if self._fixed is None:
            return "Clock()"
        return f"Clock({self._fixed.isoformat()!r})"

    def __eq__(self, other: object) -> bool:
        """Two clocks are equal when pinned to the same instant (or both real)."""
        if not isinstance(other, Clock):
            return NotImplemented
        return self._fixed == other._fixed

    def __hash__(self) -> int:
        """Hash consistently with ``__eq__``."""
        return hash(self._fixed)
