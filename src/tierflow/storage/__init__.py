"""Persistence: SQLAlchemy tables and repositories, Alembic migrations, and the blob store."""
