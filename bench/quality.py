"""Transcript quality through the real local pipeline, over ../shared/eval, in one command.

    .venv/bin/python -m bench.quality [--json PATH] [--skip-seams] [--skip-direct]

On one deployed local stack (faster-whisper base int8, the engine's beam 5) it submits every
file of the evaluation set at once, then waits for all of them, and prints:

1. WER on the short clips (librispeech/, librivox/, other/), overall (summed errors over summed
   reference words) and per folder;
2. WER on the long-form file through the pipeline, beside faster-whisper called directly on the
   same file with the same model and decode options (bench/compare.py), and how far each true
   utterance start lies from the nearest segment start (median, max, first, last utterance);
3. lost and doubled words at forced seams, without and with the seam overlap (bench/seams.py,
   run as it runs on its own: the same engine code, chunk by chunk, outside the stack);
4. words emitted in silence: on 10 s of digital silence, and in the long-form file's reference
   pauses (lead-in, between utterances, tail) less a 0.2 s margin at each pause edge;
5. the language each job record reports against the manifest's (``en`` where it names none).

It ends with a markdown table for the README and the command that made it. ``--json PATH``
writes the same figures as JSON. Nothing here asserts a figure: it measures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import seams
from bench.compare import BEAM, run_direct
from bench.long_audio import EVAL_DIR
from bench.pipeline_run import _reference as segments_reference
from bench.scoring import normalise, start_errors, wer
from transcriber.domain.jobs import JobStatus

SHORT_FOLDERS = ("librispeech/", "librivox/", "other/")
LONGFORM = "longform/concat_librispeech_librivox_16k.flac"
SILENCE = "other/digital_silence_10s_16k.wav"
PAUSE_MARGIN_S = 0.2
COMMAND = ".venv/bin/python -m bench.quality"


# --- scoring helpers (pure, unit-tested) -------------------------------------------------------


def reference_pauses(reference: Sequence[dict[str, Any]], duration: float) -> list[tuple[float, float]]:
    """The silences of a reference: before the first utterance, between utterances, after the last."""
    bounds = sorted((float(u["start"]), float(u["end"])) for u in reference)
    pauses: list[tuple[float, float]] = []
    previous_end = 0.0
    for start, end in bounds:
        if start > previous_end:
            pauses.append((previous_end, start))
        previous_end = max(previous_end, end)
    if duration > previous_end:
        pauses.append((previous_end, duration))
    return pauses


def words_in_pauses(
    segments: Iterable[dict[str, Any]],
    pauses: Sequence[tuple[float, float]],
    margin: float = PAUSE_MARGIN_S,
) -> list[dict[str, Any]]:
    """Output words whose midpoint lies inside a pause shrunk by ``margin`` at each edge.

    A segment without word times counts as its words all at the segment's midpoint.
    """
    inner = [(a + margin, b - margin) for a, b in pauses if b - a > 2 * margin]
    found: list[dict[str, Any]] = []
    for segment in segments:
        words = segment.get("words") or [
            {"start": segment["start"], "end": segment["end"], "text": token}
            for token in str(segment.get("text", "")).split()
        ]
        for word in words:
            middle = (float(word["start"]) + float(word["end"])) / 2
            if any(a < middle < b for a, b in inner):
                found.append(word)
    return found


@dataclass
class Tally:
    """Word errors summed over clips: WER = errors / reference words."""

    clips: int = 0
    words: int = 0
    errors: int = 0
    failed: list[str] = field(default_factory=list)

    def add(self, reference: str, hypothesis: str) -> None:
        deleted, inserted, substituted, _ = seams.word_errors(reference, hypothesis)
        self.clips += 1
        self.words += len(normalise(reference).split())
        self.errors += deleted + inserted + substituted

    @property
    def wer(self) -> float:
        return self.errors / self.words if self.words else float("nan")


# --- the run ------------------------------------------------------------------------------------


def _log(message: str, t0: float) -> None:
    print(f"[{time.perf_counter() - t0:6.1f} s] {message}", flush=True)


def _manifest() -> list[dict[str, Any]]:
    manifest = EVAL_DIR / "manifest.jsonl"
    if not manifest.exists():
        raise SystemExit(f"no evaluation set at {EVAL_DIR}: the benchmark needs ../shared/eval")
    return [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]


def _run_pipeline(entries: list[dict[str, Any]], t0: float, timeout_s: float) -> dict[str, dict[str, Any]]:
    """Submit every entry to one stack, wait for all; returns file -> {job, document}."""
    from localrun.pipeline import LocalPipeline

    results: dict[str, dict[str, Any]] = {}
    _log("synthesizing and deploying the local stack (faster-whisper)", t0)
    with LocalPipeline(overrides={"engine": "faster-whisper"}) as pipeline:
        workers = pipeline.aws.concurrency
        _log(f"stack up: {workers} warm workers per function; submitting {len(entries)} files", t0)
        pending: dict[str, str] = {}
        for entry in entries:  # longest first: the long files' chunks start while clips queue
            pending[pipeline.submit(EVAL_DIR / entry["file"]).job_id] = entry["file"]
        _log("all submitted; waiting", t0)
        deadline = time.monotonic() + timeout_s
        while pending:
            for job_id, name in list(pending.items()):
                job = pipeline.job(job_id)
                if job is None or not JobStatus(job["status"]).is_terminal:
                    continue
                job = pipeline.wait(job_id)
                del pending[job_id]
                document = None
                if job["status"] == "COMPLETED":
                    document = json.loads(pipeline.read_outputs(job)["json"])
                results[name] = {"job": job, "document": document}
                detail = (
                    f"language {job.get('language')}, {job.get('chunks_total')} chunk(s)"
                    if document is not None
                    else f"{job.get('reason_code')}: {job.get('error_message')}"
                )
                _log(f"[{len(results)}/{len(entries)}] {job['status']:9} {name} ({detail})", t0)
            if pending and time.monotonic() > deadline:
                raise SystemExit(f"{len(pending)} jobs unfinished after {timeout_s:.0f} s: {pending}")
            time.sleep(0.25)
    _log("stack stopped", t0)
    return results


def _transcript(result: dict[str, Any] | None) -> str:
    document = (result or {}).get("document")
    return str(document["transcript"]) if document else ""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here as JSON")
    parser.add_argument("--skip-seams", action="store_true", help="leave out the forced-seam run")
    parser.add_argument("--skip-direct", action="store_true", help="leave out faster-whisper direct")
    parser.add_argument("--seam-minutes", type=float, default=2.0)
    parser.add_argument("--seam-chunk-seconds", type=float, default=7.0)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for all jobs")
    args = parser.parse_args()
    t0 = time.perf_counter()
    cores = os.cpu_count() or 2
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"bench.quality: {stamp}, {cores} cores; Whisper base int8, beam {BEAM}; eval set {EVAL_DIR}")

    manifest = _manifest()
    by_file = {str(e["file"]): e for e in manifest}
    short = [e for e in manifest if str(e["file"]).startswith(SHORT_FOLDERS) and e["file"] != SILENCE]
    longform = [e for e in manifest if str(e["file"]).startswith("longform/")]
    submitted = sorted(longform, key=lambda e: -float(e["duration_s"])) + short + [by_file[SILENCE]]

    # 1, 2, 4, 5: everything through one stack.
    t_pipe = time.perf_counter()
    results = _run_pipeline(submitted, t0, args.timeout)
    pipeline_s = time.perf_counter() - t_pipe

    # 1. Short clips.
    tallies: dict[str, Tally] = {"all": Tally()}
    for entry in short:
        folder = str(entry["file"]).split("/", 1)[0]
        result = results[entry["file"]]
        for key in ("all", folder):
            tally = tallies.setdefault(key, Tally())
            tally.add(str(entry["text"]), _transcript(result))
            if result["document"] is None:
                tally.failed.append(str(entry["file"]))

    # 2. Long form, through the pipeline.
    long_entry = by_file[LONGFORM]
    long_path = EVAL_DIR / LONGFORM
    long_result = results[LONGFORM]
    long_doc = long_result["document"] or {"segments": [], "transcript": ""}
    reference = segments_reference(long_path)
    if reference is None:
        raise SystemExit(f"no segments reference beside {long_path}")
    ref_segments = reference["segments"]
    errors = start_errors([u["start"] for u in ref_segments], long_doc["segments"])
    pipeline_long_wer = wer(str(long_entry["text"]), long_doc["transcript"])

    # 4. Words in silence.
    silence_words = len(normalise(_transcript(results[SILENCE])).split())
    pauses = reference_pauses(ref_segments, float(long_entry["duration_s"]))
    stray = words_in_pauses(long_doc["segments"], pauses)

    # 5. Languages.
    languages = []
    for entry in submitted:
        job = results[entry["file"]]["job"]
        expected = None if entry["file"] == SILENCE else str(entry.get("language") or "en")
        detected = job.get("language")
        languages.append({"file": entry["file"], "expected": expected, "detected": detected})
    scored = [row for row in languages if row["expected"] is not None]
    correct = sum(row["expected"] == row["detected"] for row in scored)
    wrong = [row for row in scored if row["expected"] != row["detected"]]

    # 2b. faster-whisper directly on the long-form file (child process, all cores).
    direct_wer = direct_s = None
    direct_text = ""
    if not args.skip_direct:
        _log(f"faster-whisper direct on {LONGFORM} ({cores} threads, beam {BEAM})", t0)
        direct = run_direct(long_path, cores)
        direct_wer, direct_s = wer(str(long_entry["text"]), direct.text), direct.wall_s
        direct_text = direct.text
        _log(f"direct done: {direct.wall_s:.1f} s, WER {direct_wer:.3f}", t0)

    # 3. Seams.
    seam_text = ""
    seam_rows: list[dict[str, Any]] = []
    if not args.skip_seams:
        _log(
            f"bench.seams: {args.seam_minutes:g} min continuous speech, "
            f"chunks <= {args.seam_chunk_seconds:g} s",
            t0,
        )
        report = seams.measure(args.seam_minutes, args.seam_chunk_seconds)
        seam_text, seam_rows = report.table(), [asdict(run) for run in report.runs]
        _log("seams done", t0)

    # --- report --------------------------------------------------------------------------------
    print(
        f"\n== 1. short clips through the pipeline ({tallies['all'].clips} clips, digital silence excluded)"
    )
    for key, tally in tallies.items():
        failed = f"  FAILED: {', '.join(tally.failed)}" if tally.failed else ""
        print(
            f"  {key:12} {tally.clips:3d} clips {tally.words:5d} words {tally.errors:4d} errors  "
            f"WER {tally.wer:.3f}{failed}"
        )
    for entry in short:
        result = results[entry["file"]]
        print(f"    {wer(str(entry['text']), _transcript(result)):6.3f}  {entry['file']}")

    print(f"\n== 2. long form: {LONGFORM} ({float(long_entry['duration_s']):.1f} s)")
    if long_result["document"] is None:
        print(f"  pipeline job FAILED: {long_result['job'].get('reason_code')}")
    print(
        f"  pipeline               WER {pipeline_long_wer:.3f}   "
        f"({long_result['job'].get('chunks_total')} chunks)"
    )
    if direct_wer is not None:
        print(
            f"  faster-whisper direct  WER {direct_wer:.3f}   "
            f"({direct_s:.1f} s; same model, beam {BEAM} and decode options)"
        )
    within = sum(e <= 0.5 for e in errors)
    print(
        f"  utterance starts       {within} of {len(errors)} within 0.5 s of a segment start; error median "
        f"{statistics.median(errors):.3f} s, max {max(errors):.3f} s, "
        f"first {errors[0]:.3f} s, last {errors[-1]:.3f} s"
    )

    if seam_text:
        print("\n== 3. forced seams (bench.seams)")
        print("\n".join("  " + line for line in seam_text.rstrip().splitlines()))

    print("\n== 4. words emitted in silence")
    print(
        f"  {SILENCE}: {silence_words} words ({results[SILENCE]['job']['status']})"
        f"{': ' + repr(_transcript(results[SILENCE])) if silence_words else ''}"
    )
    print(
        f"  {LONGFORM}: {len(stray)} words in {len(pauses)} reference pauses "
        f"({sum(b - a for a, b in pauses):.1f} s; {PAUSE_MARGIN_S} s margin at each edge)"
    )
    for word in stray:
        print(f"    {float(word['start']):8.2f}-{float(word['end']):.2f} s  {word['text']!r}")

    print(f"\n== 5. languages (job record against manifest): {correct} of {len(scored)} correct")
    for row in languages:
        expected = row["expected"] or "- (silence, not scored)"
        mark = "" if row["expected"] is None else ("ok" if row["expected"] == row["detected"] else "WRONG")
        print(f"  {row['file']:58} expected {expected:24} detected {row['detected']!s:6} {mark}")

    seam_by_overlap = {("no overlap" if i == 1 else "overlap"): r for i, r in enumerate(seam_rows) if i}
    wrong_text = ", ".join(f"{Path(r['file']).name}: {r['detected']}" for r in wrong)
    per_folder = ", ".join(f"{k} {t.wer:.3f}" for k, t in tallies.items() if k != "all")
    table = [
        "| measure | result |",
        "|---|---|",
        f"| WER, {tallies['all'].clips} short clips ({tallies['all'].words} words) | "
        f"{tallies['all'].wer:.3f} ({per_folder}) |",
        f"| WER, long form {float(long_entry['duration_s']):.1f} s: pipeline / faster-whisper direct | "
        f"{pipeline_long_wer:.3f} / {'-' if direct_wer is None else f'{direct_wer:.3f}'} |",
        f"| utterance start error (median / max / first / last of {len(errors)}) | "
        f"{statistics.median(errors):.3f} / {max(errors):.3f} / {errors[0]:.3f} / {errors[-1]:.3f} s |",
    ]
    for label, row in seam_by_overlap.items():
        seams_n = row["run"].split(" forced")[0]
        table.append(
            f"| lost / doubled words at {seams_n} forced seams, {label} | "
            f"{row['lost']} / {row['doubled']} (WER {row['wer']:.3f}) |"
        )
    table += [
        f"| words in 10 s of digital silence | {silence_words} |",
        f"| words in long-form pauses ({len(pauses)} pauses, {PAUSE_MARGIN_S} s margin) | {len(stray)} |",
        f"| language correct | {correct} of {len(scored)}{' (' + wrong_text + ')' if wrong else ''} |",
    ]
    print("\n== summary (markdown)\n")
    print("\n".join(table))
    total_s = time.perf_counter() - t0
    print(f"\ncommand: {COMMAND}   ({total_s:.0f} s in all, of which pipeline jobs {pipeline_s:.0f} s)")

    if args.json:
        figures = {
            "date": stamp,
            "command": COMMAND,
            "beam": BEAM,
            "short_clips": {
                k: {"clips": t.clips, "words": t.words, "errors": t.errors, "wer": t.wer, "failed": t.failed}
                for k, t in tallies.items()
            },
            "longform": {
                "file": LONGFORM,
                "pipeline_wer": pipeline_long_wer,
                "pipeline_transcript": long_doc["transcript"],
                "direct_transcript": direct_text,
                "direct_wer": direct_wer,
                "chunks": long_result["job"].get("chunks_total"),
                "start_error_s": {
                    "median": statistics.median(errors),
                    "max": max(errors),
                    "first": errors[0],
                    "last": errors[-1],
                    "within_0_5_s": within,
                    "utterances": len(errors),
                },
            },
            "seams": seam_rows,
            "silence": {
                "digital_silence_words": silence_words,
                "longform_pause_words": len(stray),
                "longform_pauses": len(pauses),
                "margin_s": PAUSE_MARGIN_S,
            },
            "languages": {"correct": correct, "scored": len(scored), "files": languages},
            "seconds": {"total": total_s, "pipeline": pipeline_s},
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
