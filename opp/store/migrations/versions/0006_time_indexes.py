"""Indexes for the questions asked in time: what changed after an instant, and which deals have not
moved for a while.

- History's index on ``at`` also holds the field and the deal, so time travel reads the events after an
  instant from the index alone (``--as-of``, ``report accuracy``) instead of looking each one up. It
  replaces the index on ``at`` alone, whose every use it serves. On PostgreSQL it carries the event id
  as well, for an index-only scan; SQLite keeps the row id in every index.
- Open deals by last stage change, a partial index (``WHERE status = 'open'``): ``report stuck`` reads
  the open deals longest stuck first straight from it, so ``--limit 20`` reads twenty deals instead of
  sorting all of them. Partial, so that no other query over deals by status is tempted by it: SQLite
  without statistics took an index on (status, stage_changed_at) for the forecast's ``status IN
  ('open', 'won')`` and left the one on expected close (``forecast --period`` 0.3 s → 0.46 s at 100k).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

OPEN = "status = 'open'"

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_history_at_field_opportunity_id",
        "history",
        ["at", "field", "opportunity_id"],
        postgresql_include=["id"],
    )
    op.drop_index("ix_history_at", table_name="history")
    op.create_index(
        "ix_opportunities_open_stage_changed_at",
        "opportunities",
        ["stage_changed_at"],
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_opportunities_open_stage_changed_at", table_name="opportunities")
    op.create_index("ix_history_at", "history", ["at"])
    op.drop_index("ix_history_at_field_opportunity_id", table_name="history")
