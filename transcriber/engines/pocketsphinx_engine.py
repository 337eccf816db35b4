"""A tiny English engine (the model inside the pocketsphinx wheel) for fast pipeline tests.

It loads in a fraction of a second and needs no weights assembly, so tests of chunking,
retries and merging run quickly; its accuracy (about 50% WER) is not the point.
"""

from __future__ import annotations

import io
import re
import threading
import wave
from dataclasses import replace
from pathlib import Path
from typing import Any

from pocketsphinx import Decoder, Segmenter

from transcriber.domain.errors import EngineError, InvalidOptionsError, TransientEngineError
from transcriber.domain.models import Segment, Word
from transcriber.engines.base import DEFAULT_DECODING, DecodeOptions, EngineResult, LanguageGuess

SAMPLE_RATE = 16000
FRAME_S = 0.01  # pocketsphinx segment frames are 10 ms.
PAUSE_S = 0.5  # A gap this long between words starts a new segment.
_ALTERNATE = re.compile(r"\(\d+\)$")  # "the(2)": alternate pronunciation of "the".


def _is_filler(word: str) -> bool:
    return not word or word.startswith(("<", "[", "+")) or word in {"<s>", "</s>", "<sil>"}


class PocketsphinxEngine:
    """English only: another requested language is refused; it has no beam to size."""

    name = "pocketsphinx"

    def __init__(self) -> None:
        self._decoder: Any = None
        self._lock = threading.Lock()  # A decoder holds one utterance at a time.

    def load(self) -> None:
        self._get_decoder()

    def _get_decoder(self) -> Any:
        if self._decoder is None:
            try:
                # Tighter per-frame limits than the defaults: about twice as fast, same accuracy.
                self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", maxhmmpf=5000, maxwpf=10)
            except Exception as exc:
                raise EngineError(f"cannot load pocketsphinx: {type(exc).__name__}: {exc}") from exc
        return self._decoder

    def transcribe(self, wav_path: Path, options: DecodeOptions = DEFAULT_DECODING) -> EngineResult:
        """Decode the file utterance by utterance, then split the words into segments at pauses.

        Of ``options`` only the language (English or none) and word timestamps apply: it has no
        beam to size, no translation or prompt, and its dictionary is fixed (no hotwords)."""
        language = options.language
        if language not in (None, "en"):
            raise InvalidOptionsError(
                f"This deployment's engine (pocketsphinx) transcribes English only, not {language!r}; "
                "leave the language out or set it to 'en'."
            )
        pcm, duration = _read_pcm(wav_path)
        words: list[Word] = []
        with self._lock:
            decoder = self._get_decoder()
            try:
                # Decoding utterance by utterance (split by pocketsphinx's own VAD) is faster and
                # more accurate than one long utterance, and skips silence.
                for speech in Segmenter(sample_rate=SAMPLE_RATE).segment(io.BytesIO(pcm)):
                    decoder.start_utt()
                    decoder.process_raw(speech.pcm, full_utt=True)
                    decoder.end_utt()
                    words.extend(_words(decoder.seg(), float(speech.start_time), duration))
            except MemoryError as exc:
                self._decoder = None
                raise TransientEngineError(f"pocketsphinx out of memory on {wav_path.name}") from exc
            except Exception as exc:
                self._decoder = None  # It may be stuck inside an utterance: start afresh next time.
                raise EngineError(f"pocketsphinx failed on {wav_path.name}: {exc}") from exc
        segments = group_words(words)
        if not options.word_timestamps:
            segments = tuple(replace(s, words=()) for s in segments)
        # Its only model is English, so that is all it can detect.
        detection = (
            None if language else LanguageGuess(probabilities={"en": 1.0}, speech_seconds=round(duration, 3))
        )
        return EngineResult(
            language="en", segments=segments, duration=round(duration, 3), detection=detection
        )


def _words(entries: Any, offset: float, duration: float) -> list[Word]:
    """Real words of one decoded utterance, timed from the file start; fillers dropped."""
    return [
        Word(
            start=round(offset + seg.start_frame * FRAME_S, 3),
            end=round(min(offset + (seg.end_frame + 1) * FRAME_S, duration), 3),
            text=_ALTERNATE.sub("", seg.word),
            probability=round(min(max(float(seg.prob), 0.0), 1.0), 4),
        )
        for seg in entries
        if not _is_filler(seg.word)
    ]


def group_words(words: list[Word], pause: float = PAUSE_S) -> tuple[Segment, ...]:
    """Split a word sequence into segments wherever the gap between words is ``pause`` or more."""
    groups: list[list[Word]] = []
    for word in words:
        if groups and round(word.start - groups[-1][-1].end, 3) < pause:  # Round: float noise.
            groups[-1].append(word)
        else:
            groups.append([word])
    return tuple(
        Segment(start=g[0].start, end=g[-1].end, text=" ".join(w.text for w in g), words=tuple(g))
        for g in groups
    )


def _read_pcm(wav_path: Path) -> tuple[bytes, float]:
    """Raw 16-bit PCM frames of a 16 kHz mono WAV, and its duration in seconds."""
    try:
        with wave.open(str(wav_path), "rb") as wav:
            shape = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
            if shape != (1, 2, SAMPLE_RATE):
                raise EngineError(
                    f"{wav_path.name}: expected 16 kHz mono 16-bit WAV, got {shape[2]} Hz, "
                    f"{shape[0]} channel(s), {8 * shape[1]}-bit"
                )
            frames = wav.getnframes()
            return wav.readframes(frames), frames / SAMPLE_RATE
    except FileNotFoundError:
        raise EngineError(f"audio file not found: {wav_path}") from None
    except (wave.Error, EOFError, OSError) as exc:
        raise EngineError(f"not a readable WAV file: {wav_path}: {exc}") from exc
