"""The work around a deal: tasks, support tickets and the time logged on them; history events name the
task or ticket they concern.

Indexes serve the questions asked every day: someone's agenda and ``task list --mine`` (tasks by
assignee, status and due date), every open task by due date (``agenda --all``), a deal's open tasks
(``next_task``, ``list --without-task``), and a deal's or a customer's tickets (``timeline``).

Revision ID: 0008
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("history", sa.Column("task_id", sa.Integer()))
    op.add_column("history", sa.Column("ticket_id", sa.Integer()))
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("due", sa.Date()),
        sa.Column("assignee", sa.String(64)),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime()),
        sa.ForeignKeyConstraint(
            ["opportunity_id"], ["opportunities.id"], name="fk_tasks_opportunity_id_opportunities"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
    )
    op.create_index("ix_tasks_opportunity_id_status_due", "tasks", ["opportunity_id", "status", "due"])
    op.create_index("ix_tasks_assignee_status_due", "tasks", ["assignee", "status", "due"])
    op.create_index("ix_tasks_status_due", "tasks", ["status", "due"])
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer()),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("assignee", sa.String(64)),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("solved_at", sa.DateTime()),
        sa.Column("command_id", sa.Integer()),
        sa.Column("status_command_id", sa.Integer()),
        sa.ForeignKeyConstraint(
            ["opportunity_id"], ["opportunities.id"], name="fk_tickets_opportunity_id_opportunities"
        ),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_tickets_customer_id_customers"),
        sa.ForeignKeyConstraint(["command_id"], ["commands.id"], name="fk_tickets_command_id_commands"),
        sa.ForeignKeyConstraint(
            ["status_command_id"], ["commands.id"], name="fk_tickets_status_command_id_commands"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
    )
    op.create_index("ix_tickets_opportunity_id", "tickets", ["opportunity_id"])
    op.create_index("ix_tickets_customer_id", "tickets", ["customer_id"])
    op.create_index("ix_tickets_status", "tickets", ["status"])
    op.create_table(
        "ticket_time",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("hundredths", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("command_id", sa.Integer()),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_time_ticket_id_tickets"),
        sa.ForeignKeyConstraint(["command_id"], ["commands.id"], name="fk_ticket_time_command_id_commands"),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_time"),
    )
    op.create_index("ix_ticket_time_ticket_id", "ticket_time", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("ticket_time")
    op.drop_table("tickets")
    op.drop_table("tasks")
    with op.batch_alter_table("history") as batch:
        batch.drop_column("ticket_id")
        batch.drop_column("task_id")
