"""The local runtime depends on one private moto method; this fails loudly if moto moves it."""

from __future__ import annotations

import inspect
from importlib.metadata import version

from moto.awslambda.models import LambdaFunction

from localrun.lambda_runtime import SEAM_NAME


def test_moto_is_the_pinned_version() -> None:
    assert version("moto") == "5.2.5", (
        "the Lambda seam and the CloudFormation fixes were checked on moto 5.2.5"
    )


def test_the_invocation_seam_exists_with_the_expected_signature() -> None:
    method = getattr(LambdaFunction, SEAM_NAME)
    assert list(inspect.signature(method).parameters) == ["self", "event"]
