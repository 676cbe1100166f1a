"""Pure-Python domain: no torch, no SQLAlchemy, no FastAPI."""
