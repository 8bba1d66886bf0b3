"""Property-based requests from the OpenAPI document (schemathesis), on SQLite and PostgreSQL, with and without an
API key: no answer is a 5xx, and every answer conforms to the document (its status code declared, its content
type and body as documented).

Drives schemathesis' per-operation Hypothesis strategies directly (its pytest plugin does not support this
pytest version), a bounded, derandomised number of valid and of invalid examples per operation. The service runs
over its own small index and database, with no job runner: the index jobs the key lets it queue stay queued, and
the queue's bound (429) is reached.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.settings import ServiceSettings
from tests.service.conftest import API_KEY, index_into

POSITIVE_EXAMPLES = 20
NEGATIVE_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def schema_service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                   indexed: ServiceSettings, catalogue_dir: Path) -> Iterator[ServiceSettings]:
    """A service over its own index of two generated songs, on SQLite or PostgreSQL, that runs no index jobs."""
    root = tmp_path_factory.mktemp(f"schema-{request.param}")
    for i in range(2):
        shutil.copytree(catalogue_dir / "songs" / f"song{i}", root / "catalogue" / "songs" / f"song{i}")
    databases: Iterator[str] | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'catalogue.sqlite'}"
    else:
        from tests.indexer.conftest import _postgres_db

        databases = _postgres_db()
        url = next(databases)
    service = indexed.model_copy(update={
        "db_url": url, "index_dir": root / "index", "cache_dir": root / "cache", "catalogue_dir": root / "catalogue",
        "run_index_jobs": False, "catalogue_poll_seconds": 0.0, "max_queued_jobs": 3})
    index_into(service, root / "catalogue" / "songs")
    yield service
    if databases is not None:
        next(databases, None)  # drops the database


def _has_inputs(operation: Any) -> bool:
    return any(len(params) for params in (operation.path_parameters, operation.query, operation.headers,
                                          operation.cookies)) or bool(operation.body)


def _failures(operation: Any, headers: dict[str, str], mode: schemathesis.GenerationMode, examples: int,
              statuses: set[int]) -> list[str]:
    """Runs `examples` cases of `operation` in `mode`, adding the status codes seen to `statuses`; the failed
    checks, one line each."""
    found: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        statuses.add(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            found.extend(f"{case.method} {case.formatted_path} ({mode.value}) -> {response.status_code}: "
                         f"{failure.title} {failure.message[:300]} {response.text[:200]}"
                         for failure in group.exceptions)

    check()
    return found


@pytest.mark.slow
@pytest.mark.parametrize("key", [None, API_KEY], ids=["no-key", "key"])
def test_every_answer_to_requests_from_the_schema_conforms_to_it(schema_service: ServiceSettings,
                                                                key: str | None) -> None:
    app = create_app(schema_service)
    headers = {"X-API-Key": key} if key else {}
    failures: list[str] = []
    seen: dict[str, set[int]] = {}
    with TestClient(app):  # runs the lifespan: model and index loaded
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        for operation in operations:
            statuses = seen.setdefault(f"{operation.method.upper()} {operation.path}", set())
            failures += _failures(operation, headers, schemathesis.GenerationMode.POSITIVE, POSITIVE_EXAMPLES,
                                  statuses)
            if _has_inputs(operation):  # an operation without inputs has no invalid request
                failures += _failures(operation, headers, schemathesis.GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES,
                                      statuses)
        health = TestClient(app).get("/healthz")
    assert not failures, f"{len(failures)} failed checks:\n" + "\n".join(dict.fromkeys(failures))
    assert health.status_code == 200
    # the key is what decides whether jobs are queued (until the queue is full)
    job_answers = seen["POST /index-jobs"] | seen["GET /index-jobs/{job_id}"]
    if key:
        assert 202 in job_answers and 429 in job_answers, seen
    else:
        assert 401 in job_answers and not job_answers & {200, 202, 429}, seen
    assert 200 in seen["GET /stems"] and 200 in seen["GET /songs"], seen
