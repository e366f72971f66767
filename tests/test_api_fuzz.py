"""Property-based requests generated from the API's own OpenAPI schema (schemathesis): whatever
the schema allows, the server never answers with a 5xx."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason='the browser extra is not installed '
                                   '(pip install -e ".[browser]")')
pytest.importorskip("fastapi", reason='the serve extra is not installed '
                    '(pip install -e ".[serve]")')

from hypothesis import HealthCheck, given, settings  # noqa: E402

from .test_serve import app_and_translator  # noqa: E402, F401  (fixture)

pytestmark = pytest.mark.slow  # subprocesses and trainings: see pyproject's markers


def test_no_request_the_schema_allows_gets_a_server_error(app_and_translator):  # noqa: F811
    schema = schemathesis.openapi.from_asgi("/openapi.json", app_and_translator[0])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {"POST /translate",
                                                                        "GET /health"}
    seen = []
    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call()
            seen.append(response.status_code)
            assert response.status_code < 500, (case.method, case.path, case.body,
                                                response.text)

        check()
    assert 200 in seen and any(400 <= s < 500 for s in seen)  # both kinds were generated
