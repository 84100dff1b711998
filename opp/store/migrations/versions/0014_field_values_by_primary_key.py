"""A custom field's value found through the primary key alone.

Migration 0009 gave ``field_values`` an index on ``record_id`` beside its primary key (field_id,
record_id). Every statement opp runs on the table names the field as well as the record, so the
primary key answers each of them; but when both matched, SQLite took the index on record_id, which on
a WITHOUT ROWID table holds the key and not the value: each deal of ``forecast --by region`` cost two
look-ups instead of one (2.8 s against 2.0 s for the grouping statement at a million deals, 750,000 of
them holding a region). Without that index, the join is one search of the primary key per deal, the
page of a listing reads its fields by (field_id, record_id), and a write keeps one index fewer.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_field_values_record_id", table_name="field_values")


def downgrade() -> None:
    op.create_index("ix_field_values_record_id", "field_values", ["record_id"])
