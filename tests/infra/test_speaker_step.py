"""The speaker-labels step in the synthesized state machine: skipped unless asked for, its own
Retry on transient errors, and its failure fails the job (never drops the labels)."""

from __future__ import annotations

from aws_cdk.assertions import Template

from tests.infra.test_stack import _definition


def test_speaker_labels_are_clustered_once_after_the_map_only_when_asked_for(template: Template) -> None:
    states = _definition(template)["States"]
    assert states["TranscribeChunks"]["Next"] == "SpeakerLabelsRequested"
    choice = states["SpeakerLabelsRequested"]
    assert choice["Type"] == "Choice" and choice["Default"] == "AggregateTranscript"
    (when,) = choice["Choices"]
    assert when["Next"] == "DiarizeSpeakers"
    assert when["And"] == [
        {"Variable": "$.options.speaker_labels", "IsPresent": True},
        {"Variable": "$.options.speaker_labels", "BooleanEquals": True},
    ]
    diarize = states["DiarizeSpeakers"]
    assert diarize["Parameters"]["action"] == "diarize"
    assert diarize["Parameters"]["manifest.$"] == "$.audio.manifest"
    assert diarize["Parameters"]["options.$"] == "$.options"
    assert diarize["ResultPath"] == "$.speakers" and diarize["Next"] == "AggregateTranscript"
    retry, throttles = diarize["Retry"]  # transient errors, then Lambda's throttles on their own budget
    assert throttles["ErrorEquals"] == ["Lambda.TooManyRequestsException"]
    assert "RetryableError" in retry["ErrorEquals"] and "States.ALL" not in retry["ErrorEquals"]
    (catch,) = diarize["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == "MarkFailed"
    assert states["AggregateTranscript"]["Parameters"]["options.$"] == "$.options"
