"""Search at scale: the LanceDB index on moto's S3 (server mode), with figures printed.

    .venv/bin/python -m bench.search [--sizes 1000 10000] [--eval-dir ../shared/eval]

Transcripts are generated from the reference texts of the evaluation set (varied: each segment
is a random window of a random reference, 10 to 50 segments a transcript, about a tenth in
German, ten tenants, creation dates spread over a year). The script prints, at each size:

- indexing throughput, loading in batches of 100 jobs (one commit each, as a rebuild does), and
  the indexer's own path: one job per commit;
- index size per transcript (every object under the index prefix, after optimize and cleanup);
- query latency p50/p95 on a warm connection for a term, a phrase and a filtered query (tenant
  always, plus language and a date range), each a fresh word or phrase: right after
  ``optimize`` and again after 20 single-job commits that no optimize has folded in yet;
- cold start: a new process importing the adapter, connecting and answering its first query;
- delay from an index call to searchable from another connection (polled every 20 ms).

Goals on this machine: p95 under 200 ms at 10k transcripts, searchable within 5 s.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from bench.long_audio import EVAL_DIR
from transcriber.adapters.search_index import INDEX_URI_ENV, SearchIndex, storage_options_from_environment
from transcriber.domain.search import IndexedSegment, JobDocument, SearchQuery, parse_query

BUCKET = "search-bench"
TENANTS = [f"tenant-{n:02d}" for n in range(10)]
BATCH = 100
QUERIES = 40
START = datetime(2026, 1, 1, tzinfo=UTC)


def _reference_texts(eval_dir: Path) -> tuple[list[list[str]], list[list[str]]]:
    """Word lists of the English and the German references."""
    manifest = eval_dir / "manifest.jsonl"
    if not manifest.exists():
        raise SystemExit(f"no evaluation set at {eval_dir}: pass --eval-dir ../shared/eval")
    english: list[list[str]] = []
    german: list[list[str]] = []
    for line in manifest.read_text().splitlines():
        entry = json.loads(line)
        words = [w.strip(".,;:!?\"'") for w in str(entry["text"]).split()]
        words = [w for w in words if w]
        if len(words) >= 6:
            (german if entry.get("language") == "de" else english).append(words)
    return english, german


def _segment_text(rng: random.Random, texts: list[list[str]]) -> str:
    words = rng.choice(texts)
    size = rng.randint(5, min(14, len(words)))
    start = rng.randint(0, len(words) - size)
    text = " ".join(words[start : start + size])
    return text.capitalize() if rng.random() < 0.5 else text.lower()


def generate(count: int, eval_dir: Path, seed: int = 7) -> list[JobDocument]:
    rng = random.Random(seed)
    english, german = _reference_texts(eval_dir)
    documents = []
    for n in range(count):
        is_german = bool(german) and rng.random() < 0.1
        texts = german if is_german else english
        clock = 0.0
        segments = []
        for segment_id in range(1, rng.randint(10, 50) + 1):
            length = rng.uniform(1.5, 8.0)
            segments.append(
                IndexedSegment(
                    segment_id, round(clock, 3), round(clock + length, 3), _segment_text(rng, texts)
                )
            )
            clock += length + rng.uniform(0.0, 1.5)
        documents.append(
            JobDocument(
                tenant=TENANTS[n % len(TENANTS)],
                job_id=uuid.UUID(int=rng.getrandbits(128)).hex,
                filename=f"recording-{n:05d}.mp3",
                language="de" if is_german else "en",
                created_at=START + timedelta(minutes=rng.randint(0, 365 * 24 * 60)),
                segments=tuple(segments),
            )
        )
    return documents


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000
    return f"p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  (n={len(ordered)})"


def _timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _queries(rng: random.Random, english: list[list[str]], kind: str) -> list[tuple[str, SearchQuery]]:
    out = []
    for _ in range(QUERIES):
        tenant = rng.choice(TENANTS)
        words = rng.choice(english)
        if kind == "term":
            query = parse_query(max(words, key=lambda w: (len(w), rng.random())))
        elif kind == "phrase":
            start = rng.randint(0, len(words) - 2)
            query = parse_query(f'"{words[start]} {words[start + 1]}"')
        else:
            after = START + timedelta(days=rng.randint(0, 200))
            query = parse_query(
                rng.choice(words),
                language="en",
                created_after=after,
                created_before=after + timedelta(days=120),
            )
        out.append((tenant, query))
    return out


def _index_bytes(s3: Any, prefix: str) -> int:
    total = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        total += sum(obj["Size"] for obj in page.get("Contents", []))
    return total


def _query_round(index: SearchIndex, rng: random.Random, english: list[list[str]], state: str) -> None:
    """Latency of each kind of query on a warm connection (as a warm Lambda answers them)."""
    for kind in ("term", "phrase", "filtered"):
        samples, hits = [], 0
        for tenant, query in _queries(rng, english, kind):
            started = time.perf_counter()
            hits += len(index.search(tenant, query).hits)
            samples.append(time.perf_counter() - started)
        print(f"  query {kind:8s} {state:11s} {_percentiles(samples)}  mean hits {hits / QUERIES:.1f}")


_COLD_START = """
import json, sys, time
started = time.perf_counter()
from transcriber.adapters.search_index import SearchIndex
from transcriber.domain.search import parse_query
imported = time.perf_counter()
index = SearchIndex.from_environment()
page = index.search(sys.argv[1], parse_query(sys.argv[2]))
done = time.perf_counter()
print(json.dumps({"import_s": imported - started, "first_query_s": done - imported, "hits": len(page.hits)}))
"""


def _cold_start(uri: str, tenant: str, word: str) -> dict[str, Any]:
    env = {**os.environ, INDEX_URI_ENV: uri}
    result = subprocess.run(
        [sys.executable, "-c", _COLD_START, tenant, word],
        capture_output=True, text=True, check=True, env=env, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _searchable_delay(uri: str, document: JobDocument) -> tuple[float, float]:
    """(seconds the index call took, seconds from its start until another connection finds the job)."""
    writer = SearchIndex(uri, storage_options=storage_options_from_environment())
    reader = SearchIndex(uri, storage_options=storage_options_from_environment())
    marker = f"zq{uuid.uuid4().hex[:10]}"
    segment = IndexedSegment(1, 0.0, 1.0, f"the marker {marker} was said here")
    probe = JobDocument(**{**document.__dict__, "job_id": uuid.uuid4().hex, "segments": (segment,)})
    started = time.perf_counter()
    writer.replace_job(probe)
    call_s = time.perf_counter() - started
    while not reader.search(probe.tenant, parse_query(marker)).hits:
        if time.perf_counter() - started > 30:
            return call_s, float("inf")
        time.sleep(0.02)
    return call_s, time.perf_counter() - started


def run(sizes: list[int], eval_dir: Path) -> None:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # The bench is the index's only user, so removing old versions at once is safe here.
    warnings.filterwarnings("ignore", message=r"optimize\(cleanup_older_than=0\)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    prefix = "index"
    uri = f"s3://{BUCKET}/{prefix}"
    index = SearchIndex(uri, storage_options=storage_options_from_environment())
    documents = generate(max(sizes), eval_dir)
    english, _ = _reference_texts(eval_dir)
    rng = random.Random(11)
    rows = sum(len(d.segments) for d in documents)
    print(f"search bench: {len(documents)} transcripts generated ({rows} segments), moto S3 server mode")
    loaded = 0
    try:
        for size in sorted(sizes):
            batch_started, before = time.perf_counter(), loaded
            while loaded < size:
                chunk = documents[loaded : min(size, loaded + BATCH)]
                index.replace_jobs(chunk)
                loaded += len(chunk)
            load_s = time.perf_counter() - batch_started
            optimize_s = _timed(lambda: index.optimize(cleanup_older_than=timedelta(0)))
            print(f"\n== {size} transcripts ({sum(len(d.segments) for d in documents[:size])} segments)")
            print(
                f"  bulk indexing       {loaded - before} transcripts in {load_s:.1f} s, batches of {BATCH}: "
                f"{(loaded - before) / load_s:.1f} transcripts/s (then optimize {optimize_s:.1f} s)"
            )
            size_bytes = _index_bytes(s3, prefix + "/")
            print(
                f"  index size          {size_bytes / 1e6:7.1f} MB, "
                f"{size_bytes / size / 1024:.1f} KiB per transcript"
            )
            _query_round(index, rng, english, "optimized")
            singles = documents[:20]
            single_s = [_timed(lambda d=doc: index.replace_job(d)) for doc in singles]  # type: ignore[misc]
            print(f"  one job per commit  {_percentiles(single_s)}  (re-indexing existing jobs)")
            _query_round(index, rng, english, "+20 commits")
            cold = _cold_start(uri, TENANTS[0], "dinner")
            print(
                f"  cold start          import {cold['import_s'] * 1000:.0f} ms, first query "
                f"{cold['first_query_s'] * 1000:.0f} ms (new process, {cold['hits']} hits)"
            )
            delays = [_searchable_delay(uri, documents[i]) for i in range(5)]
            print(
                "  index -> searchable "
                + ", ".join(f"{found:.2f} s (call {call:.2f} s)" for call, found in delays)
                + "  (another connection)"
            )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    args = parser.parse_args()
    run(args.sizes, args.eval_dir)


if __name__ == "__main__":
    main()
