"""prompt search index: an FTS5 trigram table over assets.prompt_text (SQLite)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 23:00:00

Gallery search is "every word appears in the prompt" (case-insensitive substring). A plain
ILIKE scans every asset when few match (~170 ms at 50,000 assets); a trigram index answers the
same substring question from the index. Triggers keep it in step with ``assets`` on every
write path (the repositories, bulk inserts, deletes). PostgreSQL keeps the ILIKE for now.
"""
from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

TRIGGERS = {
    "assets_fts_insert": "AFTER INSERT ON assets BEGIN "
                         "INSERT INTO assets_fts(rowid, prompt_text) VALUES (new.rowid, new.prompt_text); END",
    "assets_fts_delete": "AFTER DELETE ON assets BEGIN "
                         "INSERT INTO assets_fts(assets_fts, rowid, prompt_text) "
                         "VALUES ('delete', old.rowid, old.prompt_text); END",
    "assets_fts_update": "AFTER UPDATE OF prompt_text ON assets BEGIN "
                         "INSERT INTO assets_fts(assets_fts, rowid, prompt_text) "
                         "VALUES ('delete', old.rowid, old.prompt_text); "
                         "INSERT INTO assets_fts(rowid, prompt_text) VALUES (new.rowid, new.prompt_text); END",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE VIRTUAL TABLE assets_fts USING fts5(prompt_text, content='assets', content_rowid='rowid', "
               "tokenize='trigram')")
    for name, body in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")
    op.execute("INSERT INTO assets_fts(assets_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS assets_fts")
