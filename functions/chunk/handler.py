"""Chunk: convert the upload, plan its chunks, store its WAV once and the chunks' byte ranges in the
manifest (transcriber/stages/chunk.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber import wiring
from transcriber.domain.messages import ChunkRequest
from transcriber.env import ChunkEnv
from transcriber.function_setup import pipeline_function
from transcriber.stages.chunk import chunk_audio

function = pipeline_function(ChunkEnv)  # init phase: env checked, SDK clients built
#: What the step needs after ffmpeg (planning, the WAV's upload, the manifest, the job record):
#: ffmpeg is stopped this long before Lambda would stop the function, so a decode that cannot
#: finish fails the job with its own reason instead of a timeout with none.
AFTER_DECODE_S = 90.0


@function.handler
@event_parser(model=ChunkRequest)
def handler(request: ChunkRequest, context: LambdaContext) -> dict[str, Any]:
    env = ChunkEnv()
    decode_budget_s = max(1.0, context.get_remaining_time_in_millis() / 1000 - AFTER_DECODE_S)
    response = chunk_audio(
        request,
        ports=wiring.ports(env),
        config=env.chunking(),
        max_duration_s=env.max_duration_seconds,
        decode_budget_s=decode_budget_s,
    )
    return response.to_wire()
