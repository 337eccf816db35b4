"""The transcription workflow: chunk -> a Map of transcribe tasks (in the language asked for, or
each in the one it detects) -> speaker clustering (when asked for) -> aggregate, which votes on
the language of a job that named none and sends chunks heard in another one back through a
second Map (RedoChunks) before it completes the job; retries on retryable errors and every
failure to MarkFailed.

The Map is a Distributed Map: it reads the chunk list from the manifest the chunk step writes to S3
(transcriber/stages/manifest.py) and runs each chunk in an Express child workflow, so the state
never holds the list (256 KB limit: files of any length) and a chunk costs one child execution
instead of several Standard transitions. AWS stops an Express execution after 5 minutes, so a
chunk's task has a timeout and a throttle budget of its own that fit in them (CHILD_THROTTLES)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from transcriber.domain.errors import RETRYABLE_ERROR_NAMES, THROTTLED_ERROR_NAME
from transcriber.domain.jobs import CHUNK_MANIFEST, WORK_PREFIX
from transcriber.domain.messages import (
    DETECT_PER_CHUNK,
    AggregateRequest,
    ChunkRequest,
    DiarizeRequest,
    FailRequest,
    Message,
    TranscribeRequest,
)
from transcriber.domain.options import MAX_CHUNK_SECONDS_RANGE


@dataclass(frozen=True)
class ThrottleBudget:
    """How long a throttled task waits for capacity: ``attempts`` retries, the first after
    ``first_s``, doubling to at most ``longest_s``, full jitter so that the waiting executions do
    not come back together."""

    attempts: int
    first_s: int
    longest_s: int


#: The Standard parent's steps. A burst (a thousand uploads at once, each job fanning out its
#: chunks) keeps a function at its concurrency limit for minutes: a job must wait for capacity
#: then, not fail. 5 + 10 + 20 + 40 + 6 x 60 = 435 s, about 7 minutes.
STANDARD_THROTTLES = ThrottleBudget(attempts=10, first_s=5, longest_s=60)

#: AWS stops an Express execution after 5 minutes, and the Map fails with the stopped child.
EXPRESS_LIMIT_S = 300
#: The longest chunk: pauses stretch a chunk to twice ``max_chunk_seconds`` (domain/chunking.py),
#: and a job may ask for up to 600 s: 1,200 s of audio.
LONGEST_CHUNK_AUDIO_S = 2 * MAX_CHUNK_SECONDS_RANGE[1]
#: Decoding time per second of audio on the transcribe function's one vCPU (docs/performance.md:
#: about 271 s per audio hour), and how many times a chunk is decoded at most (a chunk whose
#: batched decode went wrong is decoded again by the sequential fallback).
DECODE_S_PER_AUDIO_S = 0.075
DECODES_PER_CHUNK = 2
#: Beside decoding: a cold start (the model), the chunk's ranged read, its speaker embeddings.
CHUNK_OVERHEAD_S = 20
#: One TranscribeChunk attempt: 1,200 x 0.075 x 2 = 180 s of decoding + 20 s = 200 s. The transcribe
#: function's own timeout stays long (cdk.json): DiarizeSpeakers runs in it on whole jobs.
CHUNK_TASK_TIMEOUT_S = (
    round(LONGEST_CHUNK_AUDIO_S * DECODE_S_PER_AUDIO_S * DECODES_PER_CHUNK) + CHUNK_OVERHEAD_S
)
#: Transient errors inside a chunk's child: 4 retries, 2 s doubling: 2 + 4 + 8 + 16 = 30 s at most.
CHILD_TRANSIENT_ATTEMPTS = 4
#: Step Functions' name for a task that ran out its ``task_timeout``. Not retried inside a child: an
#: attempt that took the whole timeout leaves no time for another within the Express limit.
TASK_TIMEOUT_ERROR = "States.Timeout"
#: Throttles inside a chunk's child: 5 + 10 + 10 + 10 + 10 = 45 s. With one attempt at the task
#: timeout and the transient retries' waits: 45 + 200 + 30 = 275 s, 25 s under the Express limit
#: for Step Functions' and Lambda's own latency. A burst that keeps the transcribe function at its
#: limit for longer fails the chunks that could not start (and their jobs); the Map's concurrency
#: (``map_max_concurrency``) x the jobs running at once must fit the function's concurrency.
CHILD_THROTTLES = ThrottleBudget(attempts=5, first_s=5, longest_s=10)


def retry_throttles(task: tasks.LambdaInvoke, budget: ThrottleBudget = STANDARD_THROTTLES) -> None:
    """Throttles get their own, longer budget than transient errors (3 attempts within ~14 s in
    the parent): a throttled invocation did no work, so waiting costs nothing but time."""
    task.add_retry(
        errors=[THROTTLED_ERROR_NAME],
        interval=cdk.Duration.seconds(budget.first_s),
        max_attempts=budget.attempts,
        backoff_rate=2.0,
        max_delay=cdk.Duration.seconds(budget.longest_s),
        jitter_strategy=sfn.JitterType.FULL,
    )


#: Where the execution's state keeps each field a step's request takes: the execution input at the
#: top, ChunkAudio's answer at ``$.audio``, the language decision at ``$.language``, a caught error
#: at ``$.error`` (transcriber/domain/messages.py has the models).
STATE_PATHS: dict[str, Any] = {
    "job_id": sfn.JsonPath.string_at("$.job_id"),
    "bucket": sfn.JsonPath.string_at("$.bucket"),
    "key": sfn.JsonPath.string_at("$.key"),
    "options": sfn.JsonPath.object_at("$.options"),
    "duration": sfn.JsonPath.number_at("$.audio.duration"),
    "manifest": sfn.JsonPath.object_at("$.audio.manifest"),
    "language": sfn.JsonPath.object_at("$.language"),
    "error": sfn.JsonPath.object_at("$.error"),
}


def payload_of(request: type[Message], **given: Any) -> dict[str, Any]:
    """A step's payload, field by field from its request model: each from ``given`` or from where
    the state keeps it (:data:`STATE_PATHS`). A required field with neither fails the synth, so a
    field added to a request model cannot be left out of the state machine unnoticed; a field
    with a default and no place in the state is left to its default."""
    payload = {}
    for name, field in request.model_fields.items():
        if name in given:
            payload[name] = given[name]
        elif name in STATE_PATHS:
            payload[name] = STATE_PATHS[name]
        elif field.is_required():
            raise KeyError(f"{request.__name__}.{name} has no place in the state machine's state")
    return payload


@dataclass(frozen=True)
class StepFunctions:
    """The Lambda function behind each step."""

    chunk: lambda_.IFunction
    transcribe: lambda_.IFunction
    aggregate: lambda_.IFunction
    fail: lambda_.IFunction


def transcription_state_machine(
    scope: Construct,
    *,
    functions: StepFunctions,
    map_max_concurrency: int,
    log_group: logs.ILogGroup,
    manifest_bucket: s3.IBucket,
) -> sfn.StateMachine:
    mark_failed = tasks.LambdaInvoke(
        scope,
        "MarkFailed",
        lambda_function=functions.fail,
        payload=sfn.TaskInput.from_object(payload_of(FailRequest)),
        payload_response_only=True,
        result_path=sfn.JsonPath.DISCARD,
        retry_on_service_exceptions=True,
    )
    # A throttled or transiently failing MarkFailed would leave the job PROCESSING (or its failure
    # unannounced: the retry announces it, transcriber/stages/fail.py).
    _retried(mark_failed, max_attempts=3)
    mark_failed.next(
        sfn.Fail(scope, "JobFailed", error="TranscriptionFailed", cause="See the job record for the reason")
    )

    def step(
        name: str, function: lambda_.IFunction, payload: dict[str, Any], result_path: str | None
    ) -> tasks.LambdaInvoke:
        """One Lambda task: its payload out, its answer at ``result_path``; retried only on
        retryable errors, anything else to MarkFailed."""
        task = _retried(
            tasks.LambdaInvoke(
                scope,
                name,
                lambda_function=function,
                payload=sfn.TaskInput.from_object(payload),
                payload_response_only=True,
                result_path=result_path,
                retry_on_service_exceptions=False,
            ),
            max_attempts=3,
        )
        task.add_catch(mark_failed, errors=["States.ALL"], result_path="$.error")
        return task

    chunk = step(
        "ChunkAudio",
        functions.chunk,
        payload_of(ChunkRequest),
        result_path="$.audio",
    )

    # The job's language: asked for, and then pinned for every chunk; or detected by each chunk
    # on the encoder pass it decodes from (no step before the fan-out waits for it), then voted
    # on by the aggregate step (see transcriber/domain/language.py).
    requested_language = sfn.Pass(
        scope,
        "UseRequestedLanguage",
        parameters={
            "language": sfn.JsonPath.string_at("$.options.language"),
            "source": "requested",
            "confidence": 1,
            "samples": 0,
        },
        result_path="$.language",
    )
    # ("" rather than null: CDK drops null values from a state's parameters.)
    detect_while_transcribing = sfn.Pass(
        scope,
        "DetectWhileTranscribing",
        parameters=DETECT_PER_CHUNK.model_dump(exclude_none=True),
        result_path="$.language",
    )
    language = (
        sfn.Choice(scope, "LanguageRequested")
        .when(sfn.Condition.is_present("$.options.language"), requested_language)
        .otherwise(detect_while_transcribing)
    )

    def chunk_map(name: str, manifest_path: str) -> sfn.DistributedMap:
        """Transcribe the chunks of the manifest at ``manifest_path``; a failure to MarkFailed."""
        fan = _distributed_map(
            scope,
            name,
            transcribe=functions.transcribe,
            max_concurrency=map_max_concurrency,
            manifest_path=manifest_path,
        )
        fan.add_catch(mark_failed, errors=["States.ALL"], result_path="$.error")
        return fan

    fan_out = chunk_map("TranscribeChunks", "$.audio.manifest")
    # Chunks the language vote overruled, decoded again in the job's language (rare: a file in
    # one language sends none back).
    redo = chunk_map("RedoChunks", "$.aggregated.redo.manifest")

    aggregate = step(
        "AggregateTranscript",
        functions.aggregate,
        payload_of(AggregateRequest, redo_allowed=True),
        result_path="$.aggregated",
    )
    pin_voted_language = sfn.Pass(
        scope,
        "PinVotedLanguage",
        input_path="$.aggregated.redo.language",
        result_path="$.language",
    )
    voted = (
        sfn.Choice(scope, "ChunksSentBack")
        .when(sfn.Condition.string_equals("$.aggregated.status", "REDO"), pin_voted_language)
        .otherwise(sfn.Succeed(scope, "JobCompleted"))
    )
    # Speaker labels: one clustering of every chunk's embeddings (stored in S3 by the Map), run
    # by the transcribe function; its failure fails the job (DIARIZATION_FAILED), never drops labels.
    diarize = step(
        "DiarizeSpeakers",
        functions.transcribe,
        payload_of(DiarizeRequest, action="diarize"),
        result_path="$.speakers",
    )
    speakers = (
        sfn.Choice(scope, "SpeakerLabelsRequested")
        .when(
            sfn.Condition.and_(
                sfn.Condition.is_present("$.options.speaker_labels"),
                sfn.Condition.boolean_equals("$.options.speaker_labels", True),
            ),
            diarize,
        )
        .otherwise(aggregate)
    )

    requested_language.next(fan_out)
    detect_while_transcribing.next(fan_out)
    aggregate.next(voted)
    pin_voted_language.next(redo)
    redo.next(aggregate)  # now with the language pinned, so it completes the job
    diarize.next(aggregate)
    fan_out.next(speakers)
    definition = chunk.next(language)
    state_machine = sfn.StateMachine(
        scope,
        "TranscriptionStateMachine",
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        state_machine_type=sfn.StateMachineType.STANDARD,
        timeout=cdk.Duration.hours(6),
        tracing_enabled=True,
        # Every state transition, without its input and output: the history is there to follow
        # a job, and the payloads (object keys, chunk lists) stay out of the logs.
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
    )
    # The Map's ItemReader reads the manifest: that object only, in the work prefix.
    state_machine.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject"],
            resources=[manifest_bucket.arn_for_objects(f"{WORK_PREFIX}/*/{CHUNK_MANIFEST}")],
        )
    )
    return state_machine


def _retried(
    task: tasks.LambdaInvoke,
    *,
    max_attempts: int,
    errors: Sequence[str] = RETRYABLE_ERROR_NAMES,
    throttles: ThrottleBudget = STANDARD_THROTTLES,
) -> tasks.LambdaInvoke:
    """Retry only retryable errors (permanent ones would fail the same way), with backoff and
    full jitter so that failed chunks do not retry in step; then Lambda's throttles on their own,
    longer budget (:func:`retry_throttles`)."""
    task.add_retry(
        errors=list(errors),
        interval=cdk.Duration.seconds(2),
        max_attempts=max_attempts,
        backoff_rate=2.0,
        jitter_strategy=sfn.JitterType.FULL,
    )
    retry_throttles(task, throttles)
    return task


def _distributed_map(
    scope: Construct,
    name: str,
    *,
    transcribe: lambda_.IFunction,
    max_concurrency: int,
    manifest_path: str,
) -> sfn.DistributedMap:
    """One Express child workflow per chunk of the manifest at ``manifest_path``; no failure
    tolerated, so a chunk that fails after its retries fails the Map
    (States.ExceedToleratedFailureThreshold) and MarkFailed reports the chunk's own error, which
    the transcribe step keeps (transcriber/stages/chunk_failures.py)."""
    fan_out = sfn.DistributedMap(
        scope,
        name,
        # From the state rather than ``bucket=``: CDK would grant s3:GetObject on the whole bucket;
        # the role may read manifests only (transcription_state_machine).
        item_reader=sfn.S3JsonItemReader(
            bucket_name_path=sfn.JsonPath.string_at(f"{manifest_path}.bucket"),
            key=sfn.JsonPath.string_at(f"{manifest_path}.key"),
        ),
        # Each child's request: the manifest's item as its chunk, the job's pinned language code.
        item_selector=payload_of(
            TranscribeRequest,
            chunk=sfn.JsonPath.object_at("$$.Map.Item.Value"),
            language=sfn.JsonPath.string_at("$.language.language"),
        ),
        map_execution_type=sfn.StateMachineType.EXPRESS,
        max_concurrency=max_concurrency,
        tolerated_failure_count=0,
        tolerated_failure_percentage=0,
        # Each chunk's transcript is in S3 under a key derived from the job and chunk index, so
        # the Map's results are dropped.
        result_path=sfn.JsonPath.DISCARD,
    )
    # Bounded to fit the Express limit: a timeout, the retries' waits and the throttles' together
    # (CHILD_THROTTLES has the arithmetic); the function's own timeout is longer.
    transcribe_chunk = tasks.LambdaInvoke(
        scope,
        name.removesuffix("s"),  # TranscribeChunk, RedoChunk
        lambda_function=transcribe,
        payload_response_only=True,
        retry_on_service_exceptions=False,
        task_timeout=sfn.Timeout.duration(cdk.Duration.seconds(CHUNK_TASK_TIMEOUT_S)),
    )
    fan_out.item_processor(
        _retried(
            transcribe_chunk,
            max_attempts=CHILD_TRANSIENT_ATTEMPTS,
            errors=[name for name in RETRYABLE_ERROR_NAMES if name != TASK_TIMEOUT_ERROR],
            throttles=CHILD_THROTTLES,
        ),
        mode=sfn.ProcessorMode.DISTRIBUTED,
        execution_type=sfn.ProcessorType.EXPRESS,
    )
    return fan_out
