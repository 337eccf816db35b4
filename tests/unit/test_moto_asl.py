"""moto's copy of the state machine definition (localrun/moto_asl.py): what changes and what not."""

from __future__ import annotations

import json

from localrun.moto_asl import _express_children_as_standard


def test_express_children_run_as_standard_and_without_their_attempt_timeout() -> None:
    definition = {
        "StartAt": "Chunk",
        "States": {
            "Chunk": {"Type": "Task", "Resource": "arn:chunk", "TimeoutSeconds": 900, "Next": "Map"},
            "Map": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "TranscribeChunk",
                    "States": {
                        "TranscribeChunk": {
                            "Type": "Task",
                            "Resource": "arn:transcribe",
                            "TimeoutSeconds": 200,
                            "End": True,
                        }
                    },
                },
                "End": True,
            },
        },
    }

    local = json.loads(_express_children_as_standard(json.dumps(definition)))

    processor = local["States"]["Map"]["ItemProcessor"]
    assert processor["ProcessorConfig"]["ExecutionType"] == "STANDARD"
    assert "TimeoutSeconds" not in processor["States"]["TranscribeChunk"]
    assert local["States"]["Chunk"]["TimeoutSeconds"] == 900  # the parent's steps keep theirs
