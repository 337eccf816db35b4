"""The review's deploy and runtime fixes, as synthesized: every SQS-fed function's queue hides a
message for longer than the function may run, aggregate may write the redo manifest, a chunk's
Express child fits AWS's 5-minute limit, and a failing fail function keeps its event."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.infra.test_stack import _actions, _definition, _role_statements, _statements
from transcriber.domain.messages import ChunkRef
from transcriber.domain.options import MAX_CHUNK_SECONDS_RANGE
from transcriber.stages.manifest import write_manifest
from transcriber.stages.ports import StagePorts

#: What SQS and Lambda take when the template sets nothing.
SQS_DEFAULT_VISIBILITY_S = 30
LAMBDA_DEFAULT_TIMEOUT_S = 3
#: AWS stops an Express execution (a Distributed Map's child) after 5 minutes.
EXPRESS_LIMIT_S = 300
THROTTLED = "Lambda.TooManyRequestsException"


@pytest.fixture(params=["template", "prod"])
def any_template(request: pytest.FixtureRequest) -> Template:
    """The dev and the prod template: each deploys, so each must hold."""
    template: Template = request.getfixturevalue(request.param)
    return template


# 1. A queue that feeds a function hides each message for at least the function's timeout -------


def test_every_sqs_event_source_queue_outlasts_its_function(any_template: Template) -> None:
    """AWS refuses an SQS event source mapping whose queue's visibility timeout is shorter than
    the function's timeout (the deploy fails)."""
    queues = any_template.find_resources("AWS::SQS::Queue")
    functions = any_template.find_resources("AWS::Lambda::Function")
    checked = []
    for mapping in any_template.find_resources("AWS::Lambda::EventSourceMapping").values():
        props = mapping["Properties"]
        queue_id = props["EventSourceArn"]["Fn::GetAtt"][0]
        if queue_id not in queues:
            continue  # not an SQS source
        function_id = props["FunctionName"]["Ref"]
        visibility = queues[queue_id]["Properties"].get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY_S)
        timeout = functions[function_id]["Properties"].get("Timeout", LAMBDA_DEFAULT_TIMEOUT_S)
        assert visibility >= timeout, f"{queue_id} ({visibility} s) feeds {function_id} ({timeout} s)"
        checked.append(queue_id)
    # the webhook notifier's, the live-status pusher's and the search indexer's
    assert any(q.startswith("SearchIndexQueue") for q in checked), checked
    assert len(checked) >= 3, checked


# 2. Aggregate may write what it writes when the language vote sends chunks back ---------------


class _RecordingStore:
    """The object store's write, recorded: the key is what matters here."""

    def __init__(self) -> None:
        self.written: list[tuple[str, str]] = []

    def put_json(self, bucket: str, key: str, data: Any) -> None:
        self.written.append((bucket, key))


def _covers(pattern: str, key: str) -> bool:
    """IAM's resource match: ``*`` is any run of characters (slashes too), ``?`` any one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, key) is not None


def _object_patterns(resource: Any, bucket_prefix: str) -> list[str]:
    """The key patterns of an S3 object ARN ``<bucket ARN>/<pattern>`` on the bucket whose logical
    id starts with ``bucket_prefix``."""
    if not (isinstance(resource, dict) and "Fn::Join" in resource):
        return []
    head, *rest = resource["Fn::Join"][1]
    if not (isinstance(head, dict) and head.get("Fn::GetAtt", [""])[0].startswith(bucket_prefix)):
        return []
    tail = "".join(part for part in rest if isinstance(part, str))
    return [tail.removeprefix("/")]


def test_aggregate_may_write_the_redo_manifest_it_writes(any_template: Template) -> None:
    store = _RecordingStore()
    ports = StagePorts(store=store, jobs=None, events=None, results_bucket="results")  # type: ignore[arg-type]
    chunk = ChunkRef(index=3, key="work/job-1/audio.wav", offset=90.0, duration=30.0)
    write_manifest("job-1", [chunk], ports=ports, redo=True)  # what aggregate's REDO answer writes
    ((_, key),) = store.written
    patterns = [
        pattern
        for statement in _role_statements(any_template, "aggregate")
        if "s3:PutObject" in _actions(statement)
        for resource in (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for pattern in _object_patterns(resource, "ResultsBucket")
    ]
    assert any(_covers(pattern, key) for pattern in patterns), (key, patterns)
    # exactly that object: no other work file is aggregate's to write
    assert not any(_covers(pattern, "work/job-1/audio.wav") for pattern in patterns), patterns
    assert not any(_covers(pattern, "work/job-1/chunk-manifest.json") for pattern in patterns), patterns


# 3. A chunk's Express child fits AWS's 5-minute limit ------------------------------------------


def _longest_waits(retrier: dict[str, Any]) -> float:
    """A retrier's waits at their longest (full jitter draws each between 0 and these)."""
    interval = retrier.get("IntervalSeconds", 1)
    rate = retrier.get("BackoffRate", 2.0)
    cap = retrier.get("MaxDelaySeconds", float("inf"))
    return float(sum(min(interval * rate**n, cap) for n in range(retrier.get("MaxAttempts", 3))))


def _express_child_tasks(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for state in states.values():
        processor = state.get("ItemProcessor", {})
        if processor.get("ProcessorConfig", {}).get("ExecutionType") == "EXPRESS":
            found |= {n: s for n, s in processor["States"].items() if s["Type"] == "Task"}
    return found


def test_each_express_childs_task_fits_the_express_limit(any_template: Template) -> None:
    """The throttle retry's longest waits + one attempt at the task's timeout + the transient
    retry's waits stay under 5 minutes: past them AWS stops the child, and the Map fails. The
    timeout still lets the longest chunk a job may ask for finish: twice the longest
    ``max_chunk_seconds`` of audio, decoded twice (the sequential fallback) at
    docs/performance.md's ~0.075 s per audio second."""
    longest_chunk_decoding_s = 2 * MAX_CHUNK_SECONDS_RANGE[1] * 0.075 * 2
    children = _express_child_tasks(_definition(any_template)["States"])
    assert {"TranscribeChunk", "RedoChunk"} <= set(children)
    for name, task in children.items():
        assert task.get("TimeoutSeconds", 0) > longest_chunk_decoding_s, name  # not the function's 900 s
        (throttles,) = [r for r in task["Retry"] if THROTTLED in r["ErrorEquals"]]
        transient = [r for r in task["Retry"] if THROTTLED not in r["ErrorEquals"]]
        assert transient, name
        total = _longest_waits(throttles) + task["TimeoutSeconds"] + sum(map(_longest_waits, transient))
        assert total < EXPRESS_LIMIT_S, f"{name}: {total} s"
        # a timed-out attempt is not tried again: a second one could not finish within the limit
        assert not any("States.Timeout" in r["ErrorEquals"] for r in task["Retry"]), name
        assert throttles["MaxAttempts"] > max(r["MaxAttempts"] for r in transient), name


# 4. An event the fail function still fails on is kept ------------------------------------------


def test_the_fail_function_keeps_events_it_fails_on(any_template: Template) -> None:
    """EventBridge invokes it asynchronously: after Lambda's retries the event goes to the same
    dead-letter queue as those EventBridge could not deliver, and the function may send there."""
    ((fail_id, fail),) = any_template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "functions.fail.handler.handler"}}
    ).items()
    target = fail["Properties"]["DeadLetterConfig"]["TargetArn"]
    queue_id = target["Fn::GetAtt"][0]
    assert queue_id.startswith("ExecutionFailuresDeadLetterQueue")
    statements = _statements(any_template)[fail["Properties"]["Role"]["Fn::GetAtt"][0]]
    sends = [s for s in statements if "sqs:SendMessage" in _actions(s)]
    assert [s["Resource"] for s in sends] == [target]
    (invoke_config,) = [
        c["Properties"]
        for c in any_template.find_resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": fail_id}
    ]
    assert invoke_config["MaximumRetryAttempts"] == 2
