"""What every pipeline function's handler module sets up, in one place.

A handler module is its init phase (the environment model checked, so a missing variable fails
there naming it; the SDK clients built once) and one function under Powertools' three decorators.
:func:`pipeline_function` does the init phase and gives the decorators, so a handler keeps only
its parse -> stage -> shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from transcriber.adapters import aws_clients
from transcriber.env import FunctionEnv


@dataclass
class Observed:
    """One function's Powertools logger, tracer and metrics."""

    #: where the event keeps the id every log line carries (a step's ``job_id``); None: none
    correlation_id_path: str | None = None
    logger: Logger = field(default_factory=Logger)
    tracer: Tracer = field(default_factory=Tracer)
    metrics: Metrics = field(default_factory=Metrics)

    def handler(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """Metrics flushed after each call, the call traced, the Lambda context in every log line
        (and the event's correlation id as a key of its own: a step's ``job_id``)."""
        key = self.correlation_id_path

        @wraps(function)
        def keyed(event: Any, context: Any) -> Any:
            if key and isinstance(event, dict) and key in event:
                self.logger.append_keys(**{key: event[key]})
            return function(event, context)

        logged = self.logger.inject_lambda_context(keyed, correlation_id_path=key)
        return self.metrics.log_metrics(self.tracer.capture_lambda_handler(logged))


def pipeline_function(
    env: type[FunctionEnv],
    *,
    clients: tuple[str, ...] = ("s3", "events"),
    resources: tuple[str, ...] = ("dynamodb",),
    correlation_id_path: str | None = "job_id",
    patch_modules: tuple[str, ...] | None = None,
) -> Observed:
    """The init phase of a pipeline function: ``env`` checked and the SDK clients built now.

    ``patch_modules``: the libraries X-Ray instruments (None: every one Powertools knows); a
    function whose only I/O is AWS calls names ``("botocore",)`` and skips patching the rest at init.
    """
    env()
    aws_clients.build_now(clients=clients, resources=resources)
    return Observed(correlation_id_path=correlation_id_path, tracer=Tracer(patch_modules=patch_modules))
