"""Search results as the SDK returns them (``Client.search``): plain, immutable values."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from client.models import mapping, opt_float, opt_int, opt_str


@dataclass(frozen=True)
class SearchHit:
    """One matching segment: which job and file, when in the audio, and its text."""

    job_id: str
    filename: str
    segment_id: int
    start: float
    end: float
    text: str
    #: the text HTML-escaped, with the matched words in <mark>...</mark>
    highlight: str
    score: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchHit:
        return cls(
            job_id=str(data.get("job_id", "")),
            filename=str(data.get("filename", "")),
            segment_id=opt_int(data.get("segment_id")) or 0,
            start=opt_float(data.get("start")) or 0.0,
            end=opt_float(data.get("end")) or 0.0,
            text=str(data.get("text", "")),
            highlight=str(data.get("highlight", "")),
            score=opt_float(data.get("score")) or 0.0,
        )


@dataclass(frozen=True)
class SearchResults:
    """One page of hits, best first; ``next_cursor`` continues the same query."""

    hits: tuple[SearchHit, ...]
    next_cursor: str | None
    raw: Mapping[str, Any]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchResults:
        data = mapping(data)
        hits = data.get("hits")
        return cls(
            hits=tuple(SearchHit.from_dict(mapping(h)) for h in (hits if isinstance(hits, list) else [])),
            next_cursor=opt_str(data.get("next_cursor")),
            raw=data,
        )

    def __iter__(self) -> Iterator[SearchHit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)
