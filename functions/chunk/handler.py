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


@function.handler
@event_parser(model=ChunkRequest)
def handler(request: ChunkRequest, context: LambdaContext) -> dict[str, Any]:
    env = ChunkEnv()
    response = chunk_audio(
        request, ports=wiring.ports(env), config=env.chunking(), max_duration_s=env.max_duration_seconds
    )
    return response.to_wire()
