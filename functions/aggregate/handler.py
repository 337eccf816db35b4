"""Aggregate: merge the chunk transcripts, write the outputs, complete the job
(transcriber/stages/aggregate.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber import wiring
from transcriber.domain.messages import AggregateRequest
from transcriber.env import AggregateEnv
from transcriber.function_setup import pipeline_function
from transcriber.stages.aggregate import aggregate

function = pipeline_function(AggregateEnv)  # init phase: env checked, SDK clients built


@function.handler
@event_parser(model=AggregateRequest)
def handler(request: AggregateRequest, context: LambdaContext) -> dict[str, Any]:
    return aggregate(request, ports=wiring.ports(AggregateEnv())).to_wire()
