"""Index jobs as the one job queue: a job row carries what to run (rebuild) and what it published (the build's
stem count), so any runner can claim it and any API replica can report it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("index_jobs") as batch:
        batch.add_column(sa.Column("rebuild", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("indexed_total", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("index_jobs") as batch:
        batch.drop_column("indexed_total")
        batch.drop_column("rebuild")
