"""gallery at scale: keyset indexes per filter, trigram search on PostgreSQL, thumbnails on assets

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-29 16:00:00

Every gallery query orders by (created_at DESC, id DESC) and pages by that pair. A composite
index ``(<filter>, created_at, id)`` per equality filter lets the database walk the index from
the cursor and stop after one page, so a query costs the same at 50,000 and at 1,000,000 assets;
the single-column indexes those composites start with are dropped (the planner picked them and
then sorted every match). On PostgreSQL a ``pg_trgm`` GIN index answers the gallery's
case-insensitive substring search (the same semantics as SQLite's FTS5 trigram table of 0003).
``thumb_sha256`` names an asset's small derived thumbnail blob.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

KEYSET = {
    "ix_assets_keyset": ["created_at", "id"],
    "ix_assets_project_keyset": ["project_id", "created_at", "id"],
    "ix_assets_project_stage_keyset": ["project_id", "stage", "created_at", "id"],
    "ix_assets_stage_keyset": ["stage", "created_at", "id"],
    "ix_assets_review_keyset": ["review", "created_at", "id"],
    "ix_assets_engine_keyset": ["engine_id", "created_at", "id"],
}
SUPERSEDED = {
    "ix_assets_created": ["created_at"],
    "ix_assets_project_created": ["project_id", "created_at"],
    "ix_assets_stage": ["stage"],
    "ix_assets_review": ["review"],
    "ix_assets_engine_id": ["engine_id"],
}


def _has_trgm(bind) -> bool:
    found = bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first()
    return found is not None


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("assets") as batch_op:
        batch_op.add_column(sa.Column("thumb_sha256", sa.String(64), nullable=True))
    for name, cols in KEYSET.items():
        op.create_index(name, "assets", cols)
    for name in SUPERSEDED:
        op.drop_index(name, table_name="assets")
    if bind.dialect.name == "postgresql" and _has_trgm(bind):
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_assets_prompt_trgm ON assets USING gin (prompt_text gin_trgm_ops)")
    if bind.dialect.name == "sqlite":
        op.execute("ANALYZE")  # fresh statistics for the planner's choice between the indexes
    elif bind.dialect.name == "postgresql":
        op.execute("ANALYZE assets")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_assets_prompt_trgm")
    for name, cols in SUPERSEDED.items():
        op.create_index(name, "assets", cols)
    for name in KEYSET:
        op.drop_index(name, table_name="assets")
    with op.batch_alter_table("assets") as batch_op:
        batch_op.drop_column("thumb_sha256")
