"""People at organizations, the contacts of a deal, and the history of customers themselves.

- ``customers`` gains ``employer_id`` (an organization the individual works for) and ``job_title``.
  Added with ALTER TABLE on both databases: rebuilding ``customers`` on SQLite (batch mode) would
  drop it while deals refer to it, with foreign keys enforced.
- ``deal_contacts``: the people on a deal, each once, with a role.
- ``customer_history``: ``customer edit`` and ``customer merge`` events, for ``opp undo``.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with an inline REFERENCES clause (its value null) without a rebuild.
        op.execute("ALTER TABLE customers ADD COLUMN employer_id INTEGER REFERENCES customers (id)")
    else:
        op.add_column("customers", sa.Column("employer_id", sa.Integer()))
        op.create_foreign_key(
            "fk_customers_employer_id_customers", "customers", "customers", ["employer_id"], ["id"]
        )
    op.add_column("customers", sa.Column("job_title", sa.String(200)))
    op.create_index("ix_customers_employer_id", "customers", ["employer_id"])
    op.create_table(
        "deal_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(200)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["opportunity_id"], ["opportunities.id"], name="fk_deal_contacts_opportunity_id_opportunities"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_deal_contacts_customer_id_customers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deal_contacts"),
        sa.UniqueConstraint(
            "opportunity_id", "customer_id", name="uq_deal_contacts_opportunity_id_customer_id"
        ),
    )
    op.create_index("ix_deal_contacts_customer_id", "deal_contacts", ["customer_id"])
    op.create_table(
        "customer_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("command_id", sa.Integer()),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("field", sa.String(32)),
        sa.Column("old", sa.Text()),
        sa.Column("new", sa.Text()),
        sa.Column("note", sa.Text()),
        sa.ForeignKeyConstraint(
            ["command_id"], ["commands.id"], name="fk_customer_history_command_id_commands"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_customer_history"),
    )
    op.create_index("ix_customer_history_customer_id_id", "customer_history", ["customer_id", "id"])
    op.create_index("ix_customer_history_command_id", "customer_history", ["command_id"])


def downgrade() -> None:
    op.drop_table("customer_history")
    op.drop_table("deal_contacts")
    op.drop_index("ix_customers_employer_id", "customers")
    if op.get_bind().dialect.name == "sqlite":
        # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), again without rebuilding the table deals refer to.
        op.execute("ALTER TABLE customers DROP COLUMN job_title")
        op.execute("ALTER TABLE customers DROP COLUMN employer_id")
    else:
        op.drop_constraint("fk_customers_employer_id_customers", "customers", type_="foreignkey")
        op.drop_column("customers", "job_title")
        op.drop_column("customers", "employer_id")
