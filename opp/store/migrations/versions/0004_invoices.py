"""Invoices and their gapless number series; billable lines keep removed lines and conversions.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("billables", sa.Column("removed_at", sa.DateTime()))
    op.add_column("billables", sa.Column("source_currency", sa.String(3)))
    op.add_column("billables", sa.Column("source_price_minor", sa.BigInteger()))
    op.add_column("billables", sa.Column("rate_pair", sa.String(7)))
    op.create_index("ix_billables_invoice_number", "billables", ["invoice_number"])
    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("customer_kind", sa.String(16), nullable=False),
        sa.Column("customer_name", sa.String(300), nullable=False),
        sa.Column("customer_email", sa.String(320)),
        sa.Column("customer_phone", sa.String(64)),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("subtotal_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("issuer", sa.Text()),
        sa.ForeignKeyConstraint(
            ["opportunity_id"], ["opportunities.id"], name="fk_invoices_opportunity_id_opportunities"
        ),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_invoices_customer_id_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_invoices"),
        sa.UniqueConstraint("number", name="uq_invoices_number"),
    )
    op.create_index("ix_invoices_opportunity_id", "invoices", ["opportunity_id"])
    op.create_index("ix_invoices_issue_date", "invoices", ["issue_date"])
    op.create_table(
        "invoice_counters",
        sa.Column("series", sa.String(16), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", name="pk_invoice_counters"),
    )


def downgrade() -> None:
    op.drop_table("invoice_counters")
    op.drop_index("ix_invoices_issue_date", "invoices")
    op.drop_index("ix_invoices_opportunity_id", "invoices")
    op.drop_table("invoices")
    op.drop_index("ix_billables_invoice_number", "billables")
    with op.batch_alter_table("billables") as batch:
        for column in ("rate_pair", "source_price_minor", "source_currency", "removed_at"):
            batch.drop_column(column)
