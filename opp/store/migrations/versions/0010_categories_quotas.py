"""Forecast categories and quotas.

- Stages gain ``category``: the forecast category of the deals in the stage (``pipeline``, ``best-case``,
  ``commit``; closed-won ``closed`` and closed-lost ``omitted``, fixed). The default stages get the
  contract's defaults (lead and qualification pipeline, proposal best-case, negotiation commit); any
  other open stage starts as pipeline.
- Opportunities gain ``category``: a category set by hand (``opp category``), null while the deal
  follows its stage.
- ``quotas``: one target per user and period (a month ``2026-11``, a quarter ``2026Q4`` or a year
  ``2026``), in minor units of its currency.

Revision ID: 0010
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

DEFAULTS = {
    "proposal": "best-case",
    "negotiation": "commit",
    "closed-won": "closed",
    "closed-lost": "omitted",
}


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy): other tables refer to stages and opportunities, and SQLite
    # adds a NOT NULL column with a default, and drops a plain column, in place.
    op.add_column("stages", sa.Column("category", sa.String(16), nullable=False, server_default="pipeline"))
    stages = sa.table("stages", sa.column("key", sa.String), sa.column("category", sa.String))
    for key, category in DEFAULTS.items():
        op.execute(stages.update().where(stages.c.key == key).values(category=category))
    op.add_column("opportunities", sa.Column("category", sa.String(16)))
    op.create_table(
        "quotas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_quotas_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_quotas"),
        sa.UniqueConstraint("user_id", "period", name="uq_quotas_user_id_period"),
    )
    op.create_index("ix_quotas_period", "quotas", ["period"])


def downgrade() -> None:
    op.drop_index("ix_quotas_period", table_name="quotas")
    op.drop_table("quotas")
    op.drop_column("opportunities", "category")
    op.drop_column("stages", "category")
