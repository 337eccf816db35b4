"""Sweeper: every five minutes, requeue or fail the jobs that stopped moving, and delete what
tenants' retention no longer allows (transcriber/stages/expire.py).

A job can be left PENDING or PROCESSING with no run behind it (an execution that ended without
reaching the Catch and whose status-change event was lost, or a crash between recording a job
and starting its run), and a job the HTTP API created may never get its upload. The rules are in
transcriber/domain/recovery.py; transcriber/stages/sweep.py applies them and announces failures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber import wiring
from transcriber.adapters import aws_clients
from transcriber.adapters.retention_queue import RetentionQueue
from transcriber.env import SweeperEnv
from transcriber.stages.expire import expire_retained
from transcriber.stages.sweep import sweep

logger = Logger()
tracer = Tracer()
metrics = Metrics()
SweeperEnv()  # init phase: a missing or malformed variable fails here, naming it
aws_clients.build_now(clients=("events", "stepfunctions", "s3"), resources=("dynamodb",))


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Called by the schedule rule (the event's content is not used), or invoked by hand."""
    env, now = SweeperEnv(), datetime.now(UTC)
    ports = wiring.ports(env)
    report = sweep(ports=ports, workflow=wiring.workflow(env), now=now).to_dict()
    queue = RetentionQueue(env.jobs_table)
    expired = expire_retained(queue=queue, store=ports.store, results_bucket=env.results_bucket, now=now)
    logger.info("Retention deadlines applied", extra=expired)
    return report
