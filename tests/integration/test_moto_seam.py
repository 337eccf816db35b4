"""The local runtime depends on one private moto method; this fails loudly if moto moves it.

The check reads moto's own source rather than the class attribute: while a local stack runs in
this process (the session fixture), the attribute is the runtime's replacement.
"""

from __future__ import annotations

import ast
import inspect
from importlib.metadata import version

import moto.awslambda.models

from localrun.lambda_runtime import SEAM_NAME


def test_moto_is_the_pinned_version() -> None:
    assert version("moto") == "5.2.5", (
        "the Lambda seam and the CloudFormation fixes were checked on moto 5.2.5"
    )


def test_the_invocation_seam_exists_with_the_expected_signature() -> None:
    tree = ast.parse(inspect.getsource(moto.awslambda.models))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "LambdaFunction"]
    methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
    assert SEAM_NAME in methods, f"moto's LambdaFunction has no {SEAM_NAME} any more"
    assert [a.arg for a in methods[SEAM_NAME].args.args] == ["self", "event"]
    # It must still return (payload, errored, logs): the runtime returns the same shape.
    returns = methods[SEAM_NAME].returns
    assert returns is not None and ast.unparse(returns) == "tuple[str, bool, str]"
