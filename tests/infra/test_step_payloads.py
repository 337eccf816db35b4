"""Each step's payload in the synthesized state machine is its request model's fields
(transcriber/domain/messages.py), taken from where the state keeps them: a field added to a
request model reaches the state machine, or the synth fails naming it."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from infra.constructs.state_machine import payload_of
from tests.infra.test_stack import _definition
from transcriber.domain import messages
from transcriber.domain.messages import Message

#: a Lambda task's state -> the request model its function parses
STEPS: dict[str, type[Message]] = {
    "ChunkAudio": messages.ChunkRequest,
    "DiarizeSpeakers": messages.DiarizeRequest,
    "AggregateTranscript": messages.AggregateRequest,
    "MarkFailed": messages.FailRequest,
}


@pytest.mark.parametrize("state", sorted(STEPS))
def test_a_steps_payload_is_its_request_models_fields(template: Template, state: str) -> None:
    parameters = _definition(template)["States"][state]["Parameters"]
    assert {name.removesuffix(".$") for name in parameters} == set(STEPS[state].model_fields)
    assert parameters["job_id.$"] == "$.job_id"


@pytest.mark.parametrize("state", ["TranscribeChunks", "RedoChunks"])
def test_each_map_child_gets_a_transcribe_request(template: Template, state: str) -> None:
    fan_out = _definition(template)["States"][state]
    selector = fan_out["ItemSelector"]
    # ``action`` defaults to "transcribe": the one field left to its model's default
    fields = set(messages.TranscribeRequest.model_fields) - {"action"}
    assert {name.removesuffix(".$") for name in selector} == fields
    assert selector["chunk.$"] == "$$.Map.Item.Value" and selector["language.$"] == "$.language.language"


def test_a_required_field_without_a_place_in_the_state_fails_the_synth() -> None:
    class WithPriority(messages.ChunkRequest):
        priority: int

    with pytest.raises(KeyError, match=r"WithPriority\.priority"):
        payload_of(WithPriority)
    assert payload_of(WithPriority, priority=3)["priority"] == 3
