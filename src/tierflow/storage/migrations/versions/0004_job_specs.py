"""job specs: every generation row carries the typed spec it was submitted with, and its queue

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 16:00:00

``spec`` (JSON) is the stage spec (:mod:`tierflow.domain.specs`) of the job the row belongs to;
``after_id`` is the step a chained row waits for (an upscale's creative pass waits for the upscale);
``queue`` says who renders a queued row: ``durable`` (any `tierflow worker`) or ``inprocess``
(the studio process named by ``lease_owner``); NULL for a render run in place. Durable jobs queued
before this revision kept their options in ``params["job"]`` (``{"stage": "draft" | "final",
...}``); they are moved into ``spec`` here (``final`` becomes the ``promote`` operation), so a
queued job of an upgraded database keeps working.
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

OPS = {"draft": "draft", "final": "promote"}


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("spec", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("queue", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("after_id", sa.String(length=40), nullable=True))
        batch.create_index("ix_generations_queue", ["queue"])
    bind = op.get_bind()
    generations = sa.table("generations", sa.column("id", sa.String), sa.column("params", sa.JSON),
                           sa.column("spec", sa.JSON), sa.column("queue", sa.String))
    rows = bind.execute(sa.select(generations.c.id, generations.c.params)).all()
    for gen_id, params in rows:
        if isinstance(params, str):
            params = json.loads(params)
        job = (params or {}).get("job")
        if not isinstance(job, dict) or job.get("stage") not in OPS:
            continue
        spec = {k: v for k, v in job.items() if k != "stage" and v is not None}
        spec["op"] = OPS[job["stage"]]
        bind.execute(sa.update(generations).where(generations.c.id == gen_id).values(spec=spec, queue="durable"))


def downgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.drop_index("ix_generations_queue")
        batch.drop_column("after_id")
        batch.drop_column("queue")
        batch.drop_column("spec")
