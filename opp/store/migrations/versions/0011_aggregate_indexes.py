"""Covering indexes for the aggregates: the forecast, the pipeline and the reports read every figure
they add up from an index alone, never from the table (docs/performance.md, "Covering indexes for the
aggregates", has the plans and the figures).

Each holds the columns a figure needs (currency, value, probability, and the close dates that date a
deal for its conversion rate) and the ones it is grouped by (stage, assignee, category) after the
columns it is searched by:

- ``ix_opportunities_status_stage`` widened from (status, stage) to (status, stage, expected_close,
  closed_at, …): the deals of some statuses, by stage (``forecast``, ``pipeline``, the board's
  figures, ``report win-rate``).
- ``ix_opportunities_status_expected_close`` (status, expected_close, closed_at, stage, …): open deals
  expected to close in a period (``--period``, ``--from``/``--to``, ``report attainment``).
- ``ix_opportunities_closed_at_status`` (closed_at, status, expected_close, stage, …): deals closed in
  a period, the other half of a period filter over closed deals, and the reports dated by
  ``closed_at``.

where … is (currency, value_minor, probability, assignee_id, category).

The same columns on SQLite and PostgreSQL. They make writes to a deal a little dearer (three indexes
of nine columns instead of one of two), which the aggregates repay at every read.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# After the columns each index is searched by: the figures' columns, and what they are grouped by
# (``--by assignee``, ``report attainment`` per user, ``--by category``).
AGGREGATED = ["currency", "value_minor", "probability", "assignee_id", "category"]


def upgrade() -> None:
    op.drop_index("ix_opportunities_status_stage", table_name="opportunities")
    op.create_index(
        "ix_opportunities_status_stage",
        "opportunities",
        ["status", "stage", "expected_close", "closed_at", *AGGREGATED],
    )
    op.create_index(
        "ix_opportunities_status_expected_close",
        "opportunities",
        ["status", "expected_close", "closed_at", "stage", *AGGREGATED],
    )
    op.create_index(
        "ix_opportunities_closed_at_status",
        "opportunities",
        ["closed_at", "status", "expected_close", "stage", *AGGREGATED],
    )


def downgrade() -> None:
    op.drop_index("ix_opportunities_closed_at_status", table_name="opportunities")
    op.drop_index("ix_opportunities_status_expected_close", table_name="opportunities")
    op.drop_index("ix_opportunities_status_stage", table_name="opportunities")
    op.create_index("ix_opportunities_status_stage", "opportunities", ["status", "stage"])
