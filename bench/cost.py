"""Cost and latency per audio hour on AWS, modelled from what the local run measured.

The local runtime runs the same handlers the Lambda functions run, so its per-invocation wall
times are the best estimate of billed durations available without an account. The model scales
them to one hour of audio and prices them with the public on-demand list (us-east-1). Assumption
stated in the output: one local worker (its threads on this machine's x86 cores) stands for one
Lambda execution environment of the configured memory; arm64 (Graviton) speed is not measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Public on-demand prices, us-east-1, as known on this date (check before quoting a budget).
PRICE_DATE = "2025-01 (AWS and OpenAI public price lists, us-east-1, on-demand, no free tier)"
LAMBDA_GB_S = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
LAMBDA_REQUEST = 0.20 / 1_000_000
SFN_STANDARD_TRANSITION = 0.025 / 1_000
S3_PUT = 0.005 / 1_000  # PUT, COPY, POST, LIST
S3_GET = 0.0004 / 1_000  # GET, HEAD and the rest
DDB_WRITE = 0.625 / 1_000_000  # on-demand write request unit (price since 2024-11)
DDB_READ = 0.125 / 1_000_000  # on-demand read request unit
EVENTBRIDGE_EVENT = 1.00 / 1_000_000
AMAZON_TRANSCRIBE_MIN = 0.024
OPENAI_WHISPER_MIN = 0.006


@dataclass(frozen=True)
class Measured:
    """Per-function billed seconds for one job, scaled to one hour of audio by the model."""

    audio_s: float
    chunks: int
    #: function role (ingest, chunk, transcribe, aggregate) -> (invocations, summed seconds)
    functions: dict[str, tuple[int, float]]
    #: function role -> configured memory in MB (from the synthesized template)
    memory_mb: dict[str, int]
    cold_start_s: float
    map_concurrency: int


def _requests(chunks: int) -> tuple[float, float, float, float, float]:
    """(S3 PUTs, S3 GETs, DynamoDB writes, DynamoDB reads, state transitions) of one job.

    Counted from the handlers: chunk writes every chunk; transcribe checks its checkpoint,
    reads its chunk and writes its result; aggregate reads every result and writes four outputs.
    """
    puts = chunks + chunks + 4
    gets = 2 + 1 + 2 * chunks + chunks
    ddb_writes = 1 + 1 + chunks + 1
    ddb_reads = 2
    transitions = 6 + 2 * chunks
    return puts, gets, ddb_writes, ddb_reads, transitions


def report(m: Measured) -> list[str]:
    scale = 3600.0 / m.audio_s
    chunks_h = max(1, round(m.chunks * scale))
    lines = [f"prices               {PRICE_DATE}"]
    gb_s = sum(
        seconds * scale * m.memory_mb.get(role, 1024) / 1024 for role, (_, seconds) in m.functions.items()
    )
    invocations = sum(
        count * (scale if role == "transcribe" else 1) for role, (count, _) in m.functions.items()
    )
    compute_s = {role: seconds * scale for role, (_, seconds) in m.functions.items()}
    lines.append(
        "compute per audio h  "
        + ", ".join(f"{role} {s:,.0f} s @ {m.memory_mb.get(role, 0)} MB" for role, s in compute_s.items())
        + f"  ({gb_s:,.0f} GB-s)"
    )
    puts, gets, writes, reads, transitions = _requests(chunks_h)
    fixed = (
        invocations * LAMBDA_REQUEST
        + transitions * SFN_STANDARD_TRANSITION
        + puts * S3_PUT
        + gets * S3_GET
        + writes * DDB_WRITE
        + reads * DDB_READ
        + 2 * EVENTBRIDGE_EVENT
    )
    lines.append(
        f"requests per audio h {chunks_h} chunks: {transitions:.0f} transitions "
        f"${transitions * SFN_STANDARD_TRANSITION:.4f}, "
        f"S3 {puts:.0f} PUT + {gets:.0f} GET ${puts * S3_PUT + gets * S3_GET:.4f}, "
        f"DynamoDB {writes:.0f} W + {reads:.0f} R ${writes * DDB_WRITE + reads * DDB_READ:.5f}, "
        f"Lambda {invocations:.0f} requests ${invocations * LAMBDA_REQUEST:.5f}"
    )
    for arch, price in LAMBDA_GB_S.items():
        total = gb_s * price + fixed
        lines.append(
            f"cost per audio hour  Lambda {arch:<7} ${total:.4f}"
            f"  (compute ${gb_s * price:.4f} + requests ${fixed:.4f})"
        )
    lines.append(f"                     Amazon Transcribe ${AMAZON_TRANSCRIBE_MIN * 60:.2f}")
    lines.append(f"                     OpenAI hosted Whisper ${OPENAI_WHISPER_MIN * 60:.2f}")

    per_chunk = m.functions.get("transcribe", (1, 0.0))
    mean_chunk_s = per_chunk[1] / max(1, per_chunk[0])
    waves = math.ceil(chunks_h / m.map_concurrency)
    serial = sum(
        seconds * (scale if role == "chunk" else 1)
        for role, (_, seconds) in m.functions.items()
        if role != "transcribe"
    )
    sfn_s = 0.1 * (6 + waves)  # state entry/exit latencies on the critical path, about 0.1 s each
    wall = serial + m.cold_start_s + waves * mean_chunk_s + sfn_s
    lines.append(
        f"1 h of audio, modelled wall time {wall / 60:.1f} min at Map concurrency {m.map_concurrency}: "
        f"{waves} waves x {mean_chunk_s:.1f} s per chunk + cold start {m.cold_start_s:.1f} s "
        f"+ ingest/chunk/aggregate {serial:.0f} s + state machine {sfn_s:.1f} s"
    )
    for concurrency in (10, 40, 100):
        w = math.ceil(chunks_h / concurrency)
        t = serial + m.cold_start_s + w * mean_chunk_s + 0.1 * (6 + w)
        lines.append(f"                     at concurrency {concurrency:>3}: {t / 60:.1f} min")
    return lines
