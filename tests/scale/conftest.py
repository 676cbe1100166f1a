from tests.durable.conftest import project, services  # noqa: F401 - the same wiring as the workers
