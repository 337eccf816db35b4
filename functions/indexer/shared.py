"""What the indexer's two functions (handler.py, operations.py) share: one image, one init phase.

The SDK clients and the index connection are made once per execution environment; the stages
get the jobs table, the transcripts and the index from :func:`index_sources`.
"""

from __future__ import annotations

import os
from typing import Any

from transcriber.adapters import aws_clients
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.search_index import SearchIndex
from transcriber.adapters.storage import ObjectStore

aws_clients.build_now(clients=("s3",), resources=("dynamodb",))
index = SearchIndex.from_environment()


def index_sources() -> dict[str, Any]:
    """The keyword arguments the search stages take: where jobs and transcripts are, and the index."""
    return {
        "jobs": JobRepository(os.environ["JOBS_TABLE"]),
        "transcripts": ObjectStore(),
        "index": index,
        "results_bucket": os.environ["RESULTS_BUCKET"],
    }
