"""Search across a tenant's transcripts: the query language, its validation, hits and pages.

Plain Python without I/O. The text analysis (case folding, English stemming) is the search
engine's: the index adapter passes its analyzer in wherever words must be compared
(:func:`highlight`), so that what is marked is exactly what the engine matched on.

Query language: bare words are terms and every one must match; words in double quotes are a
phrase (those words, in that order). Filters come as separate parameters (the HTTP API's query
string), never inside the text, so no user text ever becomes filter syntax.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from transcriber.domain.errors import PermanentError

MAX_QUERY_CHARS = 512
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
#: How deep pagination may go (offset + limit): each page re-ranks the top hits, so deep pages
#: cost more; past this the caller should narrow the query with a filter.
MAX_RESULT_WINDOW = 1000
#: Terms plus phrases in one query: bounds the work one request can ask of the engine.
MAX_CLAUSES = 32
MAX_SPEAKER_CHARS = 64
#: The languages whose text is stemmed (English analyzer); every other language is indexed as
#: plain, case-folded tokens. Jobs without a detected language are treated as English.
STEMMED_LANGUAGES = frozenset({"en"})
#: Emitted when a job is deleted (GDPR erasure too): its segments leave the index.
EVENT_JOB_DELETED = "Transcription Job Deleted"

_WORD = re.compile(r"\w+", re.UNICODE)
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"

#: An analyzer: text in, the engine's tokens out (case-folded, stemmed where the language is).
Analyzer = Callable[[str], list[str]]


class InvalidSearchQueryError(PermanentError):
    """The query cannot be run as given; the message says why (the HTTP API answers 422)."""

    reason_code = "INVALID_QUERY"


def uses_stemming(language: str | None) -> bool:
    """Whether text in ``language`` is indexed with the English (stemming) analyzer."""
    return language is None or language.lower() in STEMMED_LANGUAGES


class SearchFilters(BaseModel):
    """Filters that narrow a search; all given ones must hold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    language: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    job_id: str | None = None
    speaker: str | None = Field(default=None, min_length=1, max_length=MAX_SPEAKER_CHARS)

    @field_validator("language")
    @classmethod
    def _language_code(cls, value: str | None) -> str | None:
        if value is not None and not _LANGUAGE.match(value.lower()):
            raise ValueError("must be an ISO 639-1 language code such as 'en'")
        return value.lower() if value else value

    @field_validator("job_id")
    @classmethod
    def _job_id(cls, value: str | None) -> str | None:
        if value is not None and not _JOB_ID.match(value):
            raise ValueError("must be a job id (32 lower-case hex characters)")
        return value

    @field_validator("created_after", "created_before")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        """Times without a zone are UTC, like every timestamp of a job."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


@dataclass(frozen=True)
class SearchQuery:
    """A validated query: what must match, the filters, and which page of the ranking."""

    text: str
    terms: tuple[str, ...]
    phrases: tuple[str, ...]
    filters: SearchFilters
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def fingerprint(self) -> str:
        """Identifies the question (not the page), so a cursor only continues its own query."""
        canonical = json.dumps(
            [self.terms, self.phrases, self.filters.model_dump(mode="json"), self.limit], sort_keys=True
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def next_cursor(self) -> str | None:
        """The cursor of the page after this one, or None past the result window."""
        offset = self.offset + self.limit
        if offset + self.limit > MAX_RESULT_WINDOW:
            return None
        raw = json.dumps({"o": offset, "q": self.fingerprint()}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _split(text: str) -> tuple[list[str], list[str]]:
    """Terms and phrases of the query text; unbalanced quotes are malformed."""
    if text.count('"') % 2:
        raise InvalidSearchQueryError('query has an unbalanced double quote: close the phrase with "')
    terms: list[str] = []
    phrases: list[str] = []
    for index, part in enumerate(text.split('"')):
        if index % 2:  # inside quotes
            words = _WORD.findall(part)
            if not words:
                raise InvalidSearchQueryError("query has an empty phrase: put words between the quotes")
            phrases.append(" ".join(words))
        else:
            terms.extend(_WORD.findall(part))
    return terms, phrases


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        offset, fingerprint = data["o"], data["q"]
    except (ValueError, KeyError, TypeError, UnicodeEncodeError, binascii.Error) as err:
        raise InvalidSearchQueryError("cursor is not one this API returned") from err
    if not isinstance(offset, int) or not isinstance(fingerprint, str) or not 0 <= offset < MAX_RESULT_WINDOW:
        raise InvalidSearchQueryError("cursor is not one this API returned")
    return offset, fingerprint


def _problem(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "filters"
    return f"{where}: {first.get('msg', 'invalid value')}"


def parse_query(
    text: str | None,
    *,
    limit: int | str | None = None,
    cursor: str | None = None,
    **filters: Any,
) -> SearchQuery:
    """Validate a search request into a :class:`SearchQuery`.

    Raises :class:`InvalidSearchQueryError` (with a message for the caller) when the query is
    empty, longer than :data:`MAX_QUERY_CHARS`, has unbalanced quotes, no searchable word, too
    many clauses, a bad filter, a limit outside 1..:data:`MAX_LIMIT` or a cursor of another query.
    """
    if text is None or not text.strip():
        raise InvalidSearchQueryError("query is empty: give at least one word")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidSearchQueryError(f"query is longer than {MAX_QUERY_CHARS} characters")
    terms, phrases = _split(text)
    if not terms and not phrases:
        raise InvalidSearchQueryError("query has no searchable word (letters or digits)")
    if len(terms) + len(phrases) > MAX_CLAUSES:
        raise InvalidSearchQueryError(f"query has more than {MAX_CLAUSES} terms and phrases")
    try:
        size = DEFAULT_LIMIT if limit is None else int(limit)
    except ValueError as err:
        raise InvalidSearchQueryError("limit must be a whole number") from err
    if not 1 <= size <= MAX_LIMIT:
        raise InvalidSearchQueryError(f"limit must be between 1 and {MAX_LIMIT}")
    try:
        parsed_filters = SearchFilters(**filters)
    except ValidationError as err:
        raise InvalidSearchQueryError(_problem(err)) from err
    after, before = parsed_filters.created_after, parsed_filters.created_before
    if after is not None and before is not None and after >= before:
        raise InvalidSearchQueryError("created_after must be earlier than created_before")
    query = SearchQuery(
        text=text, terms=tuple(terms), phrases=tuple(phrases), filters=parsed_filters, limit=size
    )
    if cursor:
        offset, fingerprint = _decode_cursor(cursor)
        if fingerprint != query.fingerprint():
            raise InvalidSearchQueryError(
                "cursor belongs to another query: repeat the same query and filters"
            )
        query = SearchQuery(
            text=text,
            terms=query.terms,
            phrases=query.phrases,
            filters=parsed_filters,
            limit=size,
            offset=offset,
        )
    return query


def query_tokens(query: SearchQuery, analyze: Analyzer) -> frozenset[str]:
    """The engine's tokens for every word of the query (what a matching segment contains)."""
    words = [*query.terms, *(w for phrase in query.phrases for w in phrase.split())]
    return frozenset(token for word in words for token in analyze(word))


def highlight(text: str, tokens: Iterable[str], analyze: Analyzer) -> str:
    """``text`` HTML-escaped, with each word whose token is among ``tokens`` in ``<mark>...</mark>``.

    Each word goes through the engine's analyzer, so "Running" is marked for the query "runs"
    exactly when the index matched it; a phrase's words are marked wherever they occur.
    """
    wanted = frozenset(tokens)
    out: list[str] = []
    position = 0
    for match in _WORD.finditer(text):
        word = match.group()
        if wanted.intersection(analyze(word)):
            out.append(html.escape(text[position : match.start()]))
            out.append(f"{MARK_OPEN}{html.escape(word)}{MARK_CLOSE}")
            position = match.end()
    out.append(html.escape(text[position:]))
    return "".join(out)


@dataclass(frozen=True)
class IndexedSegment:
    """One transcript segment as the index holds it."""

    segment_id: int
    start: float
    end: float
    text: str
    speaker: str | None = None


@dataclass(frozen=True)
class JobDocument:
    """Everything the index keeps of one completed job: its facts and its segments."""

    tenant: str
    job_id: str
    filename: str
    language: str | None
    created_at: datetime
    segments: tuple[IndexedSegment, ...] = ()


def job_document(
    transcript: dict[str, Any], *, tenant: str, filename: str, created_at: datetime
) -> JobDocument:
    """The index's view of a transcript JSON document (transcriber/domain/formats.py's shape)."""
    segments = tuple(
        IndexedSegment(
            segment_id=int(item["id"]),
            start=float(item["start"]),
            end=float(item["end"]),
            text=str(item["text"]),
            speaker=item.get("speaker"),
        )
        for item in transcript.get("segments", [])
        if str(item.get("text", "")).strip()
    )
    language = transcript.get("language")
    return JobDocument(
        tenant=tenant,
        job_id=str(transcript["job_id"]),
        filename=filename,
        language=language.lower() if isinstance(language, str) else None,
        created_at=created_at,
        segments=segments,
    )


@dataclass(frozen=True)
class SearchHit:
    """One matching segment. ``score`` is relative to the best hit of the same answer (1.0)."""

    job_id: str
    filename: str
    segment_id: int
    start: float
    end: float
    text: str
    #: the segment's text, HTML-escaped, with the matched words in <mark>...</mark>
    highlight: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "score": round(self.score, 4)}


@dataclass(frozen=True)
class SearchPage:
    hits: tuple[SearchHit, ...] = ()
    next_cursor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"hits": [hit.to_dict() for hit in self.hits], "next_cursor": self.next_cursor}


def relative_scores(hits: Sequence[SearchHit]) -> tuple[SearchHit, ...]:
    """``hits`` with each score divided by the best one's, so the best is 1.0.

    The engine's BM25 scores use statistics of the whole index, which holds every tenant's text:
    a word's rarity (IDF) counts other tenants' segments, so a raw score would tell a tenant
    whether others' transcripts contain its query's words. For a one-word query the IDF is a
    factor common to every hit and cancels here; what remains (the word's count in the segment,
    the segment's length against the index's average) says nothing about which words others
    use. Residuals: with several words or a phrase, each word's IDF weighs it against the
    others, so the ratios (and the order) keep a trace of those words' rarity across tenants;
    so do hits from both text columns at once (English and other languages, no ``language``
    filter), each column having its own IDF, and, until maintenance folds them into the index,
    hits on recently added rows, which the engine scores apart with other statistics. Scores
    compare hits within one answer only.
    """
    best = max((hit.score for hit in hits), default=0.0)
    if best <= 0:
        return tuple(hits)
    return tuple(replace(hit, score=hit.score / best) for hit in hits)


def page_of(query: SearchQuery, ranked: Sequence[SearchHit]) -> SearchPage:
    """The page for ``query`` from up to ``limit + 1`` ranked hits (the extra one says "more")."""
    more = len(ranked) > query.limit
    return SearchPage(hits=tuple(ranked[: query.limit]), next_cursor=query.next_cursor() if more else None)


class JobEventDetail(BaseModel):
    job_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    #: set on deletion events: the job record may already be a tombstone without it
    tenant_id: str | None = None


class JobEvent(BaseModel):
    """The part of a jobs-bus event (EventBridge -> SQS) the indexer acts on."""

    detail_type: str = Field(alias="detail-type")
    detail: JobEventDetail

    @property
    def removes_job(self) -> bool:
        return self.detail_type == EVENT_JOB_DELETED
