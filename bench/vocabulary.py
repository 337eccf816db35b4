"""Recall of a custom vocabulary's terms with and without it (faster-whisper ``hotwords``).

    python -m bench.vocabulary [--beam 5] [--threads 2]

The set: sentences full of names and jargon spoken by espeak-ng (made here, in a temporary
folder), and recordings from ../shared/eval whose references hold rare names (Sense and
Sensibility's "Dashwood", the German reading's "Grimmelshausen" and "Simplicissimus"). One
vocabulary holds every term, as a tenant's would. Each file is transcribed by the pipeline's
engine (transcriber.engines.faster_whisper_engine, the exact call the transcribe step makes)
twice: without and with the vocabulary as hotwords. Printed: the share of the terms' occurrences
in the references that the transcript spells right, and the WER of the rest, both ways.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

from bench.long_audio import EVAL_DIR
from bench.scoring import normalise, wer
from transcriber.adapters.ffmpeg import convert_to_wav
from transcriber.engines.base import DecodeOptions
from transcriber.engines.faster_whisper_engine import FasterWhisperEngine

SPOKEN = [
    "Doctor Siobhan Nguyen prescribed atorvastatin and metoprolol for Mister Okonkwo.",
    "The Kubernetes cluster sends its traces to Grafana through Istio and Prometheus.",
    "Our supplier Zyxel shipped the parts to Reykjavik on Thursday.",
    "Please ask Anneliese Kowalczyk about the Terraform state in Ljubljana.",
    "The patient took ibuprofen and omeprazole after seeing Doctor Ramanathan.",
    "Saoirse booked a flight from Wroclaw to Thessaloniki with Ryanair.",
]
TERMS = [
    "Siobhan", "Nguyen", "atorvastatin", "metoprolol", "Okonkwo", "Kubernetes", "Grafana", "Istio",
    "Prometheus", "Zyxel", "Reykjavik", "Anneliese", "Kowalczyk", "Terraform", "Ljubljana", "ibuprofen",
    "omeprazole", "Ramanathan", "Saoirse", "Wroclaw", "Thessaloniki", "Ryanair",
    "Dashwood", "Grimmelshausen", "Simplicissimus",
]  # fmt: skip
#: ../shared/eval beside the main checkout; a worktree elsewhere names it in EVAL_DIR.
EVAL = Path(os.environ.get("EVAL_DIR") or EVAL_DIR)
#: Eval recordings (path under ../shared/eval, language, reference text).
RECORDED = [
    ("librivox/sense_and_sensibility_01_austen_64kb-0870.wav", "en"),
    ("longform/aeneas_de.mp3", "de"),
]


def _reference(file: str) -> str:
    for line in (EVAL / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if entry["file"] == file:
            return str(entry["text"])
    raise KeyError(file)


def _speak(text: str, folder: Path, index: int) -> Path:
    raw = folder / f"tts{index}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
    out = folder / f"spoken{index}.wav"
    convert_to_wav(raw, out)
    return out


def term_hits(reference: str, hypothesis: str) -> tuple[int, int]:
    """(occurrences of vocabulary terms in the reference, how many of them the hypothesis has)."""
    ref_words, hyp_words = re.findall(r"\w+", reference.lower()), re.findall(r"\w+", hypothesis.lower())
    wanted = [w for w in ref_words if w in {t.lower() for t in TERMS}]
    found = sum(min(ref_words.count(t), hyp_words.count(t)) for t in set(wanted))
    return len(wanted), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    engine = FasterWhisperEngine(cpu_threads=args.threads, beam_size=args.beam)
    engine.load()
    hotwords = ", ".join(TERMS)
    totals = {"without": [0, 0], "with": [0, 0]}
    refs: list[str] = []
    hyps: dict[str, list[str]] = {"without": [], "with": []}
    with tempfile.TemporaryDirectory(prefix="vocab-bench-") as tmp:
        items = [(_speak(text, Path(tmp), i), "en", text, "espeak-ng") for i, text in enumerate(SPOKEN)]
        for file, language in RECORDED:
            wav = Path(tmp) / (Path(file).stem + ".wav")
            convert_to_wav(EVAL / file, wav)
            items.append((wav, language, _reference(file), file))
        print(
            f"{len(items)} files, {len(TERMS)} vocabulary terms, Whisper base int8, "
            f"beam {args.beam}, {args.threads} threads"
        )
        for wav, language, reference, label in items:
            refs.append(normalise(reference))
            line = []
            for mode in ("without", "with"):
                started = time.perf_counter()
                result = engine.transcribe(
                    wav, DecodeOptions(language=language, hotwords=hotwords if mode == "with" else None)
                )
                elapsed = time.perf_counter() - started
                wanted, found = term_hits(reference, result.text)
                totals[mode][0] += wanted
                totals[mode][1] += found
                hyps[mode].append(normalise(result.text))
                line.append(f"{mode}: {found}/{wanted} terms ({elapsed:.1f} s)")
            print(f"  {label[:50]:<50} " + "; ".join(line))
    for mode in ("without", "with"):
        wanted, found = totals[mode]
        print(f"{mode:>7} vocabulary: term recall {found}/{wanted} = {found / max(wanted, 1):.3f}, "
              f"WER {wer(' '.join(refs), ' '.join(hyps[mode])):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
