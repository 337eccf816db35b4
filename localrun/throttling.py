"""Lambda's concurrency limit for Step Functions' calls, emulated (opt-in, for load benchmarks).

Lambda runs at most a function's reserved concurrency (or the account's unreserved share) at
once; a synchronous invoke beyond that is refused at once with 429 TooManyRequestsException, and
Step Functions sees ``Lambda.TooManyRequestsException``. The local runtime instead queues every
invocation for a free worker, so a burst that would be throttled in AWS only waits here, and
the state machine's retry policy for throttles is never exercised.

With a limit set, an invocation that the state machine makes while the function already has
``limit`` invocations in flight is refused the same way. Asynchronous callers (S3 notifications,
SQS mappings) keep waiting for a worker, as Lambda's own queue for them does.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction

#: Header the interpreter's Lambda client adds, so the patched invoke knows who calls.
CALLER_HEADER = "X-Local-Caller"
STATE_MACHINE = "states"


class TooManyRequests(LambdaClientError):
    code = 429

    def __init__(self, function_name: str) -> None:
        super().__init__("TooManyRequestsException", f"Rate Exceeded. ({function_name}: concurrency limit)")


def mark_state_machine_client(client: Any) -> None:
    """Tag every Invoke of the interpreter's Lambda client as a state machine's call."""

    def tag(request: Any, **_: Any) -> None:
        request.headers[CALLER_HEADER] = STATE_MACHINE

    client.meta.events.register("before-sign.lambda.Invoke", tag)


def name_lambda_errors_as_aws() -> None:
    """Lambda API errors of a task by function ARN get AWS's names (``Lambda.<code>``).

    moto's interpreter names them all ``Exception`` for that kind of task, so a Retry on
    ``Lambda.TooManyRequestsException`` (or any ``Lambda.*`` service error) never matched locally;
    its optimised ``lambda:invoke`` integration already names them the AWS way.
    """
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
        StateTaskLambda,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = StateTaskLambda._from_error
    if getattr(original, "names_lambda_errors", False):
        return

    def from_error(task: Any, env: Any, ex: Exception) -> FailureEvent:
        if not isinstance(ex, ClientError):
            return original(task, env, ex)
        error = f"Lambda.{ex.response['Error']['Code']}"
        details = LambdaFunctionFailedEventDetails(error=error, cause=ex.response["Error"]["Message"])
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=EventDetails(lambdaFunctionFailedEventDetails=details),  # type: ignore[typeddict-item]
        )

    from_error.names_lambda_errors = True  # type: ignore[attr-defined]
    setattr(StateTaskLambda, "_from_error", from_error)  # noqa: B010 - a patch


class ConcurrencyLimit:
    """Counts invocations in flight per function; refuses the state machine's beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.throttled: Counter[str] = Counter()
        self._in_flight: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._original: Any = None

    def enter(self, name: str, *, refusable: bool) -> None:
        """Count one invocation in; raises TooManyRequests if refusable and at the limit."""
        with self._lock:
            if refusable and self._in_flight[name] >= self.limit:
                self.throttled[name] += 1
                raise TooManyRequests(name)
            self._in_flight[name] += 1

    def leave(self, name: str) -> None:
        with self._lock:
            self._in_flight[name] -= 1

    def install(self) -> None:
        self._original = LambdaFunction.invoke
        original, limit = self._original, self

        def invoke(fn: LambdaFunction, body: str, request_headers: Any, response_headers: Any) -> Any:
            refusable = (request_headers or {}).get(CALLER_HEADER) == STATE_MACHINE
            limit.enter(fn.function_name, refusable=refusable)
            try:
                return original(fn, body, request_headers, response_headers)
            finally:
                limit.leave(fn.function_name)

        setattr(LambdaFunction, "invoke", invoke)  # noqa: B010 - a patch, as the runtime's seam

    def uninstall(self) -> None:
        if self._original is not None:
            setattr(LambdaFunction, "invoke", self._original)  # noqa: B010
            self._original = None
