"""Property-based requests generated from the served OpenAPI document (schemathesis).

For every operation, hypothesis draws valid requests and invalid ones (bodies, query strings,
path ids that break the schema) from the document; each is sent over HTTP to the local server
and the deployed API function. Every answer must be documented: no 5xx, a status code the
operation declares, the declared content type and headers, and a body matching the declared
schema (problem JSON for errors).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from schemathesis.core.result import Ok
from schemathesis.specs.openapi import checks as openapi_checks

from tests.integration.conftest import Api

pytestmark = pytest.mark.slow

CHECKS = [
    st_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]
EXAMPLES_PER_OPERATION = 20
#: The job endpoints these properties cover (the later endpoints have their own tests).
PROPERTY_TESTED = {
    ("POST", "/v1/transcriptions"),
    ("GET", "/v1/transcriptions"),
    ("GET", "/v1/transcriptions/{job_id}"),
    ("GET", "/v1/transcriptions/{job_id}/segments"),
    ("GET", "/v1/transcriptions/{job_id}/download"),
    ("DELETE", "/v1/transcriptions/{job_id}"),
    ("POST", "/v1/transcriptions/{job_id}/retry"),
}


@pytest.fixture(scope="module")
def operations(api: Api) -> list[Any]:
    document = api.http.request("GET", "/v1/openapi.json").json()
    found = []
    for result in schemathesis.openapi.from_dict(document).get_all_operations():
        assert isinstance(result, Ok), result  # the document itself is valid
        operation = result.ok()
        if (operation.method.upper(), operation.path) in PROPERTY_TESTED:
            found.append(operation)
    assert len(found) == 7  # create, list, get, segments, download, delete, retry
    return found


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_generated_request_gets_a_documented_answer(
    api: Api, operations: list[Any], mode: GenerationMode
) -> None:
    tenant = api.tenant(f"fuzz-{mode.value}")
    headers = {"Authorization": f"Bearer {tenant.key}"}
    sent: dict[str, int] = {}
    for operation in operations:
        label = operation.label

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def answers_as_documented(case: Any) -> None:
            case.call_and_validate(base_url=api.server.base_url, headers=headers, checks=CHECKS)
            sent[label] = sent.get(label, 0) + 1  # noqa: B023 - called before the loop moves on

        answers_as_documented()
    assert len(sent) == 7 and all(count >= 1 for count in sent.values()), sent
