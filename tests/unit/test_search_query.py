"""The search query language: parsing, validation messages, cursors, hits and highlights."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from transcriber.adapters.search_index import PLAIN_COLUMN, STEMMED_COLUMN, analyzer
from transcriber.domain.search import (
    MAX_LIMIT,
    MAX_QUERY_CHARS,
    MAX_RESULT_WINDOW,
    InvalidSearchQueryError,
    JobEvent,
    SearchHit,
    highlight,
    job_document,
    page_of,
    parse_query,
    query_tokens,
)

JOB = "0123456789abcdef0123456789abcdef"


def test_bare_words_are_terms_and_quoted_words_are_phrases() -> None:
    query = parse_query('budget "next quarter" review')
    assert query.terms == ("budget", "review")
    assert query.phrases == ("next quarter",)
    assert query.limit == 20
    assert query.offset == 0


def test_punctuation_inside_a_phrase_does_not_change_its_words() -> None:
    assert parse_query('"Well, then -- go!"').phrases == ("Well then go",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("x" * (MAX_QUERY_CHARS + 1), "longer than 512"),
        ('"unclosed phrase', "unbalanced double quote"),
        ('budget ""', "empty phrase"),
        ('" ... "', "empty phrase"),
        ("?! -- ...", "no searchable word"),
        (" ".join(["w"] * 33), "more than 32"),
    ],
)
def test_bad_query_text_is_refused_with_a_message(text: str | None, message: str) -> None:
    with pytest.raises(InvalidSearchQueryError, match=message) as raised:
        parse_query(text)
    assert raised.value.reason_code == "INVALID_QUERY"
    assert raised.value.retryable is False


def test_a_query_of_exactly_512_characters_is_accepted() -> None:
    assert len(parse_query("a" * MAX_QUERY_CHARS).terms) == 1


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"language": "english"}, "language"),
        ({"job_id": "../../etc"}, "job_id"),
        ({"job_id": "' OR 1=1 --"}, "job_id"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_after": "2026-02-01T00:00:00Z", "created_before": "2026-01-01T00:00:00Z"}, "earlier"),
        ({"speaker": "s" * 65}, "speaker"),
        ({"speaker": ""}, "speaker"),
        ({"tenant": "someone-else"}, "tenant"),
        ({"limit": 0}, "limit"),
        ({"limit": MAX_LIMIT + 1}, "limit"),
        ({"limit": "ten"}, "whole number"),
    ],
)
def test_bad_filters_are_refused_with_a_message(filters: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSearchQueryError, match=message):
        parse_query("budget", **filters)  # type: ignore[arg-type]


def test_filters_are_normalised() -> None:
    query = parse_query(
        "budget",
        language="EN",
        job_id=JOB,
        created_after="2026-01-01T00:00:00",
        speaker="SPEAKER_1",
        limit="5",
    )
    assert query.filters.language == "en"
    assert query.filters.job_id == JOB
    assert query.filters.created_after == datetime(2026, 1, 1, tzinfo=UTC)
    assert query.filters.speaker == "SPEAKER_1"
    assert query.limit == 5


def test_a_cursor_continues_its_own_query_only() -> None:
    first = parse_query("budget", limit=10)
    cursor = first.next_cursor()
    assert cursor is not None
    second = parse_query("budget", limit=10, cursor=cursor)
    assert second.offset == 10
    with pytest.raises(InvalidSearchQueryError, match="another query"):
        parse_query("salary", limit=10, cursor=cursor)
    with pytest.raises(InvalidSearchQueryError, match="another query"):
        parse_query("budget", limit=10, cursor=cursor, language="de")


@pytest.mark.parametrize(
    "cursor", ["not-base64!", "e30", "eyJvIjotMSwicSI6IngifQ", "\u00e9\u00e9\u00e9\u00e9"]
)
def test_a_forged_or_garbled_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidSearchQueryError, match="cursor"):
        parse_query("budget", cursor=cursor)


def test_pagination_stops_at_the_result_window() -> None:
    query = parse_query("budget", limit=MAX_LIMIT)
    offsets = []
    while (cursor := query.next_cursor()) is not None:
        query = parse_query("budget", limit=MAX_LIMIT, cursor=cursor)
        offsets.append(query.offset)
    assert offsets[-1] + MAX_LIMIT == MAX_RESULT_WINDOW


def _hit(score: float) -> SearchHit:
    return SearchHit(JOB, "a.wav", 1, 0.0, 1.0, "text", "text", score)


def test_a_page_says_whether_more_follow() -> None:
    query = parse_query("budget", limit=2)
    assert page_of(query, [_hit(3), _hit(2)]).next_cursor is None
    more = page_of(query, [_hit(3), _hit(2), _hit(1)])
    assert [h.score for h in more.hits] == [3, 2]
    assert more.next_cursor is not None
    assert set(more.to_dict()) == {"hits", "next_cursor"}
    assert set(more.to_dict()["hits"][0]) == {
        "job_id", "filename", "segment_id", "start", "end", "text", "highlight", "score",
    }  # fmt: skip


def test_english_highlights_use_the_engines_stemmer_and_escape_html() -> None:
    analyze = analyzer(STEMMED_COLUMN)
    tokens = query_tokens(parse_query("runs"), analyze)
    marked = highlight("The RUNNERS were running <fast> & running", tokens, analyze)
    assert marked == "The RUNNERS were <mark>running</mark> &lt;fast&gt; &amp; <mark>running</mark>"


def test_other_languages_match_plain_tokens_case_and_accent_folded() -> None:
    analyze = analyzer(PLAIN_COLUMN)
    tokens = query_tokens(parse_query("laufer"), analyze)
    assert highlight("Die Läufer laufen", tokens, analyze) == "Die <mark>Läufer</mark> laufen"
    assert analyze("Running") == ["running"]  # no stemming outside English


def test_a_transcript_document_keeps_segment_times_and_skips_empty_text() -> None:
    transcript = {
        "job_id": JOB,
        "language": "EN",
        "segments": [
            {"id": 1, "start": 0.0, "end": 2.5, "text": "hello there"},
            {"id": 2, "start": 2.5, "end": 3.0, "text": "  "},
            {"id": 3, "start": 3.0, "end": 4.25, "text": "general", "speaker": "S1"},
        ],
    }
    doc = job_document(
        transcript, tenant="t1", filename="call.wav", created_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert doc.language == "en"
    assert [(s.segment_id, s.start, s.end, s.speaker) for s in doc.segments] == [
        (1, 0.0, 2.5, None),
        (3, 3.0, 4.25, "S1"),
    ]


def test_job_events_name_what_the_indexer_does() -> None:
    completed = JobEvent.model_validate(
        {"detail-type": "Transcription Job Completed", "detail": {"job_id": JOB, "status": "COMPLETED"}}
    )
    deleted = JobEvent.model_validate(
        {"detail-type": "Transcription Job Deleted", "detail": {"job_id": JOB, "tenant_id": "t1"}}
    )
    assert not completed.removes_job
    assert deleted.removes_job
    assert deleted.detail.tenant_id == "t1"
