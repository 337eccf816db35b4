"""Speaker labels end to end through the local stack and its HTTP API: a two-speaker file built
from ../shared/eval gets two labels that match who spoke (across chunks: the session's stack
cuts 8-s chunks), a rename rewrites all four outputs, and another tenant gets nothing."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from localrun.pipeline import LocalPipeline
from tests.integration.conftest import Api, ApiTenant
from tests.speaker_audio import two_speaker_conversation, who_spoke
from transcriber.domain.formats import parse_srt, parse_vtt


@pytest.fixture(scope="module")
def labelled(api: Api) -> tuple[ApiTenant, dict[str, Any], Any]:
    tenant = api.tenant(f"speakers-{uuid.uuid4().hex[:6]}")
    conversation = two_speaker_conversation()
    created = api.create(
        tenant,
        filename="interview.wav",
        content_base64=base64.b64encode(conversation.wav).decode(),
        options={"speaker_labels": True, "language": "en", "beam_size": 1},
    )
    assert created.status == 201, created.body
    job = api.wait(tenant, created.json()["job_id"])
    assert job["status"] == "COMPLETED", job
    return tenant, job, conversation


def test_two_speakers_get_two_labels_that_match_who_spoke(
    api: Api, pipeline: LocalPipeline, labelled: tuple[ApiTenant, dict[str, Any], Any]
) -> None:
    tenant, job, conversation = labelled
    assert int(job["chunks_total"]) >= 3  # labels agree across chunks: one clustering per job
    assert [s["label"] for s in job["speakers"]] == ["spk_0", "spk_1"]
    segments = job["transcript"]["segments"]
    mapping: dict[str, set[str]] = {}
    for segment in segments:
        truth = who_spoke(conversation.turns, segment["start"], segment["end"])
        if truth:
            mapping.setdefault(segment["speaker"], set()).add(truth)
    assert mapping == {"spk_0": {"A"}, "spk_1": {"B"}}
    only_b = api.http.request(
        "GET", f"/v1/transcriptions/{job['job_id']}/segments?speaker=spk_1", key=tenant.key
    ).json()
    assert only_b["count"] >= 1 and {s["speaker"] for s in only_b["segments"]} == {"spk_1"}
    # the embeddings stayed in S3 (the state machine carried only references)
    s3 = pipeline.aws.client("s3")
    listed = s3.list_objects_v2(
        Bucket=pipeline.stack.results_bucket, Prefix=f"work/{job['job_id']}/speakers/"
    )
    names = [o["Key"].rsplit("/", 1)[-1] for o in listed.get("Contents", [])]
    assert "turns.json" in names and sum(n.endswith(".npz") for n in names) == int(job["chunks_total"])


def test_a_rename_rewrites_all_four_outputs_and_other_tenants_get_nothing(
    api: Api, labelled: tuple[ApiTenant, dict[str, Any], Any]
) -> None:
    tenant, job, _ = labelled
    path = f"/v1/transcriptions/{job['job_id']}"
    intruder = api.tenant(f"intruder-{uuid.uuid4().hex[:6]}")
    assert (
        api.http.request("PUT", f"{path}/speakers", key=intruder.key, json_body={"spk_0": "X"}).status == 404
    )
    assert api.http.request("GET", f"{path}/segments?speaker=spk_0", key=intruder.key).status == 404

    renamed = api.http.request(
        "PUT", f"{path}/speakers", key=tenant.key, json_body={"spk_0": "Ann", "spk_1": "Ben"}
    )
    assert renamed.status == 200, renamed.body
    outputs = {
        fmt: api.http.request("GET", f"{path}/download?format={fmt}", key=tenant.key).body.decode()
        for fmt in ("json", "srt", "vtt", "txt")
    }
    assert [s["name"] for s in json.loads(outputs["json"])["speakers"]] == ["Ann", "Ben"]
    assert "Ann:" in outputs["srt"] and "Ben:" in outputs["srt"] and "spk_0:" not in outputs["srt"]
    assert "<v Ann>" in outputs["vtt"] and "<v Ben>" in outputs["vtt"]
    assert outputs["txt"].startswith("Ann:") and "Ben:" in outputs["txt"]
    assert len(parse_srt(outputs["srt"])) == len(parse_vtt(outputs["vtt"])) > 0
    again = api.http.request("GET", path, key=tenant.key).json()
    assert [s["name"] for s in again["speakers"]] == ["Ann", "Ben"]
    unknown = api.http.request("PUT", f"{path}/speakers", key=tenant.key, json_body={"spk_5": "Cy"})
    assert unknown.status == 422 and "spk_0, spk_1" in unknown.json()["detail"]


def test_impossible_speaker_counts_are_refused_at_once(api: Api) -> None:
    tenant = api.tenant(f"counts-{uuid.uuid4().hex[:6]}")
    created = api.http.request(
        "POST",
        "/v1/transcriptions",
        key=tenant.key,
        json_body={"filename": "a.wav", "size": 1000, "options": {"min_speakers": 4, "max_speakers": 2}},
    )
    assert created.status == 422 and created.json()["reason_code"] == "INVALID_OPTIONS"
    assert "min <= max" in created.json()["detail"]
