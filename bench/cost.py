"""Cost and latency per audio hour on AWS, modelled from what the local run measured.

The local runtime runs the same handlers the Lambda functions run, so its per-invocation wall
times are the best estimate of billed durations available without an account. The model scales
them to one hour of audio and prices them with the public on-demand list (us-east-1, no free
tier). Assumptions, all printed with the figures:

- One local worker decoding on one thread (this machine's x86 cores) stands for one Lambda
  execution environment with one full vCPU, which Lambda gives at 1,769 MB (vCPU share grows in
  proportion to memory). A function sized at or below 1,769 MB is modelled at the measured time
  scaled by 1,769 / memory when it is CPU-bound; arm64 (Graviton) speed is not measured.
- The fan-out is a Distributed Map whose child workflows are EXPRESS executions, one per batch
  of ``chunks_per_child`` chunks, reading the chunk manifest from S3 with ``ItemReader``; the
  parent stays a STANDARD workflow billed per state transition.

Billing facts used (AWS Step Functions pricing page, aws.amazon.com/step-functions/pricing):
Standard workflows are charged per state transition, retries included ($0.025 per 1,000).
Express workflows are charged $1.00 per million requests (one per execution started) plus
duration, "from the time your workflow begins executing until it completes or otherwise
terminates, rounded up to the nearest 100ms", times the memory used, "billed in 64-MB chunks";
the page's estimate of that memory is 50 MB + the definition + the execution data (x the Map or
Parallel steps), so a child holding a few chunk descriptors bills 64 MB, at $0.06 per GB-hour
for the first 1,000 GB-hours a month. A Distributed Map runs each item (or each ItemBatcher
batch) as a child workflow execution of its own (Step Functions developer guide, "Using Map state
in Distributed mode"); the Map state itself is one transition of the parent. Lambda: $0.20 per
million requests, per GB-second by architecture (aws.amazon.com/lambda/pricing). S3 PUT
$0.005 and GET $0.0004 per 1,000 (the ItemReader's read of the manifest is a GET).
Not modelled: CloudWatch Logs, X-Ray, ECR storage, data transfer, the free tiers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from transcriber.domain.preparation import WAV_BYTES_PER_SECOND

#: Public on-demand prices, us-east-1, as listed on this date (check before quoting a budget).
PRICE_DATE = "AWS public on-demand list prices, us-east-1, as of 2026-12-04; no free tier"
LAMBDA_GB_S = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
LAMBDA_REQUEST = 0.20 / 1_000_000
#: Lambda gives one full vCPU at this memory (and a share in proportion below and above it).
MB_PER_VCPU = 1769
SFN_STANDARD_TRANSITION = 0.025 / 1_000
SFN_EXPRESS_REQUEST = 1.00 / 1_000_000
SFN_EXPRESS_GB_S = 0.06 / 3600  # first 1,000 GB-hours a month
EXPRESS_MEMORY_STEP_MB = 64
EXPRESS_DURATION_STEP_S = 0.1
S3_PUT = 0.005 / 1_000  # PUT, COPY, POST, LIST
S3_GET = 0.0004 / 1_000  # GET, HEAD and the rest
DDB_WRITE = 0.625 / 1_000_000  # on-demand write request unit (price since 2024-11)
DDB_READ = 0.125 / 1_000_000  # on-demand read request unit
EVENTBRIDGE_EVENT = 1.00 / 1_000_000
AMAZON_TRANSCRIBE_MIN = 0.024
OPENAI_WHISPER_MIN = 0.006
#: The parent workflow's states on a job's path: ChunkAudio, LanguageRequested, the language Pass,
#: TranscribeChunks (the Distributed Map), SpeakerLabelsRequested, AggregateTranscript,
#: ChunksSentBack, the end (a job whose language vote sends chunks back adds three).
PARENT_TRANSITIONS = 8
#: boto3's default multipart threshold and part size (``TransferConfig``).
MULTIPART_PART_BYTES = 8 * 1024 * 1024


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
    #: chunks per Express child workflow (the Distributed Map's ItemBatcher)
    chunks_per_child: int = 1
    #: function role -> CPU seconds per wall second measured locally (1.0 = one core busy)
    cpu_share: dict[str, float] | None = None


def billed_seconds(m: Measured, role: str, seconds: float) -> float:
    """``seconds`` measured locally on one core, as Lambda at the role's memory would bill them:
    below one vCPU the CPU-bound share of the work slows in proportion to the vCPU share."""
    vcpus = m.memory_mb.get(role, MB_PER_VCPU) / MB_PER_VCPU
    busy = min(1.0, (m.cpu_share or {}).get(role, 1.0))
    return seconds * (1 - busy) + seconds * busy / min(1.0, vcpus)


@dataclass(frozen=True)
class Requests:
    """What one job of ``chunks`` chunks asks of S3, DynamoDB and Step Functions."""

    s3_puts: float
    s3_gets: float
    ddb_writes: float
    ddb_reads: float
    transitions: float
    children: float


def audio_upload_requests(audio_s: float) -> int:
    """S3 requests of the chunk step's one upload of the job's WAV, with boto3's managed upload as
    configured by default: one PUT under 8 MB, else create, one request per 8 MB part, complete
    (all billed at the PUT rate)."""
    size = audio_s * WAV_BYTES_PER_SECOND
    if size < MULTIPART_PART_BYTES:
        return 1
    return 2 + math.ceil(size / MULTIPART_PART_BYTES)


def requests(chunks: int, chunks_per_child: int, audio_s: float = 3600.0) -> Requests:
    """Counted from the handlers: ingest records the job and, once its event is out, clears the
    record's announcement mark; chunk uploads the job's WAV once (its chunks are byte ranges of
    it) and writes the manifest; the ItemReader reads the manifest; transcribe checks its
    checkpoint, reads its chunk's bytes with one ranged GET, writes its result and counts it on
    the job; aggregate reads every result and writes four outputs."""
    return Requests(
        s3_puts=audio_upload_requests(audio_s) + 1 + chunks + 4,
        s3_gets=2 + 1 + 1 + 3 * chunks,
        ddb_writes=2 + 1 + chunks + 1,
        ddb_reads=2 + chunks,
        transitions=PARENT_TRANSITIONS,
        children=math.ceil(chunks / max(1, chunks_per_child)),
    )


def express_cost(children: float, child_seconds: float) -> float:
    """Express child workflows: requests + duration (100 ms steps) x billed memory (64 MB)."""
    billed_s = math.ceil(child_seconds / EXPRESS_DURATION_STEP_S) * EXPRESS_DURATION_STEP_S
    return children * (SFN_EXPRESS_REQUEST + billed_s * EXPRESS_MEMORY_STEP_MB / 1024 * SFN_EXPRESS_GB_S)


@dataclass(frozen=True)
class Breakdown:
    """One audio hour's modelled bill, by part."""

    chunks: int
    billed_s: dict[str, float]
    gb_s: float
    invocations: float
    requests: Requests
    express: float
    standard: float
    s3: float
    ddb: float

    @property
    def fixed(self) -> float:
        """Everything but Lambda compute."""
        return (
            self.invocations * LAMBDA_REQUEST
            + self.standard
            + self.express
            + self.s3
            + self.ddb
            + 2 * EVENTBRIDGE_EVENT
        )

    def total(self, arch: str = "arm64") -> float:
        return self.gb_s * LAMBDA_GB_S[arch] + self.fixed


def breakdown(m: Measured) -> Breakdown:
    scale = 3600.0 / m.audio_s
    chunks_h = max(1, round(m.chunks * scale))
    billed = {role: billed_seconds(m, role, seconds) * scale for role, (_, seconds) in m.functions.items()}
    r = requests(chunks_h, m.chunks_per_child)
    per_chunk = m.functions.get("transcribe", (1, 0.0))
    # A child transcribes its batch one chunk after another: its duration is the batch's time.
    child_s = billed_seconds(m, "transcribe", per_chunk[1] / max(1, per_chunk[0])) * m.chunks_per_child
    return Breakdown(
        chunks=chunks_h,
        billed_s=billed,
        gb_s=sum(s * m.memory_mb.get(role, 1024) / 1024 for role, s in billed.items()),
        invocations=sum(
            count * (scale if role == "transcribe" else 1) for role, (count, _) in m.functions.items()
        ),
        requests=r,
        express=express_cost(r.children, child_s),
        standard=r.transitions * SFN_STANDARD_TRANSITION,
        s3=r.s3_puts * S3_PUT + r.s3_gets * S3_GET,
        ddb=r.ddb_writes * DDB_WRITE + r.ddb_reads * DDB_READ,
    )


def report(m: Measured) -> list[str]:
    b = breakdown(m)
    r = b.requests
    lines = [f"prices               {PRICE_DATE}"]
    lines.append(
        "memory (assumed)     "
        + ", ".join(f"{role} {mb} MB" for role, mb in sorted(m.memory_mb.items()))
        + f"; 1 vCPU per {MB_PER_VCPU} MB; one local 1-thread worker = 1 vCPU (x86 here, arm64 not"
        f" measured); Express child {EXPRESS_MEMORY_STEP_MB} MB"
    )
    lines.append(
        "compute per audio h  "
        + ", ".join(f"{role} {s:,.0f} s @ {m.memory_mb.get(role, 0)} MB" for role, s in b.billed_s.items())
        + f"  ({b.gb_s:,.0f} GB-s)"
    )
    lines.append(
        f"requests per audio h {b.chunks} chunks in {r.children:.0f} Express children of "
        f"{m.chunks_per_child}: Express ${b.express:.5f}, parent {r.transitions:.0f} transitions "
        f"${b.standard:.5f}, S3 {r.s3_puts:.0f} PUT + {r.s3_gets:.0f} GET ${b.s3:.5f}, "
        f"DynamoDB {r.ddb_writes:.0f} W + {r.ddb_reads:.0f} R ${b.ddb:.5f}, "
        f"Lambda {b.invocations:.0f} requests ${b.invocations * LAMBDA_REQUEST:.5f}"
    )
    for arch, price in LAMBDA_GB_S.items():
        lines.append(
            f"cost per audio hour  Lambda {arch:<7} ${b.total(arch):.4f}"
            f"  (compute ${b.gb_s * price:.4f} + requests ${b.fixed:.4f})"
        )
    lines.append(f"                     Amazon Transcribe ${AMAZON_TRANSCRIBE_MIN * 60:.2f}")
    lines.append(f"                     OpenAI hosted Whisper ${OPENAI_WHISPER_MIN * 60:.2f}")
    for hours, concurrency in ((1, m.map_concurrency), (1, 100), (12, 1000)):
        lines.append(wall_line(m, hours, concurrency))
    return lines


def wall_time_s(m: Measured, hours: float, concurrency: int) -> tuple[float, int, float]:
    """(modelled wall seconds, waves of children, serial seconds) for ``hours`` of audio.

    The serial part (ingest, the chunk step and aggregate) grows with the audio; the fan-out
    runs ``concurrency`` children at once, each transcribing its batch one chunk after another.
    """
    scale = hours * 3600.0 / m.audio_s
    chunks = max(1, round(m.chunks * scale))
    per_chunk = m.functions.get("transcribe", (1, 0.0))
    mean_chunk_s = billed_seconds(m, "transcribe", per_chunk[1] / max(1, per_chunk[0]))
    children = math.ceil(chunks / max(1, m.chunks_per_child))
    waves = math.ceil(children / concurrency)
    serial = sum(
        billed_seconds(m, role, seconds) * (scale if role in ("chunk", "aggregate") else 1)
        for role, (_, seconds) in m.functions.items()
        if role != "transcribe"
    )
    sfn_s = 0.1 * (PARENT_TRANSITIONS + 2 * waves)  # state and child start latencies, ~0.1 s each
    return serial + m.cold_start_s + waves * m.chunks_per_child * mean_chunk_s + sfn_s, waves, serial


def wall_line(m: Measured, hours: float, concurrency: int) -> str:
    wall, waves, serial = wall_time_s(m, hours, concurrency)
    return (
        f"{hours:g} h of audio at concurrency {concurrency:>4}: modelled wall time {wall / 60:5.1f} min "
        f"({waves} wave(s) of children + cold start {m.cold_start_s:.2f} s"
        f" + ingest/chunk/aggregate {serial:.0f} s)"
    )
