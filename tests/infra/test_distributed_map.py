"""The Distributed Map's permissions and limits: it starts its own Express children, reads the
chunk manifests and nothing else of the bucket, and its concurrency is set per environment."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.config import EnvironmentConfig
from tests.infra.test_stack import ENVIRONMENTS, _actions, _statements


def _flat(value: Any) -> str:
    """An IAM resource as text, with CloudFormation references by logical id."""
    if isinstance(value, dict):
        if "Fn::Join" in value:
            return "".join(_flat(part) for part in value["Fn::Join"][1])
        if "Ref" in value:
            return "{" + value["Ref"] + "}"
        if "Fn::GetAtt" in value:
            return "{" + ".".join(value["Fn::GetAtt"]) + "}"
        return "{" + next(iter(value)) + "}"
    return str(value)


def _state_machine_statements(template: Template) -> list[dict[str, Any]]:
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    return _statements(template)[machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]]


def test_the_map_runs_its_children_and_reads_only_manifests(prod: Template) -> None:
    statements = _state_machine_statements(prod)
    by_action: dict[str, list[str]] = {}
    for statement in statements:
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in _actions(statement):
            by_action.setdefault(action, []).extend(_flat(r) for r in resources)
    (start,) = by_action["states:StartExecution"]
    assert start.startswith("{TranscriptionStateMachine")  # its own children, no other machine
    for action in ("states:DescribeExecution", "states:StopExecution"):
        (children,) = by_action[action]
        assert ":execution:" in children and children.endswith(":*")
    (manifests,) = by_action["s3:GetObject"]  # CDK's bucket-wide grant is not there
    assert manifests.startswith("{ResultsBucket") and manifests.endswith("/work/*/chunk-manifest.json")
    assert "kms:Decrypt" in by_action  # prod's customer key encrypts the manifest
    assert not any(action.startswith("s3:") and action != "s3:GetObject" for action in by_action)


def test_prod_takes_twelve_hours_and_may_fan_out_to_a_thousand_children(prod: Template) -> None:
    assert ENVIRONMENTS["prod"]["max_duration_minutes"] == 720
    chunk_fn = prod.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "functions.chunk.handler.handler"}}
    )
    (env,) = [f["Properties"]["Environment"]["Variables"] for f in chunk_fn.values()]
    assert env["MAX_DURATION_SECONDS"] == str(12 * 3600)


@pytest.mark.parametrize("concurrency", [0, 1001])
def test_the_map_concurrency_is_bounded(concurrency: int) -> None:
    with pytest.raises(ValueError, match="map_max_concurrency"):
        EnvironmentConfig.from_context("prod", ENVIRONMENTS, {"map_max_concurrency": concurrency})
    most = EnvironmentConfig.from_context("prod", ENVIRONMENTS, {"map_max_concurrency": 1000})
    assert most.map_max_concurrency == 1000  # rendered as the Map's MaxConcurrency (test_stack.py)
