"""The span of published builds that hold each stem (published_build, retired_build), so the service lists
exactly the stems of the build it serves, whatever an index job (a rebuild above all) is doing to the rows.

Rows indexed before this revision were published by some earlier build: they start at build 0 (held by
every build until one retires them); the next publish and the reconcile step of every index job correct
the rest.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stems") as batch:
        batch.add_column(sa.Column("published_build", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("retired_build", sa.Integer(), nullable=True))
    op.execute(sa.text("UPDATE stems SET published_build = 0 WHERE status = 'indexed'"))


def downgrade() -> None:
    with op.batch_alter_table("stems") as batch:
        batch.drop_column("retired_build")
        batch.drop_column("published_build")
