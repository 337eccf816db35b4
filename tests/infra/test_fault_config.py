"""``fault_rate`` in cdk.json: off everywhere by default, a probability, and refused by prod."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.app import REPO_ROOT
from infra.config import PROD, EnvironmentConfig

ENVIRONMENTS: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]["environments"]


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_every_environment_ships_with_faults_off(env_name: str) -> None:
    assert ENVIRONMENTS[env_name]["fault_rate"] == 0
    assert EnvironmentConfig.from_context(env_name, ENVIRONMENTS).fault_rate == 0


@pytest.mark.parametrize(("env_name", "rate"), [("dev", 0.3), ("dev", 1), ("staging", 0.05)])
def test_a_test_environment_accepts_a_fault_rate(env_name: str, rate: float) -> None:
    config = EnvironmentConfig.from_context(env_name, ENVIRONMENTS, {"fault_rate": rate})
    assert config.fault_rate == rate


@pytest.mark.parametrize("rate", [0.3, 1, 1e-6])
def test_prod_refuses_any_fault_rate(rate: float) -> None:
    with pytest.raises(ValueError, match=r"fault_rate must be 0 in 'prod'"):
        EnvironmentConfig.from_context(PROD, ENVIRONMENTS, {"fault_rate": rate})


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        (1.5, "fault_rate must lie between 0 and 1"),
        (-0.1, "fault_rate must lie between 0 and 1"),
        ("0.3", "fault_rate must be"),
        (True, "fault_rate must be"),
        (None, "fault_rate must be"),
    ],
)
def test_a_fault_rate_that_is_not_a_probability_is_an_error(rate: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EnvironmentConfig.from_context("dev", ENVIRONMENTS, {"fault_rate": rate})


def test_an_environment_without_the_key_is_an_error() -> None:
    without = {k: v for k, v in ENVIRONMENTS["dev"].items() if k != "fault_rate"}
    with pytest.raises(ValueError, match=r"missing \['fault_rate'\]"):
        EnvironmentConfig.from_context("dev", {"dev": without})


# The template -----------------------------------------------------------------------------------


def _fault_settings(tmp_path: Any, overrides: dict[str, Any] | None = None) -> dict[str, dict[str, str]]:
    """FAULT_* variables of each of the pipeline's functions, by name (transcriber-<name>)."""
    from aws_cdk.assertions import Template

    from infra.app import build_app

    _, stack = build_app("dev", overrides=overrides, outdir=str(tmp_path))
    found: dict[str, dict[str, str]] = {}
    for resource in Template.from_stack(stack).find_resources("AWS::Lambda::Function").values():
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        service = variables.get("POWERTOOLS_SERVICE_NAME", "")
        if service.startswith("transcriber-"):
            found[service.removeprefix("transcriber-")] = {
                k: v for k, v in variables.items() if k.startswith("FAULT_")
            }
    return found


def test_without_a_fault_rate_no_function_carries_fault_settings(tmp_path: Any) -> None:
    settings = _fault_settings(tmp_path)
    assert sorted(settings) == [
        "aggregate",
        "api",
        "chunk",
        "fail",
        "indexer",
        "ingest",
        "live",
        "notifier",
        "pusher",
        "search",
        "searchmaintenance",
        "sweeper",
        "transcribe",
    ]
    assert all(not variables for variables in settings.values())


def test_a_fault_rate_reaches_the_state_machine_tasks_only(tmp_path: Any) -> None:
    settings = _fault_settings(tmp_path, {"fault_rate": 0.3})
    for name in ("chunk", "transcribe", "aggregate"):
        assert settings[name] == {"FAULT_RATE": "0.3", "FAULT_TARGETS": "engine,s3"}
    # Ingest's failures go to Lambda's async retries and its DLQ, not the state machine's Retry.
    assert settings["ingest"] == settings["fail"] == {}
