"""A rep's deals in a stage, in id order: ``opp list --assignee HANDLE --stage STAGE``.

The deals of one assignee were found through (assignee_id, status), and those in the stage asked were
then picked out and sorted by id for the page: at a million deals the busiest rep's 32,000 deals were
read and sorted for a page of 50 proposals (54 ms, growing with the rep's deals). Under
(assignee_id, stage) the rep's deals of a stage follow each other in id order: the page is the first
entries whose deal is not deleted (0.1 ms at every size). The index on (assignee_id, status) stays:
the aggregates of one rep's open deals read it.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_opportunities_assignee_id_stage", "opportunities", ["assignee_id", "stage"])


def downgrade() -> None:
    op.drop_index("ix_opportunities_assignee_id_stage", table_name="opportunities")
