"""The synthesized template: what the pipeline relies on is really in it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.app import build_app
from infra.config import EnvironmentConfig


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    _, stack = build_app("dev", outdir=str(tmp_path_factory.mktemp("cdk")))
    return Template.from_stack(stack)


def _definition(template: Template) -> dict[str, Any]:
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    (machine,) = machines.values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "ARN" for p in parts)
    return dict(json.loads(text))


def test_input_bucket_notifies_ingest_on_object_created(template: Template) -> None:
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "NotificationConfiguration": {
                "LambdaFunctionConfigurations": [Match.object_like({"Events": ["s3:ObjectCreated:*"]})]
            }
        },
    )


def test_state_machine_chunks_fans_out_and_aggregates(template: Template) -> None:
    definition = _definition(template)
    states = definition["States"]
    assert definition["StartAt"] == "ChunkAudio"
    assert states["ChunkAudio"]["Next"] == "TranscribeChunks"
    fan_out = states["TranscribeChunks"]
    assert fan_out["Type"] == "Map"
    assert fan_out["MaxConcurrency"] == 4  # dev's map_max_concurrency in cdk.json
    assert fan_out["ItemsPath"] == "$.audio.chunks"
    assert fan_out["Next"] == "AggregateTranscript"
    inner = fan_out["ItemProcessor"]["States"]["TranscribeChunk"]
    (retry,) = inner["Retry"]
    assert retry["JitterStrategy"] == "FULL" and retry["BackoffRate"] == 2
    assert "RetryableError" in retry["ErrorEquals"]
    assert "States.ALL" not in retry["ErrorEquals"]  # permanent errors are never retried
    for name in ("ChunkAudio", "TranscribeChunks", "AggregateTranscript"):
        assert states[name]["Catch"][0]["Next"] == "MarkFailed"
    assert states["MarkFailed"]["Next"] == "JobFailed"
    assert states["JobFailed"]["Type"] == "Fail"


def test_state_is_references_not_audio(template: Template) -> None:
    selector = _definition(template)["States"]["TranscribeChunks"]["ItemSelector"]
    assert selector == {"job_id.$": "$.job_id", "chunk.$": "$$.Map.Item.Value"}


def test_transcribe_is_a_container_image_with_its_handler(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "PackageType": "Image",
            "ImageConfig": {"Command": ["functions.transcribe.handler.handler"]},
            "Architectures": ["arm64"],
        },
    )


def test_chunk_function_gets_the_ffmpeg_layer(template: Template) -> None:
    functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "functions.chunk.handler.handler"}}
    )
    (chunk,) = functions.values()
    assert len(chunk["Properties"]["Layers"]) == 2
    # transcriber.domain.audio.ffmpeg_path() finds the layer's /opt/bin/ffmpeg by itself.
    assert "FFMPEG_PATH" not in chunk["Properties"]["Environment"]["Variables"]


def test_ingest_has_a_dead_letter_queue(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "functions.ingest.handler.handler", "DeadLetterConfig": {"TargetArn": Match.any_value()}},
    )


def test_buckets_are_private_encrypted_and_tls_only(template: Template) -> None:
    buckets = template.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
        assert props["BucketEncryption"]
    policies = template.find_resources("AWS::S3::BucketPolicy")
    assert all("aws:SecureTransport" in json.dumps(p) for p in policies.values())


def test_jobs_table_has_point_in_time_recovery(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "job_id", "KeyType": "HASH"}],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


def test_an_unknown_environment_is_an_error_not_a_default() -> None:
    with pytest.raises(ValueError, match="unknown environment 'prdo'"):
        EnvironmentConfig.from_context("prdo", {"dev": {}, "prod": {}})


def test_prod_retains_data_and_dev_does_not(tmp_path_factory: pytest.TempPathFactory) -> None:
    _, prod = build_app("prod", outdir=str(tmp_path_factory.mktemp("prod")))
    prod_template = Template.from_stack(prod)
    for table in prod_template.find_resources("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Retain"
    assert _definition(prod_template)["States"]["TranscribeChunks"]["MaxConcurrency"] == 40
