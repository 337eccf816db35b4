"""What speaker labels add to a job: the same file through the local pipeline with and without.

Run through ``bench.speakers --pipeline-minutes 10`` (or 60). The file is the bench's
conversations (2 to 4 speakers each, from ../shared/eval) joined until it lasts the asked
length. Each run is timed from upload to the job's COMPLETED time; the Lambda seconds per
function come from the local runtime's invocation log and are priced by bench/cost.py's model.
With speaker labels the transcribe function also embeds each chunk (in the Map) and runs the
once-per-job clustering (the DiarizeSpeakers step); both are counted as transcribe seconds.
The runs alternate (without, with, without, with, ...) so that load on the machine hits both.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import cost
from bench.compare import _map_concurrency, _memory_by_role, _role
from transcriber.domain.jobs import parse_timestamp
from transcriber.domain.options import JobOptions

ROLES = ("ingest", "chunk", "transcribe", "aggregate")


def long_conversation(minutes: float, clips: Any, write_wav: Any, path: Path) -> float:
    """The bench's conversations joined (1 s apart) until ``minutes``; returns the seconds written."""
    from bench.speakers import HELD_OUT, PLAN, SAMPLE_RATE, build

    parts: list[np.ndarray] = []
    total = 0.0
    plan = list(PLAN) + list(HELD_OUT)
    index = 0
    while total < minutes * 60:
        n_speakers, seed = plan[index % len(plan)]
        conversation = build(n_speakers, seed + 1000 * (index // len(plan)), clips)
        parts += [conversation.samples, np.zeros(SAMPLE_RATE, np.float32)]
        total += conversation.duration + 1.0
        index += 1
    write_wav(path, np.concatenate(parts))
    return total


def _one_run(pipeline: Any, path: Path, options: JobOptions) -> dict[str, Any]:
    runtime = pipeline.aws.runtime
    t0 = time.time()
    submission = pipeline.submit(path, options=options)
    job = pipeline.wait(submission.job_id, poll_s=0.5, timeout_s=7200)
    if job["status"] != "COMPLETED":
        raise SystemExit(f"job failed: {job.get('reason_code')}: {job.get('error_message')}")
    t1 = parse_timestamp(job["completed_at"]).timestamp()
    spans: dict[str, list[float]] = {}
    for name, entries in runtime.stats.runs.items():
        role = _role(name)
        if role:
            spans.setdefault(role, []).extend(e - s for _, s, e in entries if s >= t0 - 1 and e <= t1 + 1)
    return {
        "wall": t1 - t0,
        "chunks": int(job["chunks_total"]),
        "duration": float(job["duration"]),
        "functions": {role: (len(spans.get(role, [])), sum(spans.get(role, []))) for role in ROLES},
        "speakers": len(job.get("speakers") or []),
    }


def _dollars_per_hour(measured: cost.Measured) -> float:
    """Lambda compute (x86_64) per audio hour, as cost.report prices it (requests are cents)."""
    scale = 3600.0 / measured.audio_s
    gb_s = sum(
        seconds * scale * measured.memory_mb.get(role, 1024) / 1024
        for role, (_, seconds) in measured.functions.items()
    )
    return gb_s * cost.LAMBDA_GB_S["x86_64"]


def run(minutes: float, clips: Any, write_wav: Any, trials: int = 2) -> None:
    from localrun.pipeline import LocalPipeline
    from localrun.synth import synthesize

    overrides = {"engine": "faster-whisper"}
    assembly, stack_name = synthesize("dev", overrides)
    template = json.loads((assembly / f"{stack_name}.template.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"conversations-{minutes:g}min.wav"
        seconds = long_conversation(minutes, clips, write_wav, path)
        print(f"\n== speaker labels in the pipeline: {seconds / 60:.1f} min of conversations, faster-whisper")
        results: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
        with LocalPipeline(overrides=overrides) as pipeline:
            for trial in range(trials):
                for labels in (False, True):
                    r = _one_run(pipeline, path, JobOptions(dedupe=False, speaker_labels=labels))
                    results[labels].append(r)
                    calls, busy = r["functions"]["transcribe"]
                    print(
                        f"  trial {trial + 1} {'with' if labels else 'without':7} speaker labels: "
                        f"{r['wall']:7.1f} s to outputs, transcribe {busy:7.1f} s in {calls} calls"
                        + (f", {r['speakers']} speakers" if labels else ""),
                        flush=True,
                    )
    memory = _memory_by_role(template)
    concurrency = _map_concurrency(template)
    summary: dict[bool, tuple[float, float]] = {}
    for labels, runs in results.items():
        wall = float(np.median([r["wall"] for r in runs]))
        best = min(runs, key=lambda r: abs(r["wall"] - wall))
        measured = cost.Measured(
            audio_s=best["duration"],
            chunks=best["chunks"],
            functions=best["functions"],
            memory_mb=memory,
            cold_start_s=0.0,
            map_concurrency=concurrency,
        )
        summary[labels] = (wall, _dollars_per_hour(measured))
        print(f"\n  {'with' if labels else 'without'} speaker labels, the median run, priced per audio hour:")
        print("\n".join(f"    {line}" for line in cost.report(measured)[:4]))
    (wall_off, cost_off), (wall_on, cost_on) = summary[False], summary[True]
    print(
        f"\n  speaker labels add {wall_on - wall_off:+.1f} s wall ({wall_on / wall_off - 1:+.0%}) and "
        f"${cost_on - cost_off:+.4f} Lambda compute per audio hour ({cost_on / cost_off - 1:+.0%}) "
        f"at {minutes:g} min (median of {trials} alternating trials each; 2 shared cores)"
    )
