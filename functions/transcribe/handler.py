"""Transcribe: the job's language vote, one chunk, or the job's speaker clustering
(transcriber/stages/language.py, transcribe.py and diarize.py). The actions share this function
because they need its libraries (the model; onnxruntime and scikit-learn for speakers), and one
warm pool of workers is cheaper than two."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber import wiring
from transcriber.adapters import aws_clients
from transcriber.domain.messages import DiarizeRequest, LanguageRequest, TranscribeFunctionRequest
from transcriber.engines.factory import engine_from_env
from transcriber.env import TranscribeEnv
from transcriber.faults import with_engine_faults
from transcriber.stages.diarize import diarize_job
from transcriber.stages.language import vote_language
from transcriber.stages.transcribe import transcribe_one

logger = Logger()
tracer = Tracer(patch_modules=("botocore",))  # its only I/O is AWS calls: patch none of the rest at init
metrics = Metrics()
TranscribeEnv()  # init phase: a missing or malformed variable fails here, naming it
aws_clients.build_now(clients=("s3", "events"), resources=("dynamodb",))
# Init phase: the model loads once per execution environment, before the first request.
engine = with_engine_faults(engine_from_env())  # FAULT_RATE: transient errors for soak runs
engine.load()


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="job_id")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(job_id=event["job_id"])
    request = parse(event=event, model=TranscribeFunctionRequest).root
    env = TranscribeEnv()
    if isinstance(request, LanguageRequest):
        return vote_language(request, engine=engine, ports=wiring.ports(env)).to_dict()
    if isinstance(request, DiarizeRequest):
        return diarize_job(request, ports=wiring.ports(env)).to_wire()
    return transcribe_one(request, engine=engine, ports=wiring.ports(env), config=env.chunking()).to_wire()
