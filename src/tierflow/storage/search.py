"""Prompt search: narrowing the gallery with the SQLite trigram index (migration 0003) before the ILIKE.

The ILIKE conditions in the gallery stay the definition of a match; this only adds an indexed
pre-filter that selects a superset (the trigram index is case-insensitive substring matching),
so results are identical with or without it. Words under 3 characters cannot use trigrams.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, text
from sqlalchemy.orm import Session

MIN_TRIGRAM = 3
# With this many matches or more, a word is common: scanning newest-first with the ILIKE finds a
# page after a few hundred rows, which beats fetching and sorting every match from the index.
DENSE_MATCHES = 1000


def has_prompt_index(session: Session) -> bool:
    """Whether this database has the trigram table (SQLite after migration 0003)."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    found = session.execute(text("SELECT 1 FROM sqlite_master WHERE type='table' AND name='assets_fts'")).first()
    return found is not None


def prompt_prefilter(session: Session, search: str | None) -> ColumnElement[bool] | None:
    """``assets.rowid IN (trigram matches of every word)``, or None when the index would not help."""
    words = [w for w in (search or "").split() if len(w) >= MIN_TRIGRAM]
    if not words or not has_prompt_index(session):
        return None
    query = " AND ".join('"' + w.replace('"', '""') + '"' for w in words)
    matches = session.execute(
        text("SELECT count(*) FROM (SELECT rowid FROM assets_fts WHERE assets_fts MATCH :q LIMIT :n)"),
        {"q": query, "n": DENSE_MATCHES}).scalar_one()
    if matches >= DENSE_MATCHES:
        return None
    return text("assets.rowid IN (SELECT rowid FROM assets_fts WHERE assets_fts MATCH :prompt_match)").bindparams(
        prompt_match=query)
