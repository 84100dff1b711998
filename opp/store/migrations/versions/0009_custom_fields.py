"""Custom fields: a team's own typed fields on deals and customers.

The decision, and why:

- Definitions live in ``custom_fields`` (name, record kind ``deal`` or ``customer``, type ``text``,
  ``number``, ``date`` or ``choice``, the choices as a JSON array). Names are unique across both kinds.
- Values live in one narrow table, ``field_values`` (field id, record id, value), one row per record and
  field that holds a value; an unset value has no row. Not a column per field (a schema change per
  ``opp field add``, impossible to index well on both databases without DDL at run time), and not a
  JSON document per record (filters and groups would need JSON functions that differ between SQLite and
  PostgreSQL and cannot use a plain index).
- A value is kept as exact text (``text_value``: what history writes, so undo and ``--as-of`` read the
  same text), and, for numbers and dates, again in a type SQL compares and orders (``number_value`` a
  double, ``date_value`` a date). Indexes on (field_id, text_value), (field_id, number_value) and
  (field_id, date_value) let ``--where region=EMEA`` or ``--where amount>=5000`` read only the matching
  rows, and ``--by region`` group through a join on the primary key (field_id, record_id). An index on
  record_id fetches the fields of a page of listed deals. On SQLite the table is WITHOUT ROWID, so a
  record's value is read from the primary key's tree in one look-up.
- History's ``field`` grows from 32 to 40 characters, a custom field's longest name, because a change of
  a custom field is an ``updated`` event named after it. SQLite does not enforce a VARCHAR length, so
  the column is widened on PostgreSQL only (rebuilding SQLite's largest table for nothing is avoided).

Revision ID: 0009
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custom_fields",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("record", sa.String(16), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("choices", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_custom_fields"),
        sa.UniqueConstraint("name", name="uq_custom_fields_name"),
    )
    op.create_table(
        "field_values",
        sa.Column("field_id", sa.Integer, nullable=False),
        sa.Column("record_id", sa.Integer, nullable=False),
        sa.Column("text_value", sa.String(500), nullable=False),
        sa.Column("number_value", sa.Float(53)),
        sa.Column("date_value", sa.Date),
        sa.PrimaryKeyConstraint("field_id", "record_id", name="pk_field_values"),
        sa.ForeignKeyConstraint(
            ["field_id"], ["custom_fields.id"], name="fk_field_values_field_id_custom_fields"
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_field_values_field_id_text_value", "field_values", ["field_id", "text_value"])
    op.create_index("ix_field_values_field_id_number_value", "field_values", ["field_id", "number_value"])
    op.create_index("ix_field_values_field_id_date_value", "field_values", ["field_id", "date_value"])
    op.create_index("ix_field_values_record_id", "field_values", ["record_id"])
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("history", "field", type_=sa.String(40), existing_type=sa.String(32))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("history", "field", type_=sa.String(32), existing_type=sa.String(40))
    op.drop_table("field_values")
    op.drop_table("custom_fields")
