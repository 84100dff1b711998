"""History by field, then instant (then action and deal): the events of one field since a day.

``report pushes`` reads the changes of ``expected_close`` (all of them, or those since a day for ``opp
review``), and the waterfall reads the deals changed since its first day and the close dates moved
since then (opp.core.analytics.waterfall). The index on (at, field, opportunity_id) serves questions
about every field after an instant; this one reads one field, or a few, from the index alone, however
many other events lie in the same span (at a million deals, tasks, notes and tickets are most of
history). The action is there for the events without a field, so that the deals created since an
instant (their ``created`` events) are read from the index too. On PostgreSQL it carries the event id
as well, for an index-only scan; SQLite keeps the row id in every index.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_history_field_at_action_opportunity_id",
        "history",
        ["field", "at", "action", "opportunity_id"],
        postgresql_include=["id"],
    )


def downgrade() -> None:
    op.drop_index("ix_history_field_at_action_opportunity_id", table_name="history")
