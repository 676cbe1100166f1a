"""The REST API under /api/v1 (FastAPI); build it with :func:`tierflow.delivery.api.app.create_app`."""
