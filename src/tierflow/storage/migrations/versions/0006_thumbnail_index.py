"""thumbnail index: ``assets.thumb_sha256`` is looked up whenever a blob may be deleted

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 21:00:00

Before a blob is deleted (a failed write undone, a draft preview replaced by its full decode on
keep) the store asks whether any asset still names it as its file or its thumbnail. Without an
index on ``thumb_sha256`` that question scanned the whole table: ~2 s per lookup at a million
assets, twice for every kept draft.
"""
from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_assets_thumb_sha256", "assets", ["thumb_sha256"])


def downgrade() -> None:
    op.drop_index("ix_assets_thumb_sha256", table_name="assets")
