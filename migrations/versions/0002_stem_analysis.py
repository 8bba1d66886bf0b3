"""Musical analysis of every stem: tempo, key, beat grid and loudness columns, and the analysis version.

Rows indexed by the previous release keep their vectors; their analysis columns start empty
(analysis_version NULL), and the next index run analyses them without re-embedding.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("bpm", sa.Float()),
    ("bpm_confidence", sa.Float()),
    ("key", sa.String(length=16)),
    ("key_mode", sa.String(length=8)),
    ("camelot", sa.String(length=4)),
    ("key_confidence", sa.Float()),
    ("loudness_dbfs", sa.Float()),
    ("beat_period", sa.Float()),
    ("beats_per_bar", sa.Integer()),
    ("downbeat_seconds", sa.Float()),
    ("analysis_version", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("stems") as batch:
        for name, kind in _COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_index("ix_stems_bpm", "stems", ["bpm"])
    op.create_index("ix_stems_key", "stems", ["key"])
    op.create_index("ix_stems_camelot", "stems", ["camelot"])


def downgrade() -> None:
    op.drop_index("ix_stems_camelot", table_name="stems")
    op.drop_index("ix_stems_key", table_name="stems")
    op.drop_index("ix_stems_bpm", table_name="stems")
    with op.batch_alter_table("stems") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
