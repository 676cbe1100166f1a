"""The application layer: use cases every door calls (see app/service.py)."""
