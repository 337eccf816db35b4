"""Mark failed: the state machine's Catch, or the rule for executions that ended abnormally
(an EventBridge "Execution Status Change"), lands here (transcriber/stages/fail.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber import wiring
from transcriber.domain.messages import FailRequest
from transcriber.env import FailEnv
from transcriber.function_setup import pipeline_function
from transcriber.stages.fail import from_execution_status, mark_failed

function = pipeline_function(FailEnv, clients=("events",))  # init phase: env checked, SDK clients built
logger = function.logger
EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"


@function.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == EXECUTION_STATUS_CHANGE:
        request = from_execution_status(EventBridgeEvent(event).detail)
    else:
        request = parse(event=event, model=FailRequest)
    logger.append_keys(job_id=request.job_id)
    return mark_failed(request, ports=wiring.ports(FailEnv())).to_wire()
