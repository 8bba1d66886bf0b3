"""Property-based requests from the OpenAPI document (schemathesis): no operation answers 5xx.

Drives schemathesis' per-operation Hypothesis strategies directly (its pytest plugin does not support this
pytest version), a bounded, derandomised number of examples per operation.
"""

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from service.app import create_app
from service.settings import ServiceSettings

EXAMPLES = 12


@pytest.mark.slow
def test_no_request_from_the_schema_gets_a_5xx(indexed: ServiceSettings) -> None:
    app = create_app(indexed)
    failures: list[str] = []
    with TestClient(app):  # runs the lifespan: model and index loaded
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case: Any) -> None:
                response = case.call()
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path}: {response.status_code} "
                                    f"{response.text[:200]}")

            check()
        health = TestClient(app).get("/healthz")
    assert not failures, "\n".join(failures[:10])
    assert health.status_code == 200
