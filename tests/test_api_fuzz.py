"""Property-based requests generated from the API's own OpenAPI schema (schemathesis): whatever
the schema allows, the server never answers with a 5xx."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason='the browser extra is not installed '
                                   '(pip install -e ".[browser]")')
pytest.importorskip("fastapi", reason='the serve extra is not installed '
                    '(pip install -e ".[serve]")')

from hypothesis import HealthCheck, settings  # noqa: E402

from .test_serve import app_and_translator  # noqa: E402, F401  (fixture)


@pytest.fixture
def api_schema(app_and_translator):  # noqa: F811
    return schemathesis.openapi.from_asgi("/openapi.json", app_and_translator[0])


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_the_schema_allows_gets_a_server_error(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, case.body, response.text)
