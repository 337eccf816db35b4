"""Word error rate the way ../shared/eval/README.md asks: lower-case, no punctuation, digits as words.

The references are upper-case words without digits; Whisper writes "1,000" or "3rd". Both sides
go through the same normaliser so that only recognition errors count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import jiwer

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand"), (100, "hundred"))


def number_words(n: int) -> str:
    """Spell a non-negative integer in English words ("1984" -> "one thousand nine hundred eighty four")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return f"{number_words(head)} {name}" + (f" {number_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def normalise(text: str) -> str:
    text = text.lower()
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 1,000 -> 1000
    text = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", text)
    text = re.sub(r"\d+", lambda m: f" {number_words(int(m.group()))} ", text)
    text = re.sub(r"[^a-z' ]+", " ", text).replace("'", "")
    return " ".join(text.split())


def wer(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(normalise(reference), normalise(hypothesis)))


def start_errors(true_starts: Sequence[float], segments: Sequence[dict[str, Any]]) -> list[float]:
    """For each true utterance start, the distance to the nearest output segment start (seconds)."""
    starts = [float(s["start"]) for s in segments]
    if not starts:
        return [float("inf")] * len(true_starts)
    return [min(abs(float(t) - s) for s in starts) for t in true_starts]
