"""The pipeline against faster-whisper called directly: same file, model, beam and machine.

    make bench                                   # 1 and 10 minutes
    .venv/bin/python -m bench.compare --minutes 1 10 60
    .venv/bin/python -m bench.compare --minutes 240 --skip-direct   # the opt-in 4-hour run

For each length it builds speech with pauses from ../shared/eval (bench/long_audio.py), runs
(a) faster-whisper directly with the engine's own settings on all cores, in a child process so its
memory is its own, and (b) the whole local pipeline from upload to outputs, on one deployed stack
with warm workers. It prints both wall times, their ratio and both word error rates, then where
the pipeline's time went outside speech recognition, the workers' peak memory, the transcribe
worker's cold start, the functions' CPU use, and the cost and latency model (bench/cost.py).
With ``--repeat`` (default 3) the direct, batched and pipeline runs are interleaved, their order
rotating, and the summary sets the medians against the figures measured before the cost work
(bench/compare_report.py). Figures only: nothing here asserts a timing, because the machine is
shared and timings are noisy.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import cost, long_audio
from bench.compare_report import Figures, cpu_and_memory, print_run, summary
from transcriber.domain.jobs import parse_timestamp
from transcriber.domain.options import JobOptions
from transcriber.engines.faster_whisper_engine import BATCHED_OPTIONS, SEQUENTIAL_OPTIONS, decode_options

BEAM = 5


@dataclass
class DirectResult:
    load_s: float
    wall_s: float
    text: str
    peak_mb: float


def _vm_hwm_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _direct(path: str, threads: int, batched: bool) -> DirectResult:
    """faster-whisper on its own, with exactly the decode options of FasterWhisperEngine.

    ``batched``: faster-whisper's BatchedInferencePipeline (the mode the engine decodes chunks in)
    over the whole file, instead of the plain sequential ``WhisperModel.transcribe``.
    """
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from transcriber.engines.weights import model_dir

    t0 = time.perf_counter()
    model = WhisperModel(
        str(model_dir()), device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1
    )
    t1 = time.perf_counter()
    options = decode_options(language=None, beam_size=BEAM, word_timestamps=True)
    if batched:
        segments, _ = BatchedInferencePipeline(model).transcribe(path, **BATCHED_OPTIONS, **options)
    else:
        segments, _ = model.transcribe(path, **SEQUENTIAL_OPTIONS, **options)
    text = " ".join(s.text.strip() for s in segments)
    return DirectResult(load_s=t1 - t0, wall_s=time.perf_counter() - t1, text=text, peak_mb=_vm_hwm_mb())


def run_direct(path: Path, threads: int, batched: bool = False) -> DirectResult:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_direct, (str(path), threads, batched))


# --- the pipeline's time, taken apart ----------------------------------------------------------


def _log_records(log_dir: Path, part: str, job_id: str, message: str) -> list[dict[str, Any]]:
    records = []
    for log in log_dir.glob(f"*{part}*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{") and f'"{message}"' in line and job_id in line:
                records.append(json.loads(line))
    return records


def _timestamp(record: dict[str, Any]) -> float:
    return datetime.strptime(record["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z").timestamp()


def _union(intervals: list[tuple[float, float]], lo: float, hi: float) -> float:
    covered, end = 0.0, lo
    for a, b in sorted(intervals):
        a, b = max(a, end), min(b, hi)
        if b > a:
            covered += b - a
            end = b
    return covered


def _short_handed(intervals: list[tuple[float, float]], workers: int) -> tuple[float, float]:
    """Seconds within the ASR span during which fewer than ``workers`` decoded, and how many of
    them came at the end, after the first worker ran out of chunks (the last ones decoding alone)."""
    if not intervals or workers < 2:
        return 0.0, 0.0
    edges = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    short, active, previous = 0.0, 0, edges[0][0]
    last_full = edges[0][0]  # when all workers last decoded at once
    for moment, step in edges:
        if active < workers:
            short += moment - previous
        elif active + step < workers:
            last_full = moment
        active, previous = active + step, moment
    return short, edges[-1][0] - last_full


def _span(intervals: list[tuple[float, float]], lo: float, hi: float) -> tuple[float, float]:
    """When the first of ``intervals`` starts and the last ends, within [lo, hi] (lo, lo if none)."""
    inside = [(max(a, lo), min(b, hi)) for a, b in intervals if min(b, hi) > max(a, lo)]
    if not inside:
        return lo, lo
    return min(a for a, _ in inside), max(b for _, b in inside)


def _local_chunk_steps(path: Path, max_chunk_seconds: float) -> dict[str, float]:
    """The chunk step's domain work, timed piece by piece in this process (same code, same file)."""
    from pydub import AudioSegment

    from bench.chunk_files import cut_chunks
    from transcriber.adapters.ffmpeg import convert_to_wav
    from transcriber.domain.audio import target_wav_info
    from transcriber.domain.chunking import (
        ChunkingConfig,
        chunk_byte_ranges,
        plan_chunks_from_file,
        speech_spans,
    )
    from transcriber.domain.recognition import PAUSE_MIN_SILENCE_MS

    with tempfile.TemporaryDirectory(prefix="bench-chunk-") as tmp:
        t0 = time.perf_counter()
        wav = path  # a 16 kHz mono PCM WAV (what bench/long_audio.py writes) is used as it is
        if target_wav_info(path) is None:
            wav = Path(tmp) / "converted.wav"
            convert_to_wav(path, wav)
        t1 = time.perf_counter()
        specs = plan_chunks_from_file(wav, ChunkingConfig(max_chunk_seconds=max_chunk_seconds))
        t2 = time.perf_counter()
        chunk_byte_ranges(wav, specs)  # what the chunk step does after planning
        t3 = time.perf_counter()
        chunks = cut_chunks(wav, specs, Path(tmp) / "chunks")  # as transcribe writes them, for the scan
        t4 = time.perf_counter()
        for chunk in chunks:
            speech_spans(AudioSegment.from_wav(str(chunk)), min_silence_ms=PAUSE_MIN_SILENCE_MS)
        t5 = time.perf_counter()
    return {"conversion": t1 - t0, "planning": t2 - t1, "byte ranges": t3 - t2, "pause scan": t5 - t4}


def _role(function_name: str) -> str | None:
    # Whole construct ids: every physical name also starts with "Transcriber-<env>-".
    for part, role in (
        ("IngestFunction", "ingest"),
        ("ChunkFunction", "chunk"),
        ("TranscribeFunction", "transcribe"),
        ("AggregateFunction", "aggregate"),
    ):
        if part in function_name:
            return role
    return None


def run_pipeline(pipeline: Any, item: long_audio.LongInput, max_chunk_seconds: float) -> dict[str, Any]:
    runtime = pipeline.aws.runtime
    t0 = time.time()
    # Every trial transcribes: without this a repeated trial would reuse the first one's result.
    submission = pipeline.submit(item.path, options=JobOptions(dedupe=False))
    # Polling costs CPU in this process, beside the workers (a DynamoDB read through moto, about
    # 10 ms); the end is read from the record below, so polling often would measure nothing better.
    job = pipeline.wait(submission.job_id, poll_s=2.0)
    if job["status"] != "COMPLETED":
        raise SystemExit(f"job failed: {job.get('reason_code')}: {job.get('error_message')}")
    # The end is the record's own COMPLETED time (milliseconds, written after the outputs), not
    # the moment this process's polling noticed it.
    t1 = parse_timestamp(job["completed_at"]).timestamp()
    document = json.loads(pipeline.read_outputs(job)["json"])

    runs: dict[str, list[tuple[float, float]]] = {}
    for name, entries in runtime.stats.runs.items():
        role = _role(name)
        if role:
            runs.setdefault(role, []).extend((s, e) for _, s, e in entries if s >= t0 - 1 and e <= t1 + 1)
    log_dir = runtime.work_dir / "logs"

    def logged(message: str) -> list[tuple[float, float]]:
        """(start, end) of the transcribe handler's timed steps: end = log time, start = end - seconds."""
        records = _log_records(log_dir, "TranscribeFunction", submission.job_id, message)
        return [(_timestamp(r) - float(r["seconds"]), _timestamp(r)) for r in records]

    # A chunk's language, when the job names none, is detected inside its decode (as the direct
    # call detects it inside its own wall time); a chunk decoded again in the voted language
    # logs "Chunk transcribed" too (with "replaced": true).
    asr = logged("Chunk transcribed")
    wall = t1 - t0
    steps = _local_chunk_steps(item.path, max_chunk_seconds)
    invocation = {role: sum(e - s for s, e in spans) for role, spans in runs.items()}
    asr_sum = sum(e - s for s, e in asr) - steps["pause scan"]
    all_runs = [span for spans in runs.values() for span in spans]
    workers = runtime.stats.busiest("TranscribeFunction")[0]
    return {
        "wall": wall,
        "t1": t1,
        "text": document["transcript"],
        "segments": document["segments"],
        "chunks": job["chunks_total"],
        "invocation": invocation,
        "counts": {role: len(spans) for role, spans in runs.items()},
        "asr_sum": asr_sum,
        "model_covered": _union(asr, t0, t1),
        "model_span": _span(asr, t0, t1),
        "no_lambda": wall - _union(all_runs, t0, t1),
        "steps": steps,
        "peak_parallel": workers,
        "short_handed": _short_handed(asr, workers),
    }


Trial = tuple[DirectResult | None, DirectResult | None, dict[str, Any]]


def _median_trial(trials: list[Trial]) -> Trial:
    """The trial with the median pipeline/direct ratio (the median pipeline wall without direct)."""

    def key(trial: Trial) -> float:
        direct, _, result = trial
        return float(result["wall"] / direct.wall_s if direct else result["wall"])

    return sorted(trials, key=key)[(len(trials) - 1) // 2]


def _memory_by_role(template: dict[str, Any]) -> dict[str, int]:
    memory: dict[str, int] = {}
    for logical, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            role = _role(logical)
            if role:
                memory[role] = int(resource["Properties"].get("MemorySize", 128))
    return memory


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--long", action="store_true", help="add the 60-minute input")
    parser.add_argument("--four-hours", action="store_true", help="add the 240-minute input (slow)")
    parser.add_argument("--workers", type=int, default=None, help="local workers per function")
    parser.add_argument("--threads", type=int, default=None, help="speech threads per transcribe worker")
    parser.add_argument("--max-chunk-seconds", type=int, default=None)
    parser.add_argument("--skip-direct", action="store_true")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="interleaved direct/batched/pipeline trials (medians)",
    )
    parser.add_argument(
        "--chunks-per-child", type=int, default=1, help="cost model: chunks per Express child"
    )
    parser.add_argument(
        "--batched-direct",
        action="store_true",
        help="also time faster-whisper's batched mode called directly on the whole file",
    )
    args = parser.parse_args()
    minutes = list(args.minutes) + ([60] if args.long else []) + ([240] if args.four_hours else [])
    cores = os.cpu_count() or 2

    from localrun.environment import RuntimeSettings
    from localrun.pipeline import LocalPipeline
    from localrun.synth import synthesize

    overrides: dict[str, Any] = {"engine": "faster-whisper"}
    if args.max_chunk_seconds:
        overrides["max_chunk_seconds"] = args.max_chunk_seconds
    assembly, stack_name = synthesize("dev", overrides)
    template = json.loads((assembly / f"{stack_name}.template.json").read_text())
    max_chunk_seconds = float(
        next(
            r["Properties"]["Environment"]["Variables"]["MAX_CHUNK_SECONDS"]
            for r in template["Resources"].values()
            if "MAX_CHUNK_SECONDS" in r.get("Properties", {}).get("Environment", {}).get("Variables", {})
        )
    )
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(
        f"machine              {cores} cores, {stamp}; Whisper base int8, beam {BEAM}, VAD, word timestamps"
    )
    print(f"direct               faster-whisper WhisperModel, {cores} threads, the engine's decode options")

    clips = long_audio.load_clips()
    rows: list[str] = []
    peaks: dict[str, list[float]] = {role: [] for role in ("ingest", "chunk", "transcribe", "aggregate")}
    with tempfile.TemporaryDirectory(prefix="bench-audio-") as tmp:
        t_deploy = time.perf_counter()
        with LocalPipeline(
            overrides=overrides,
            runtime=RuntimeSettings(concurrency=args.workers, threads_per_worker=args.threads),
        ) as pipeline:
            deploy_s = time.perf_counter() - t_deploy
            runtime = pipeline.aws.runtime
            workers = pipeline.aws.concurrency
            print(
                f"pipeline             {workers} warm workers per function"
                f" x {pipeline.aws.threads_per_worker or max(1, cores // workers)} thread(s); "
                f"chunks <= {max_chunk_seconds:g} s (<= {2 * max_chunk_seconds:g} s with pauses); "
                f"start + deploy {deploy_s:.1f} s (not counted below)"
            )
            for m in minutes:
                item = long_audio.build(m, Path(tmp), clips)
                trials = _alternating_trials(args, item, pipeline, cores, max_chunk_seconds)
                direct, batched, result = _median_trial(trials)
                rows.append(print_run(m, item, direct, result, batched))
                if len(trials) > 1:
                    print(f"  {len(trials)} alternating trials (the median one is shown above):")
                    for d, b, r in trials:
                        d_wall, p_wall = (d.wall_s if d else float("nan")), r["wall"]
                        b_wall = b.wall_s if b else float("nan")
                        print(
                            f"    direct {d_wall:6.1f} s  batched {b_wall:6.1f} s  pipeline {p_wall:6.1f} s"
                            f"  ratio {p_wall / d_wall:.2f}"
                        )
            cpu: dict[str, list[tuple[float, float]]] = {}
            for name in set(runtime.stats.runs) | set(runtime.stats.inits):
                role = _role(name)
                if role:
                    peaks[role] += list(runtime.peak_rss_mb(name).values())
                    cpu.setdefault(role, []).extend(runtime.stats.cpu.get(name, []))
            # One fresh worker at a time beside the warm ones (better of 2 per function).
            colds = {
                role: min((runtime.cold_start(fn) for _ in range(2)), key=sum)
                for role, fn in _functions_by_role(pipeline).items()
            }
    print("\n== scaling (upload to outputs)")
    print("\n".join(rows))
    memory_mb = _memory_by_role(template)
    print("\n".join(cpu_and_memory(cpu, peaks, memory_mb)))
    print("\n== cold start per function: one fresh worker, better of 2 (spawn + interpreter, init phase)")
    for role, (spawn, init) in colds.items():
        print(f"  {role:<11} {spawn + init:.2f} s = {spawn:.2f} s + init {init:.2f} s")
    cold_s = sum(colds["transcribe"])

    measured = cost.Measured(
        audio_s=item.duration_s,
        chunks=result["chunks"],
        functions={
            role: (result["counts"].get(role, 0), result["invocation"].get(role, 0.0))
            for role in ("ingest", "chunk", "transcribe", "aggregate")
        },
        memory_mb=memory_mb,
        cold_start_s=cold_s,
        map_concurrency=_map_concurrency(template),
        chunks_per_child=args.chunks_per_child,
        cpu_share={
            role: sum(c for c, _ in runs) / max(1e-9, sum(w for _, w in runs)) for role, runs in cpu.items()
        },
    )
    print(f"\n== cost and latency model, from the {item.duration_s / 60:.0f}-minute run")
    print("\n".join(cost.report(measured)))
    if direct and batched:
        figures = Figures(
            pipeline_s=statistics.median(r["wall"] for _, _, r in trials),
            direct_s=statistics.median(d.wall_s for d, _, _ in trials if d),
            batched_s=statistics.median(b.wall_s for _, b, _ in trials if b),
            outside_asr_pct=statistics.median(100 * (1 - r["model_covered"] / r["wall"]) for *_, r in trials),
            cold_start_s=cold_s,
            cost_arm64=cost.breakdown(measured).total("arm64"),
            wall_1h_c100_min=cost.wall_time_s(measured, 1, 100)[0] / 60,
            wall_12h_c1000_min=cost.wall_time_s(measured, 12, 1000)[0] / 60,
        )
        print("\n".join(summary(figures, len(trials))))


def _alternating_trials(
    args: argparse.Namespace, item: long_audio.LongInput, pipeline: Any, cores: int, max_chunk_seconds: float
) -> list[Trial]:
    """Direct, batched and pipeline runs interleaved, the order rotating from trial to trial, so
    that a slow spell of a shared machine hits each of them alike."""
    trials = []
    for n in range(args.repeat):
        runs: dict[str, Any] = {}
        order = ["direct", "batched", "pipeline"]
        for kind in order[n % 3 :] + order[: n % 3]:
            if kind == "direct" and not args.skip_direct:
                runs[kind] = run_direct(item.path, cores)
            elif kind == "batched" and args.batched_direct:
                runs[kind] = run_direct(item.path, cores, batched=True)
            elif kind == "pipeline":
                runs[kind] = run_pipeline(pipeline, item, max_chunk_seconds)
        trials.append((runs.get("direct"), runs.get("batched"), runs["pipeline"]))
    return trials


def _functions_by_role(pipeline: Any) -> dict[str, Any]:
    from moto.awslambda.models import lambda_backends

    from localrun.environment import ACCOUNT_ID, REGION

    functions = lambda_backends[ACCOUNT_ID][REGION].list_functions()
    return {role: fn for fn in functions if (role := _role(fn.function_name))}


def _map_concurrency(template: dict[str, Any]) -> int:
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            definition = json.dumps(resource["Properties"].get("DefinitionString", ""))
            match = re.search(r"MaxConcurrency\W*(\d+)", definition)
            if match:
                return int(match.group(1))
    return 1


if __name__ == "__main__":
    main()
