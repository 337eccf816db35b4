"""The search index: LanceDB tables on S3 with LanceDB's native full-text (BM25) index.

One table holds every tenant's transcript segments, one row per segment. Isolation is a
``tenant`` column that every read filters on (a prefilter, built as a typed expression: no
caller's value is ever spliced into filter text). The index lives in S3 only, so it costs
storage while idle and any number of Lambda readers can open it; concurrent writers are safe
because Lance commits a new table version with a conditional put (or, with an ``s3+ddb://``
URI, through a DynamoDB commit table) and retries its own operation on conflict. Writers (the
indexer, maintenance) create the table; a reader never writes, so the search function can be
read-only, and it answers "no hits" until the first job is indexed.

Deleting rows only marks them deleted: their text stays in the table's files until
:meth:`SearchIndex.optimize` rewrites those files and removes the versions that still point to
the old ones (see there for how long that takes).

Text is indexed in one of two columns with their own analyzers: ``text_stemmed`` (English:
case-folded, accents folded, stemmed) for English or unknown language, ``text_plain`` (the
same without stemming) for every other language. A query searches the column(s) its language
filter allows; a segment only ever has text in one of them.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import timedelta
from functools import lru_cache
from typing import Any

import lancedb
import pyarrow as pa
from lancedb.expr import Expr, col, lit
from lancedb.index import FTS
from lancedb.query import BooleanQuery, FullTextOperator, FullTextQuery, MatchQuery, Occur, PhraseQuery

from transcriber.domain.errors import RetryableError
from transcriber.domain.search import (
    Analyzer,
    JobDocument,
    SearchHit,
    SearchPage,
    SearchQuery,
    highlight,
    page_of,
    query_tokens,
    relative_scores,
    uses_stemming,
)

#: Where the index lives (``s3://bucket/prefix``, or ``s3+ddb://bucket/prefix?ddbTableName=T``).
INDEX_URI_ENV = "SEARCH_INDEX_URI"
TABLE_NAME = "segments"
STEMMED_COLUMN = "text_stemmed"
PLAIN_COLUMN = "text_plain"

#: The analyzers of the two text columns; the same settings tokenize words for highlighting.
#: Stop words are kept so that a phrase such as "to be or not to be" is searchable.
_COMMON_ANALYSIS: dict[str, Any] = {
    "base_tokenizer": "simple",
    "language": "English",
    "lower_case": True,
    "ascii_folding": True,
    "remove_stop_words": False,
}
ANALYSIS: dict[str, dict[str, Any]] = {
    STEMMED_COLUMN: {**_COMMON_ANALYSIS, "stem": True},
    PLAIN_COLUMN: {**_COMMON_ANALYSIS, "stem": False},
}

SCHEMA = pa.schema(
    [
        pa.field("tenant", pa.string(), nullable=False),
        pa.field("job_id", pa.string(), nullable=False),
        pa.field("filename", pa.string()),
        pa.field("language", pa.string()),
        pa.field("created_at", pa.timestamp("ms", tz="UTC")),
        pa.field("segment_id", pa.int32(), nullable=False),
        pa.field("start_seconds", pa.float64()),
        pa.field("end_seconds", pa.float64()),
        pa.field("speaker", pa.string()),
        pa.field(STEMMED_COLUMN, pa.string()),
        pa.field(PLAIN_COLUMN, pa.string()),
    ]
)
#: Only what a hit shows: each column of each hit is one more ranged read from S3.
_HIT_COLUMNS = [
    "job_id",
    "filename",
    "segment_id",
    "start_seconds",
    "end_seconds",
    STEMMED_COLUMN,
    PLAIN_COLUMN,
    "_score",
]


@lru_cache(maxsize=65536)
def _tokens(word: str, column: str) -> list[str]:
    return [token.text for token in lancedb.tokenize(word, **ANALYSIS[column])]


def analyzer(column: str) -> Analyzer:
    """The engine's analysis of one text column, as a function (for highlights and tests)."""
    return lambda text: _tokens(text, column)


def storage_options_from_environment() -> dict[str, str]:
    """Lance's S3 settings from the standard AWS variables: moto locally, the role in Lambda.

    Only what is set is passed on; Lance's own credential chain covers the rest.
    """
    options: dict[str, str] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["endpoint"] = endpoint
        if endpoint.startswith("http://"):
            options["allow_http"] = "true"
    for option, variable in (
        ("region", "AWS_REGION"),
        ("access_key_id", "AWS_ACCESS_KEY_ID"),
        ("secret_access_key", "AWS_SECRET_ACCESS_KEY"),
        ("session_token", "AWS_SESSION_TOKEN"),
    ):
        if os.environ.get(variable):
            options[option] = os.environ[variable]
    if "region" not in options and os.environ.get("AWS_DEFAULT_REGION"):
        options["region"] = os.environ["AWS_DEFAULT_REGION"]
    if endpoint and uri_uses_dynamodb(os.environ.get(INDEX_URI_ENV, "")):
        options["dynamodb_endpoint"] = endpoint
    return options


def uri_uses_dynamodb(uri: str) -> bool:
    return uri.startswith("s3+ddb://")


def _is_commit_conflict(err: Exception) -> bool:
    text = str(err).lower()
    return "conflict" in text or "concurrent" in text or "retryable" in text


class SearchIndex:
    """Add, replace, delete and search transcript segments, always within one tenant."""

    def __init__(
        self,
        uri: str,
        *,
        storage_options: dict[str, str] | None = None,
        read_consistency: timedelta = timedelta(0),
    ) -> None:
        """``read_consistency``: how stale a read may be. Zero checks for a newer table version
        on every query (one small S3 request), so a deleted job is never found again."""
        self._db = lancedb.connect(
            uri, storage_options=storage_options or {}, read_consistency_interval=read_consistency
        )
        self._table: Any = None  # a writer's: created, with its indices
        self._opened: Any = None  # a reader's: opened only

    @classmethod
    def from_environment(cls) -> SearchIndex:
        uri = os.environ.get(INDEX_URI_ENV)
        if not uri:
            raise RuntimeError(
                f"environment variable {INDEX_URI_ENV} is not set; the function is misconfigured"
            )
        return cls(uri, storage_options=storage_options_from_environment())

    # -- the table -------------------------------------------------------------------------------

    def _segments(self) -> Any:
        """The table, created with its full-text indices by whichever writer comes first."""
        if self._table is None:
            table = self._db.create_table(TABLE_NAME, schema=SCHEMA, exist_ok=True)
            self._ensure_indices(table)
            self._table = table
        return self._table

    def _readable(self) -> Any | None:
        """The table for reading, or None while no writer has created it: opening never writes,
        so a read-only role (the search function's) is enough."""
        if self._table is not None:
            return self._table
        if self._opened is None:
            if TABLE_NAME not in self._db.list_tables().tables:
                return None
            self._opened = self._db.open_table(TABLE_NAME)
        return self._opened

    @staticmethod
    def _ensure_indices(table: Any) -> None:
        existing = {column for index in table.list_indices() for column in index.columns}
        for column, analysis in ANALYSIS.items():
            if column in existing:
                continue
            try:
                table.create_index(column, config=FTS(with_position=True, **analysis), replace=False)
            except Exception as err:  # another process created it first: that index is the same
                if not any(column in index.columns for index in table.list_indices()):
                    raise RetryableError(f"could not create the search index on {column}: {err}") from err

    # -- writing ---------------------------------------------------------------------------------

    def replace_job(self, document: JobDocument) -> None:
        """Make the index hold exactly ``document``'s segments for its job, in one commit.

        Idempotent: indexing the same job again (a repeated event, a retried or reprocessed job,
        an operator's rebuild) replaces its rows; a reader sees the old rows or the new, never none.
        A speaker rename needs none: the index keeps segments' speaker labels (``spk_1``),
        which a rename never changes, and no display names.
        """
        if not document.segments:
            self.delete_job(document.tenant, document.job_id)
            return
        rows = _rows(document)
        self._merge(rows, col("job_id") == lit(document.job_id))

    def replace_jobs(self, documents: list[JobDocument]) -> None:
        """:meth:`replace_job` for many jobs in one commit (bulk loads; jobs without text are removed)."""
        if not documents:
            return
        rows = [row for document in documents for row in _rows(document)]
        scope = col("job_id").isin([document.job_id for document in documents])
        if rows:
            self._merge(rows, scope)
        else:
            self._delete(scope)

    def replace_tenant(self, tenant: str, documents: list[JobDocument]) -> None:
        """Make the index hold exactly ``documents`` for ``tenant`` (rebuild), in one commit."""
        rows = [row for document in documents for row in _rows(document) if document.tenant == tenant]
        if not rows:
            self.delete_tenant(tenant)
            return
        self._merge(rows, col("tenant") == lit(tenant))

    def _merge(self, rows: list[dict[str, Any]], scope: Expr) -> None:
        batch = pa.Table.from_pylist(rows, schema=SCHEMA)
        try:
            (
                self._segments()
                .merge_insert(["job_id", "segment_id"])
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .when_not_matched_by_source_delete(scope)
                .execute(batch)
            )
        except (OSError, RuntimeError, ValueError) as err:
            if _is_commit_conflict(err):
                raise RetryableError(f"search index commit conflict: {err}") from err
            raise

    def delete_job(self, tenant: str, job_id: str) -> None:
        """Remove a job's segments (a deleted job, an erasure request): no query finds them from
        the next read on, but their text stays in S3 until :meth:`optimize` has rewritten the
        files and removed the old versions (``maintain`` in transcriber/stages/search.py: when)."""
        self._delete((col("tenant") == lit(tenant)) & (col("job_id") == lit(job_id)))

    def delete_tenant(self, tenant: str) -> None:
        self._delete(col("tenant") == lit(tenant))

    def _delete(self, where: Expr) -> None:
        try:
            self._segments().delete(where)
        except (OSError, RuntimeError, ValueError) as err:
            if _is_commit_conflict(err):
                raise RetryableError(f"search index commit conflict: {err}") from err
            raise

    def optimize(self, *, cleanup_older_than: timedelta | None = None) -> None:
        """Rewrite every data file that holds deleted rows, compact small files, fold recently
        added rows into the full-text indices, and remove the files of old table versions.

        A delete only marks rows deleted; Lance's own compaction rewrites a file without them
        only past 10% deleted rows by default, so the threshold is set to 0 here (Lance's
        ``materialize_deletions_threshold``, through the ``lance`` package that LanceDB's
        ``to_lance`` needs). Lance's cleanup then deletes the versions committed longer than
        ``cleanup_older_than`` ago (never the latest) and the files only they use, among them
        the old files that still held deleted rows' text (Lance's default keeps a week of
        versions). A query on a version that cleanup deletes fails, so zero is only for tests.

        New rows are searchable at once (scanned beside the index); this keeps that scan short.
        Run it on a schedule or after a batch, not per job, and never two at once.
        """
        table = self._segments()
        table.to_lance().optimize.compact_files(materialize_deletions_threshold=0.0)
        table.optimize(cleanup_older_than=cleanup_older_than)

    def unindexed_rows(self) -> int:
        table = self._segments()
        stats = table.index_stats(f"{STEMMED_COLUMN}_idx")
        return int(stats.num_unindexed_rows) if stats else int(table.count_rows())

    # -- reading ---------------------------------------------------------------------------------

    def search(self, tenant: str, query: SearchQuery) -> SearchPage:
        """One page of ``tenant``'s matching segments, best first, scored relative to the page's
        best hit (:func:`~transcriber.domain.search.relative_scores`: BM25's own scores use the
        statistics of the whole table, every tenant's text)."""
        table = self._readable()
        if table is None:
            return SearchPage()
        columns = _columns_for(query)
        groups = [(Occur.SHOULD, _all_of(query, column)) for column in columns]
        full_text: FullTextQuery = groups[0][1] if len(groups) == 1 else BooleanQuery(groups)
        rows = (
            table.search(full_text, query_type="fts")
            .where(_filter(tenant, query), prefilter=True)
            .select(_HIT_COLUMNS)
            .offset(query.offset)
            .limit(query.limit + 1)
            .to_list()
        )
        hits = [_hit(row, query) for row in rows]
        hits.sort(key=lambda hit: -hit.score)
        page = page_of(query, hits)
        return replace(page, hits=relative_scores(page.hits))


def _rows(document: JobDocument) -> list[dict[str, Any]]:
    column = STEMMED_COLUMN if uses_stemming(document.language) else PLAIN_COLUMN
    other = PLAIN_COLUMN if column == STEMMED_COLUMN else STEMMED_COLUMN
    return [
        {
            "tenant": document.tenant,
            "job_id": document.job_id,
            "filename": document.filename,
            "language": document.language,
            "created_at": document.created_at,
            "segment_id": segment.segment_id,
            "start_seconds": segment.start,
            "end_seconds": segment.end,
            "speaker": segment.speaker,
            column: segment.text,
            other: "",
        }
        for segment in document.segments
    ]


def _columns_for(query: SearchQuery) -> list[str]:
    language = query.filters.language
    if language is None:
        return [STEMMED_COLUMN, PLAIN_COLUMN]
    return [STEMMED_COLUMN if uses_stemming(language) else PLAIN_COLUMN]


def _all_of(query: SearchQuery, column: str) -> FullTextQuery:
    """Every term and every phrase of the query, in one column."""
    clauses: list[tuple[Occur, FullTextQuery]] = []
    if query.terms:
        every_term = MatchQuery(
            " ".join(query.terms),
            column,
            operator=FullTextOperator.AND,
            boost=1.0,
            fuzziness=0,  # exact tokens: the analyzer already folds case, accents and endings
            max_expansions=50,
            prefix_length=0,
            document_granularity=None,
        )
        clauses.append((Occur.MUST, every_term))
    clauses.extend(
        (Occur.MUST, PhraseQuery(phrase, column, slop=0, document_granularity=None))
        for phrase in query.phrases
    )
    return BooleanQuery(clauses)


def _filter(tenant: str, query: SearchQuery) -> Expr:
    """The tenant, always, and every filter the query has: typed expressions, never SQL text."""
    where = col("tenant") == lit(tenant)
    filters = query.filters
    if filters.language is not None:
        where = where & (col("language") == lit(filters.language))
    if filters.job_id is not None:
        where = where & (col("job_id") == lit(filters.job_id))
    if filters.speaker is not None:
        where = where & (col("speaker") == lit(filters.speaker))
    if filters.created_after is not None:
        where = where & (col("created_at") > lit(filters.created_after))
    if filters.created_before is not None:
        where = where & (col("created_at") < lit(filters.created_before))
    return where


def _hit(row: dict[str, Any], query: SearchQuery) -> SearchHit:
    column = STEMMED_COLUMN if row.get(STEMMED_COLUMN) else PLAIN_COLUMN
    text = str(row.get(column) or "")
    analyze = analyzer(column)
    return SearchHit(
        job_id=row["job_id"],
        filename=row.get("filename") or "",
        segment_id=int(row["segment_id"]),
        start=float(row["start_seconds"]),
        end=float(row["end_seconds"]),
        text=text,
        highlight=highlight(text, query_tokens(query, analyze), analyze),
        score=float(row["_score"]),
    )
