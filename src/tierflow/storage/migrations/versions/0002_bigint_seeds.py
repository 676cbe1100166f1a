"""seeds and blob sizes are 64-bit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Seeds run to 2**32 - 1, past a 32-bit INTEGER. SQLite integers are already 64-bit, and
    # rebuilding `assets` there (batch mode) would fight the foreign keys that point at it.
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column('assets', 'seed', type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=True)
    op.alter_column('assets', 'size_bytes', type_=sa.BigInteger(), existing_type=sa.Integer(),
                    existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column('assets', 'size_bytes', type_=sa.Integer(), existing_type=sa.BigInteger(),
                    existing_nullable=False)
    op.alter_column('assets', 'seed', type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=True)
