"""One router per REST resource, all under /api/v1."""
