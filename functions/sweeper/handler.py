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

from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber import wiring
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.retention_queue import RetentionQueue
from transcriber.env import SweeperEnv
from transcriber.function_setup import pipeline_function
from transcriber.stages.expire import expire_retained
from transcriber.stages.ports import StagePorts
from transcriber.stages.sweep import sweep

function = pipeline_function(
    SweeperEnv, clients=("events", "stepfunctions", "s3"), correlation_id_path=None
)  # init phase: env checked, SDK clients built
logger = function.logger


@function.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Called by the schedule rule (the event's content is not used), or invoked by hand.

    Retention deadlines are applied even when the sweep fails (the invocation fails after them):
    the jobs table's TTL removes records on its own schedule, whether the sweep works or not.
    """
    env, now = SweeperEnv(), datetime.now(UTC)
    ports = wiring.ports(env)
    try:
        report = sweep(ports=ports, workflow=wiring.workflow(env), now=now).to_dict()
    except Exception:
        logger.exception("Sweep failed; applying retention deadlines before failing")
        _expire(env, ports, now)
        raise
    _expire(env, ports, now)
    return report


def _expire(env: SweeperEnv, ports: StagePorts, now: datetime) -> None:
    expired = expire_retained(
        queue=RetentionQueue(env.jobs_table),
        store=ports.store,
        heirs=JobRepository(env.jobs_table),
        events=ports.events,
        results_bucket=env.results_bucket,
        now=now,
    )
    logger.info("Retention deadlines applied", extra=expired)
