"""Transcribe: one chunk, or the job's speaker clustering (transcriber/stages/transcribe.py and
diarize.py). The actions share this function
because they need its libraries (the model; onnxruntime and scikit-learn for speakers), and one
warm pool of workers is cheaper than two."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber import wiring
from transcriber.domain.messages import (
    DETECT_PER_CHUNK,
    DiarizeRequest,
    LanguageRequest,
    TranscribeFunctionRequest,
)
from transcriber.engines.factory import engine_from_env
from transcriber.env import TranscribeEnv
from transcriber.faults import with_engine_faults
from transcriber.function_setup import pipeline_function
from transcriber.stages.diarize import diarize_job
from transcriber.stages.transcribe import transcribe_one

# Init phase: env checked, SDK clients built; its only I/O is AWS calls, so X-Ray patches botocore alone.
function = pipeline_function(TranscribeEnv, patch_modules=("botocore",))
# Init phase: the model loads once per execution environment, before the first request.
engine = with_engine_faults(engine_from_env())  # FAULT_RATE: transient errors for soak runs
engine.load()


@function.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=TranscribeFunctionRequest).root
    env = TranscribeEnv()
    if isinstance(request, LanguageRequest):  # an execution started before the vote moved
        return DETECT_PER_CHUNK.to_wire()
    if isinstance(request, DiarizeRequest):
        return diarize_job(request, ports=wiring.ports(env)).to_wire()
    return transcribe_one(request, engine=engine, ports=wiring.ports(env), config=env.chunking()).to_wire()
