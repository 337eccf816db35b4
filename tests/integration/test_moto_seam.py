"""The local runtime depends on moto internals; these fail loudly if moto moves them.

They are the Lambda invocation seam, the ASL interpreter's client factory for Lambda tasks, the
Distributed Map and throttling patches, and two CPU savings of the emulator (its backend lookup
per host, JSONPaths parsed once).

The check reads moto's own source rather than the class attribute: while a local stack runs in
this process (the session fixture), the attribute is the runtime's replacement.
"""

from __future__ import annotations

import ast
import inspect
import json
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


def test_lambda_tasks_reuse_one_client_per_service_and_port() -> None:
    """The ASL interpreter gets its Lambda clients from ``boto_client_for``, which the local
    stack wraps so that every task of every execution shares one client per moto port."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    from localrun.environment import _ReusedClients

    source = inspect.getsource(lambda_eval_utils)
    assert source.count("boto_client_for(") >= 2, "moto's Lambda tasks no longer build clients here"
    built: list[tuple[str, str]] = []

    def build(region: str, service: str, state_credentials: object = None) -> object:
        built.append((region, service))
        return object()

    reused = _ReusedClients(build)
    first = reused(region="us-east-1", service="lambda", state_credentials=None)
    assert reused("us-east-1", "lambda") is first
    assert reused(region="eu-west-1", service="lambda") is not first
    assert built == [("us-east-1", "lambda"), ("eu-west-1", "lambda")]


def test_the_distributed_map_patches_find_their_seams() -> None:
    """localrun/moto_asl.py: moto's grammar refuses Express children unless patched, and a failed
    child fails the Map Run through ``_map_run``; both patches apply, once."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as distributed,
    )
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from localrun import moto_asl

    child = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    **child,
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                },
                "End": True,
            }
        },
    }
    assert "_map_run" in vars(distributed.DistributedIterationComponent)
    moto_asl.install()
    moto_asl.install()
    AmazonStateLanguageParser.parse(json.dumps(definition))  # refused by moto's grammar unpatched
    assert getattr(distributed.DistributedIterationComponent._map_run, "_local_patch", False)


def test_the_throttling_emulation_seams_exist() -> None:
    """localrun/throttling.py wraps ``LambdaFunction.invoke`` (every invocation with its request
    headers) and the interpreter's ``StateTaskLambda._from_error`` (naming Lambda API errors)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda

    tree = ast.parse(inspect.getsource(moto.awslambda.models))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "LambdaFunction"]
    methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
    assert [a.arg for a in methods["invoke"].args.args] == [
        "self",
        "body",
        "request_headers",
        "response_headers",
    ]
    tree = ast.parse(inspect.getsource(state_task_lambda))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "StateTaskLambda"]
    methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
    assert [a.arg for a in methods["_from_error"].args.args] == ["self", "env", "ex"]
    assert 'error = "Exception"' in ast.unparse(methods["_from_error"]).replace("'", '"'), (
        "moto now names Lambda API errors itself: name_lambda_errors_as_aws may be unnecessary"
    )


def test_the_backend_lookup_is_kept_per_host_and_answers_as_motos() -> None:
    """localrun/s3_front.py keeps moto's per-request backend lookup per host: same answers."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from localrun.s3_front import BackendLookupCached

    motos, cached = DomainDispatcherApplication(create_backend_app), BackendLookupCached(create_backend_app)
    hosts = [None, "moto_api", "s3", "s3.us-east-1.amazonaws.com", "dynamodb.us-east-1.amazonaws.com"]
    hosts += [
        "states.us-east-1.amazonaws.com",
        "events.us-east-1.amazonaws.com",
        "sqs.us-east-1.amazonaws.com",
    ]
    for host in hosts * 2:
        assert cached.get_backend_for_host(host) == motos.get_backend_for_host(host), host
    assert "isdir" in inspect.getsource(moto.backends.list_of_moto_modules), (
        "moto's lookup no longer scans its folder per request: BackendLookupCached may be unnecessary"
    )


def test_json_paths_are_parsed_once_where_moto_parses_them() -> None:
    """localrun/environment.py replaces the parse functions moto calls per use with cached ones;
    these are the names moto looks them up by."""
    import jsonpath_ng.ext
    from moto.events import utils as events_utils
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    from localrun.environment import _parse_each_json_path_once

    _parse_each_json_path_once()
    _parse_each_json_path_once()
    assert "from jsonpath_ng.ext import parse" in inspect.getsource(events_utils.EventTemplateParser.parse)
    assert json_path.parse is jsonpath_ng.ext.parse and hasattr(json_path.parse, "cache_info")
    assert hasattr(result_path.parse, "cache_info")
    assert json_path.extract_json("$.a.b", {"a": {"b": 7}}) == 7
    assert json_path.parse("$.x") is json_path.parse("$.x")
