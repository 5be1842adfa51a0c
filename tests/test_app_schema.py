"""Property-based test of the playground API from its own OpenAPI schema (schemathesis): for
schema-valid and schema-invalid requests alike, never a 5xx, every 422 names its field(s), and
every answer matches the schema it documents (status codes, content types, bodies; the 422 and
503 bodies included). Schemathesis' "schema-valid data is accepted" check is left out: the
combined limits (seeds x ensemble, work, validation points, x_train with y_train) are not
expressible in JSON Schema, and refusing them with a 422 is the intended answer.

Schemathesis derives the requests from /openapi.json: boundary values of every field, then
random valid ("positive") and invalid ("negative") bodies. Real trainings run, kept small by the
app factory's work limit (networks x iterations x n_train x parameters <= 1e6, against 1e10 in
service), a bounded number of examples per operation, and a fixed (derandomized) example
sequence so the runtime does not vary from run to run.
"""
from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import positive_data_acceptance  # noqa: E402

from overfitlab.app.server import create_app  # noqa: E402

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(max_work=1e6))
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_error_and_422s_name_fields(case):
    response = case.call()
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code == 422:
        detail = response.json()["detail"]
        assert detail and all(e["fields"] and e["msg"] for e in detail), detail
