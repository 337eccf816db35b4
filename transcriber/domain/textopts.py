"""Validation of the text options (vocabulary, redaction, custom spelling, captions).

Kept out of options.py so that JobOptions stays one short list of fields; every check raises
:class:`InvalidOptionsError` with what is accepted, like the other options. Values given as JSON
text (S3 metadata carries only strings) are decoded first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from transcriber.domain.errors import InvalidOptionsError

#: The PII kinds redaction knows, and the tag each becomes in the outputs.
PII_TAGS = {
    "email": "[EMAIL]",
    "phone_number": "[PHONE]",
    "payment_card_number": "[CARD]",
    "national_id": "[NATIONAL_ID]",
    "ip_address": "[IP_ADDRESS]",
}
MAX_REPLACEMENTS = 100
MAX_REPLACEMENT_CHARS = 50
#: A vocabulary is cut to Whisper's prompt budget (about 224 tokens) long before these bounds.
MAX_PHRASES = 50
MAX_PHRASE_CHARS = 50
VOCABULARY_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CAPTION_LINE_CHARS_RANGE = (10, 80)
CAPTION_LINES_RANGE = (1, 4)
CAPTION_DURATION_RANGE = (1.0, 30.0)


@dataclass(frozen=True)
class CaptionStyle:
    """Subtitle limits: the usual conventions by default (42 characters, 2 lines, 7 s a cue)."""

    max_line_chars: int = 42
    max_lines: int = 2
    max_duration_s: float = 7.0


def _decoded(name: str, value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise InvalidOptionsError(f"Option {name} must be a JSON list, not {value[:40]!r}.") from None
    return value


def check_replacements(value: Any) -> tuple[tuple[str, str], ...]:
    """``[{"from": "tom", "to": "Thom"}]`` as pairs; whole words or phrases, bounded."""
    value = _decoded("replacements", value)
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or len(value) > MAX_REPLACEMENTS:
        raise InvalidOptionsError(
            f"Option replacements must be a list of up to {MAX_REPLACEMENTS} "
            '{"from": ..., "to": ...} objects.'
        )
    pairs = []
    for item in value:
        source, target = (item.get("from"), item.get("to")) if isinstance(item, dict) else (None, None)
        if (
            not isinstance(source, str)
            or not isinstance(target, str)
            or not 1 <= len(source.strip()) <= MAX_REPLACEMENT_CHARS
            or len(target) > MAX_REPLACEMENT_CHARS
            or not re.search(r"\w", source)
        ):
            raise InvalidOptionsError(
                'Each replacement must be {"from": "words", "to": "text"}: '
                f'"from" 1 to {MAX_REPLACEMENT_CHARS} characters with a letter or digit, '
                f'"to" up to {MAX_REPLACEMENT_CHARS}.'
            )
        pairs.append((" ".join(source.split()), " ".join(target.split())))
    return tuple(pairs)


def check_entity_types(value: Any) -> tuple[str, ...] | None:
    """The PII kinds to redact (None: all of them); an unknown one is refused with the list."""
    value = _decoded("pii_entity_types", value) if isinstance(value, str) and value[:1] == "[" else value
    if value is None:
        return None
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not value:
        raise InvalidOptionsError(
            f"Option pii_entity_types must be a non-empty list of: {', '.join(PII_TAGS)}."
        )
    names = [str(v).strip().lower() for v in value]
    unknown = sorted(set(names) - set(PII_TAGS))
    if unknown:
        raise InvalidOptionsError(
            f"Unknown PII entity type(s): {', '.join(n[:30] for n in unknown[:5])}. "
            f"Accepted: {', '.join(PII_TAGS)}."
        )
    return tuple(dict.fromkeys(names))


def check_vocabulary_name(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not VOCABULARY_NAME.match(value):
        raise InvalidOptionsError(
            "Option vocabulary_name must be 1 to 64 letters, digits, '-' or '_' "
            "(a name given to PUT /v1/vocabularies)."
        )
    return value


def check_phrases(value: Any) -> tuple[str, ...]:
    """A vocabulary's phrases: 1 to 50, each 1 to 50 characters of one line."""
    value = _decoded("vocabulary_phrases", value)
    if not isinstance(value, list | tuple) or not value:
        raise InvalidOptionsError(f"A vocabulary needs 1 to {MAX_PHRASES} phrases; it has none.")
    phrases = [" ".join(str(p).split()) if isinstance(p, str) else "" for p in value]
    if len(phrases) > MAX_PHRASES or not all(1 <= len(p) <= MAX_PHRASE_CHARS for p in phrases):
        raise InvalidOptionsError(
            f"A vocabulary holds 1 to {MAX_PHRASES} phrases, each 1 to {MAX_PHRASE_CHARS} characters of text."
        )
    return tuple(dict.fromkeys(phrases))
