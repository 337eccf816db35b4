"""Edits applied to a merged transcript before it is rendered: every output gets the same text.

In order: hyphenated words split by the recogniser are joined, custom spellings replace whole
words, and personal data becomes a tag (``[PHONE]``). Each edit works on words and keeps their
times (a replaced run spans its first word's start to its last word's end); a segment without
word times is edited through its text's words and keeps no words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace

from transcriber.domain.models import Segment, Transcript, Word
from transcriber.domain.options import JobOptions
from transcriber.domain.redaction import find_pii
from transcriber.domain.textopts import PII_TAGS

#: Words after which "merk -" is a suspended compound ("merk- und merkwürdig"), not a dash.
_SUSPENDED_BEFORE = {"und", "oder", "bzw", "sowie", "and", "or", "en", "of", "et", "ou"}
_TRAILING = re.compile(r"[^\w\]]+$")

Edit = Callable[[list[Word]], list[Word]]


def _spaced(words: Sequence[Word]) -> bool:
    return any(w.text[:1].isspace() for w in words)


def _merged(first: Word, last: Word, text: str) -> Word:
    return Word(first.start, max(first.end, last.end), text, first.probability, first.speaker)


def join_hyphens(words: list[Word]) -> list[Word]:
    """``ill`` + `` -disposed`` -> ``ill-disposed``; ``merk`` + `` -`` (before ``und``) -> ``merk-``."""
    out: list[Word] = []
    for i, word in enumerate(words):
        bare = word.text.strip()
        following = words[i + 1].text.strip().lower().strip(",.") if i + 1 < len(words) else ""
        joins_next = bare.startswith("-") and len(bare) > 1 and bare[1:2].isalnum()
        suspended = bare == "-" and following in _SUSPENDED_BEFORE
        if out and out[-1].text.strip()[-1:].isalnum() and (joins_next or suspended):
            out[-1] = _merged(out[-1], word, out[-1].text.rstrip() + bare)
        else:
            out.append(word)
    return out


def _case_like(source: str, target: str) -> str:
    """A lower-case replacement takes the capital of the word it replaces (sentence starts)."""
    if source[:1].isupper() and target[:1].islower():
        return target[:1].upper() + target[1:]
    return target


def replacer(pairs: Sequence[tuple[str, str]]) -> Edit:
    """Whole-word replacement; a ``from`` in lower case matches any case, otherwise its exact case."""

    def key(text: str, exact: bool) -> str:
        bare = text.strip().strip(",.;:!?\"'")
        return bare if exact else bare.lower()

    rules = [(source.split(), target, source != source.lower()) for source, target in pairs]

    def edit(words: list[Word]) -> list[Word]:
        out: list[Word] = []
        i = 0
        while i < len(words):
            for parts, target, exact in rules:
                window = words[i : i + len(parts)]
                if len(window) == len(parts) and [key(w.text, exact) for w in window] == [
                    p if exact else p.lower() for p in parts
                ]:
                    first, last = window[0], window[-1]
                    lead = first.text[: len(first.text) - len(first.text.lstrip())]
                    trail = _TRAILING.search(last.text.strip())
                    text = lead + _case_like(first.text.strip(), target) + (trail.group() if trail else "")
                    out.append(_merged(first, last, text))
                    i += len(parts)
                    break
            else:
                out.append(words[i])
                i += 1
        return out

    return edit


def redactor(kinds: Collection[str]) -> Edit:
    def edit(words: list[Word]) -> list[Word]:
        matches = find_pii([w.text for w in words], kinds)
        if not matches:
            return words
        out, at = [], 0
        for match in matches:
            out.extend(words[at : match.start])
            first, last = words[match.start], words[match.end - 1]
            lead = first.text[: len(first.text) - len(first.text.lstrip())]
            trail = last.text.strip()[-1:] if last.text.strip()[-1:] in ",.?!;:" else ""
            out.append(_merged(first, last, f"{lead}{PII_TAGS[match.kind]}{trail}"))
            at = match.end
        return [*out, *words[at:]]

    return edit


def edit_segment(segment: Segment, edits: Sequence[Edit]) -> Segment:
    """The segment after every edit; its text is rebuilt from its words only when one changed."""
    timed = bool(segment.words)
    words = (
        list(segment.words) if timed else [Word(segment.start, segment.end, t) for t in segment.text.split()]
    )
    edited = words
    for edit in edits:
        edited = edit(edited)
    if edited == words:
        return segment
    text = "".join(w.text for w in edited) if _spaced(edited) else " ".join(w.text for w in edited)
    return replace(segment, text=" " + text.strip() if segment.text[:1] == " " else text.strip(),
                   words=tuple(edited) if timed else ())  # fmt: skip


def text_edits(options: JobOptions, *, redact: bool = True) -> list[Edit]:
    """The edits a job's options ask for (hyphen joining always); ``redact`` False leaves PII."""
    edits: list[Edit] = [join_hyphens]
    if options.replacements:
        edits.append(replacer(options.replacements))
    if redact and options.redact_pii:
        edits.append(redactor(options.pii_entity_types or tuple(PII_TAGS)))
    return edits


def edit_transcript(transcript: Transcript, edits: Sequence[Edit]) -> Transcript:
    return replace(transcript, segments=tuple(edit_segment(s, edits) for s in transcript.segments))
