"""The first schema: settings, users, customers, stages, commands, opportunities, history.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handle", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("email", sa.String(320)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("handle", name="uq_users_handle"),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("phone", sa.String(64)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
    )
    op.create_index("ix_customers_name", "customers", ["name"])
    stages = op.create_table(
        "stages",
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_stages"),
    )
    op.create_table(
        "commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("undone_by", sa.Integer()),
        sa.ForeignKeyConstraint(["undone_by"], ["commands.id"], name="fk_commands_undone_by_commands"),
        sa.PrimaryKeyConstraint("id", name="pk_commands"),
    )
    op.create_table(
        "opportunities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(40), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("expected_close", sa.Date()),
        sa.Column("external_ref", sa.String(200)),
        sa.Column("assignee_id", sa.Integer()),
        sa.Column("lost_reason", sa.Text()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime()),
        sa.Column("stage_changed_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], name="fk_opportunities_assignee_id_users"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_opportunities_customer_id_customers"
        ),
        sa.ForeignKeyConstraint(["stage"], ["stages.key"], name="fk_opportunities_stage_stages"),
        sa.PrimaryKeyConstraint("id", name="pk_opportunities"),
        sa.UniqueConstraint("external_ref", name="uq_opportunities_external_ref"),
    )
    op.create_index("ix_opportunities_status_stage", "opportunities", ["status", "stage"])
    op.create_index("ix_opportunities_assignee_id_status", "opportunities", ["assignee_id", "status"])
    op.create_index("ix_opportunities_customer_id", "opportunities", ["customer_id"])
    op.create_index("ix_opportunities_expected_close", "opportunities", ["expected_close"])
    op.create_table(
        "history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("command_id", sa.Integer()),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("field", sa.String(32)),
        sa.Column("old", sa.Text()),
        sa.Column("new", sa.Text()),
        sa.Column("note", sa.Text()),
        sa.ForeignKeyConstraint(["command_id"], ["commands.id"], name="fk_history_command_id_commands"),
        sa.ForeignKeyConstraint(
            ["opportunity_id"], ["opportunities.id"], name="fk_history_opportunity_id_opportunities"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_history"),
    )
    op.create_index("ix_history_opportunity_id_id", "history", ["opportunity_id", "id"])
    op.create_index("ix_history_at", "history", ["at"])
    op.create_index("ix_history_command_id", "history", ["command_id"])
    op.bulk_insert(
        stages,
        [
            {"key": "lead", "name": "Lead", "probability": 15, "position": 1, "kind": "open"},
            {
                "key": "qualification",
                "name": "Qualification",
                "probability": 30,
                "position": 2,
                "kind": "open",
            },
            {"key": "proposal", "name": "Proposal", "probability": 50, "position": 3, "kind": "open"},
            {"key": "negotiation", "name": "Negotiation", "probability": 75, "position": 4, "kind": "open"},
            {"key": "closed-won", "name": "Closed-Won", "probability": 100, "position": 1000, "kind": "won"},
            {"key": "closed-lost", "name": "Closed-Lost", "probability": 0, "position": 1001, "kind": "lost"},
        ],
    )


def downgrade() -> None:
    for table in ("history", "opportunities", "commands", "stages", "customers", "users", "settings"):
        op.drop_table(table)
