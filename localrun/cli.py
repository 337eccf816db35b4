"""``make run``: transcribe one file through the local pipeline and write the four outputs.

    python -m localrun.cli [FILE] [--out DIR] [--engine faster-whisper|pocketsphinx]
                           [--language CODE] [--beam-size N] [--no-word-timestamps]
                           [--max-chunk-seconds S] [--no-dedupe] [--channel-identification]

Exit codes: 0 done; 2 the job failed (the reason is printed); 1 the tool itself could not run.
Failures print one paragraph, never a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SAMPLE = REPO_ROOT / "samples" / "sample.flac"
ENGINES = ("faster-whisper", "pocketsphinx")


def _paragraph(text: str) -> str:
    return textwrap.fill(" ".join(text.split()), width=100)


def _fail(message: str, code: int) -> int:
    print(_paragraph(message), file=sys.stderr)
    return code


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="transcribe-local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "file",
        nargs="?",
        type=Path,
        default=DEFAULT_SAMPLE,
        help="audio file to transcribe (default: the bundled sample)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("transcripts"), help="output folder (default: transcripts)"
    )
    parser.add_argument("--engine", choices=ENGINES, default=None, help="speech engine (default: the env's)")
    parser.add_argument("--env", default="dev", help="environment settings from cdk.json (default: dev)")
    parser.add_argument(
        "--workers", type=int, default=None, help="warm workers per function (default: the number of cores)"
    )
    job = parser.add_argument_group("per-job options (defaults: see the README)")
    job.add_argument(
        "--language", default=None, help="ISO 639-1 code such as en or de (default: detected by voting)"
    )
    job.add_argument("--beam-size", type=int, default=None, help="decoder beam, 1-10 (default: 5)")
    job.add_argument(
        "--no-word-timestamps",
        dest="word_timestamps",
        action="store_false",
        help="no word-level times (faster; seams reconciled per segment)",
    )
    job.add_argument(
        "--no-dedupe",
        dest="dedupe",
        action="store_false",
        help="transcribe even if the same audio was transcribed recently with the same options",
    )
    job.add_argument(
        "--max-chunk-seconds", type=float, default=None, help="longest chunk, 10-600 (default: the env's, 30)"
    )
    job.add_argument(
        "--channel-identification",
        action="store_true",
        help="transcribe each channel on its own, labelled ch_0, ch_1 (call recordings)",
    )
    job.add_argument("--task", choices=("transcribe", "translate"), help="translate: into English")
    job.add_argument("--prompt", default=None, help="text that primes every chunk (names, spelling)")
    job.add_argument("--speaker-labels", action="store_true", help="label who speaks (spk_0, ...)")
    job.add_argument("--min-speakers", type=int, default=None, help="fewest speakers, 1-30 (implies labels)")
    job.add_argument("--max-speakers", type=int, default=None, help="most speakers, 1-30 (implies labels)")
    parser.add_argument("--timeout", type=float, default=3600, help="give up after this many seconds")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser.parse_args(argv)


def _check_input(path: Path) -> str | None:
    if not path.exists():
        return (
            f"error: {path} does not exist. Give the path of an audio file (WAV, MP3, M4A, FLAC, OGG, ...)."
        )
    if not path.is_file():
        return f"error: {path} is not a file. Give the path of an audio file."
    if not os.access(path, os.R_OK):
        return f"error: {path} cannot be read; check its permissions."
    return None


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from localrun.environment import RuntimeSettings
    from localrun.pipeline import LocalPipeline
    from transcriber.domain.errors import InvalidOptionsError
    from transcriber.domain.options import JobOptions

    problem = _check_input(args.file)
    if problem:
        return _fail(problem, 1)
    try:
        options = JobOptions.parse(
            {
                "language": args.language,
                "beam_size": args.beam_size,
                "word_timestamps": args.word_timestamps,
                "max_chunk_seconds": args.max_chunk_seconds,
                "dedupe": args.dedupe,
                "channel_identification": args.channel_identification,
                "task": args.task,
                "prompt": args.prompt,
                "speaker_labels": args.speaker_labels,
                "min_speakers": args.min_speakers,
                "max_speakers": args.max_speakers,
            }
        )
    except InvalidOptionsError as err:
        return _fail(f"error: {err.message}", 1)
    overrides: dict[str, Any] = {}
    if args.engine:
        overrides["engine"] = args.engine
    if args.workers:
        overrides["map_max_concurrency"] = args.workers

    started = time.monotonic()
    print("Starting the local stack (synthesize, deploy into the embedded AWS)...", file=sys.stderr)
    with LocalPipeline(
        env_name=args.env, overrides=overrides, runtime=RuntimeSettings(concurrency=args.workers)
    ) as pipeline:
        deployed = time.monotonic()
        submission = pipeline.submit(args.file, options=options)
        print(f"Uploaded {args.file.name} as job {submission.job_id}", file=sys.stderr)
        bar = tqdm(total=1, unit="chunk", desc="Transcribing", disable=args.quiet, file=sys.stderr)

        def show(job: dict[str, Any]) -> None:
            total = int(job.get("chunks_total") or 0)
            if total and bar.total != total:
                bar.reset(total=total)
            done = int(job.get("chunks_done") or 0)
            if done > bar.n:
                bar.update(done - bar.n)
            bar.set_postfix_str(job["status"].lower(), refresh=True)

        try:
            job = pipeline.wait(submission.job_id, timeout_s=args.timeout, on_progress=show)
        finally:
            bar.close()
        if job["status"] != "COMPLETED":
            reason = job.get("reason_code", "UNKNOWN")
            message = job.get("error_message", "no message was recorded")
            return _fail(f"Transcription of {args.file} failed ({reason}): {message}", 2)
        texts = pipeline.read_outputs(job)
        workers, _ = pipeline.aws.runtime.stats.busiest("TranscribeFunction")

    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.file.name.rsplit(".", 1)[0] if "." in args.file.name else args.file.name
    written = []
    for fmt, text in texts.items():
        target = args.out / f"{stem}.{fmt}"
        target.write_text(text, encoding="utf-8")
        written.append(str(target))
    print(texts["txt"].strip())
    finished = time.monotonic()
    print(
        f"\nDone: {job.get('duration', 0):.1f} s of audio, {job.get('chunks_total')} chunk(s), "
        f"language {job.get('language')}, {job.get('segments')} segments; "
        f"transcription {finished - deployed:.1f} s (total {finished - started:.1f} s) "
        f"with up to {workers} parallel workers.\nWrote {', '.join(written)}",
        file=sys.stderr,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        return _fail("Interrupted.", 130)
    except Exception as err:
        if args.debug:
            raise
        return _fail(
            f"error: the local pipeline could not run: {type(err).__name__}: {err}. "
            "Run again with --debug for the full traceback.",
            1,
        )


if __name__ == "__main__":
    sys.exit(main())
