"""Keep word and segment starts out of silences the engine glossed over.

Whisper's word timestamps come from cross-attention and drift at pauses: the first word after a
pause often "starts" where the previous word ended, swallowing the pause, and two utterances
separated by a long pause can land in one segment. The audio itself says where the pauses are
(energy below a threshold), so a word whose opening part is a pause is moved to just before the
speech that follows it, and segments are split where the words leave a long pause. A long run of
words is split where sentences end (batched decoding gives one segment per stretch of speech of
up to 30 seconds, too coarse for a transcript).
Plain functions of numbers: no engine, no audio library.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from transcriber.domain.models import Segment, Word
from transcriber.domain.subtitles import SENTENCE_END, join_words

Span = tuple[float, float]  # [start, end) of detected speech, in seconds

#: A pause shorter than this inside a word is normal speech; a longer one is not part of the word.
MIN_PAUSE_S = 0.3
#: Subtitles start a little before the sound: the onset of a word is softer than the threshold.
LEAD_S = 0.2
#: A pause between two words at least this long ends a segment.
SEGMENT_PAUSE_S = 1.0
#: A segment longer than this is split after each word that ends a sentence.
SENTENCE_SPLIT_S = 8.0


def pauses(speech: Sequence[Span], min_pause_s: float = MIN_PAUSE_S) -> list[Span]:
    """The silences of at least ``min_pause_s`` before and between the detected speech spans."""
    found: list[Span] = []
    previous_end = 0.0
    for start, end in sorted(speech):
        if start - previous_end >= min_pause_s:
            found.append((previous_end, start))
        previous_end = max(previous_end, end)
    return found


def snap_words(words: Sequence[Word], speech: Sequence[Span]) -> list[Word]:
    """Move each word that opens with (or lies in) a pause to just before the speech after it.

    A word keeps its time unless at least :data:`MIN_PAUSE_S` of its opening is silence, or all
    of it is; words stay in order and never end before they start.
    """
    gaps = pauses(speech)
    snapped: list[Word] = []
    previous_end = 0.0
    for word in words:
        start, end = word.start, word.end
        for gap_start, gap_end in gaps:
            inside = min(word.end, gap_end) - max(word.start, gap_start)
            if word.end <= gap_end and inside >= 0.5 * (word.end - word.start) > 0:
                # (Most of) the word sits in a pause: it is the first word of the speech that follows.
                start, end = max(gap_end - LEAD_S, gap_start), gap_end
            elif word.start < gap_end < word.end and gap_end - max(gap_start, word.start) >= MIN_PAUSE_S:
                start = max(gap_end - LEAD_S, gap_start, word.start)
        start = round(max(start, previous_end), 3)
        end = round(max(end, start), 3)
        snapped.append(Word(start=start, end=end, text=word.text, probability=word.probability))
        previous_end = max(previous_end, end)
    return snapped


def split_at_pauses(words: Sequence[Word], pause_s: float = SEGMENT_PAUSE_S) -> list[list[Word]]:
    """Group words into runs separated by pauses of at least ``pause_s`` seconds."""
    groups: list[list[Word]] = [[words[0]]] if words else []
    for before, after in pairwise(words):
        if after.start - before.end >= pause_s:
            groups.append([after])
        else:
            groups[-1].append(after)
    return groups


def sentence_segments(segment: Segment, longer_than_s: float = SENTENCE_SPLIT_S) -> list[Segment]:
    """``segment`` split after each word that ends a sentence, if it lasts over ``longer_than_s``."""
    groups = split_sentences(segment.words, longer_than_s)
    if len(groups) < 2:
        return [segment]
    return [Segment(start=g[0].start, end=g[-1].end, text=join_words(g), words=tuple(g)) for g in groups]


def split_sentences(words: Sequence[Word], longer_than_s: float = SENTENCE_SPLIT_S) -> list[list[Word]]:
    """Split a run of words longer than ``longer_than_s`` seconds after each sentence end."""
    if not words or words[-1].end - words[0].start <= longer_than_s:
        return [list(words)] if words else []
    groups: list[list[Word]] = [[]]
    for word in words:
        groups[-1].append(word)
        if word.text.strip().endswith(SENTENCE_END):
            groups.append([])
    return [group for group in groups if group]


def refine_segments(segments: Sequence[Segment], speech: Sequence[Span]) -> list[Segment]:
    """Move word starts out of pauses and split segments at long pauses.

    Segments without word timestamps are left as they are (the engine gave nothing to refine).
    """
    all_words = [w for s in segments for w in s.words]
    if not all_words or len(all_words) != sum(len(s.words) for s in segments):
        return list(segments)
    snapped = iter(snap_words(all_words, speech))
    refined: list[Segment] = []
    for segment in segments:
        if not segment.words:
            refined.append(segment)
            continue
        words = [next(snapped) for _ in segment.words]
        groups = split_at_pauses(words)
        for group in groups:
            text = segment.text if len(groups) == 1 else join_words(group)
            refined.append(Segment(start=group[0].start, end=group[-1].end, text=text, words=tuple(group)))
    return refined
