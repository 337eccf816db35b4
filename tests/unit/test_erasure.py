"""A deleted original's outputs go to its own tenant's duplicates only (transcriber/api/erasure.py)."""

from __future__ import annotations

from typing import Any

from transcriber.stages.erasure import hand_over_outputs, heirs_of

ORIGINAL = {
    "job_id": "a" * 32,
    "tenant_id": "acme",
    "sha256": "f" * 64,
    "status": "COMPLETED",
    "outputs": {"json": f"s3://results/transcripts/{'a' * 32}/transcript.json"},
}


class Jobs:
    def __init__(self, jobs: list[dict[str, Any]]) -> None:
        self.jobs = jobs
        self.taken: dict[str, dict[str, str]] = {}

    def with_content(self, sha256: str) -> list[dict[str, Any]]:
        return [job for job in self.jobs if job.get("sha256") == sha256]

    def take_over_outputs(self, job_id: str, outputs: dict[str, str]) -> bool:
        self.taken[job_id] = outputs
        return True


class Copies:
    def __init__(self) -> None:
        self.made: list[tuple[str, str, str, str]] = []

    def copy(self, bucket: str, key: str, to_bucket: str, to_key: str) -> None:
        self.made.append((bucket, key, to_bucket, to_key))


def _job(job_id: str, **fields: Any) -> dict[str, Any]:
    return {"job_id": job_id, "sha256": "f" * 64, "tenant_id": "acme", "status": "COMPLETED", **fields}


def test_only_the_same_tenants_completed_duplicates_inherit() -> None:
    jobs = Jobs(
        [
            ORIGINAL,
            _job("b" * 32, duplicate_of=ORIGINAL["job_id"]),
            _job("c" * 32, duplicate_of=ORIGINAL["job_id"], tenant_id="other"),  # never another tenant
            _job("d" * 32, duplicate_of=ORIGINAL["job_id"], status="DELETED"),
            _job("e" * 32),  # the same audio transcribed on its own
        ]
    )
    assert [heir["job_id"] for heir in heirs_of(ORIGINAL, jobs)] == ["b" * 32]
    copies = Copies()
    assert hand_over_outputs(ORIGINAL, jobs=jobs, objects=copies, results_bucket="results") == 1
    heir_key = f"transcripts/{'b' * 32}/transcript.json"
    assert copies.made == [("results", f"transcripts/{'a' * 32}/transcript.json", "results", heir_key)]
    assert jobs.taken == {"b" * 32: {"json": f"s3://results/{heir_key}"}}


def test_a_duplicate_being_deleted_hands_nothing_over() -> None:
    duplicate = _job("b" * 32, duplicate_of=ORIGINAL["job_id"], outputs=ORIGINAL["outputs"])
    assert heirs_of(duplicate, Jobs([ORIGINAL, duplicate])) == []
