"""One clock for rows: timezone-aware UTC."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; tierflow stores UTC, so attach it."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
