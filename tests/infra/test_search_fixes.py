"""The search function's grants and settings: read-only on the index (and the key), and the same
bearer-JWT trust as the API function, so every /v1 route accepts the same callers."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.infra.test_search import _actions, _function, _policy_of

INDEX_WRITES = {"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:DeleteObjectVersion"}


def _actions_of(template: Template, service: str) -> set[str]:
    logical, _ = _function(template, service)
    return {action for statement in _policy_of(template, logical) for action in _actions(statement)}


@pytest.mark.parametrize("environment", ["template", "prod"])
def test_the_search_function_only_reads_the_index(environment: str, request: pytest.FixtureRequest) -> None:
    template: Template = request.getfixturevalue(environment)
    search = _actions_of(template, "search")
    assert {a for a in search if a.startswith("s3:")} == {"s3:GetObject", "s3:ListBucket"}
    assert not {a for a in search if a.startswith("kms:")} - {"kms:Decrypt", "kms:DescribeKey"}
    # The writers keep what creating, compacting and cleaning up the index takes.
    for writer in ("indexer", "searchmaintenance"):
        assert INDEX_WRITES - {"s3:DeleteObjectVersion"} <= _actions_of(template, writer)


def test_prod_search_function_may_decrypt_the_index_but_not_encrypt(prod: Template) -> None:
    search = _actions_of(prod, "search")
    assert "kms:Decrypt" in search
    assert not {"kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncrypt*"} & search


def _jwt_env(fn: dict[str, Any]) -> dict[str, Any]:
    variables = fn["Properties"]["Environment"]["Variables"]
    return {name: value for name, value in variables.items() if name.startswith("JWT_")}


@pytest.mark.parametrize("environment", ["template", "prod"])
def test_the_search_function_trusts_the_api_functions_jwt_issuer(
    environment: str, request: pytest.FixtureRequest
) -> None:
    template: Template = request.getfixturevalue(environment)
    _, api = _function(template, "api")
    _, search = _function(template, "search")
    assert {"JWT_ISSUER", "JWT_AUDIENCE", "JWT_TENANT_CLAIM"} <= set(_jwt_env(api))
    assert _jwt_env(search) == _jwt_env(api)
