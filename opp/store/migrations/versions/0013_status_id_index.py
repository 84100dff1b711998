"""The deals of a status in id order: a page of open deals.

``opp list`` and ``opp browse`` show the open deals by id, a page at a time, and so do their filters
that no index answers (``--without-task``, ``--where`` on a custom field): the page's ids are chosen
over the deals alone (opp.core.pipeline.deals), ``status = 'open' ORDER BY id LIMIT n``. The covering
indexes of migration 0011 lead with the status too, but in close-date or stage order, so SQLite read
every open deal's entry and sorted them to find the first page (55 ms at 100k deals for
``--without-task --limit 50``, growing with the data). This index holds them in id order: the page
is the first entries that pass the filter (0.2 ms).

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_opportunities_status_id", "opportunities", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_opportunities_status_id", table_name="opportunities")
