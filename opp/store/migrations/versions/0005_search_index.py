"""A text index for --search: FTS5 trigram tables kept by triggers (SQLite), pg_trgm indexes (PostgreSQL).

Filled from the deals and customers already there. On PostgreSQL without the right to create the
pg_trgm extension the revision still applies, and search stays a scan (see opp.store.search).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from opp.store import search

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    search.install(op.get_bind())


def downgrade() -> None:
    search.uninstall(op.get_bind())
