"""The JSON Schemas of the job events in docs/events/, generated from the event models in
transcriber/domain/messages.py (a unit test keeps the committed files current).

    python -m transcriber.domain.event_schemas [folder]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from transcriber.domain.jobs import EVENT_SOURCE
from transcriber.domain.messages import PUBLISHED_EVENTS, JobEvent


class _NoTitles(GenerateJsonSchema):
    """Schemas without pydantic's generated titles: the descriptions say what a field is."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def event_schema(event: type[JobEvent]) -> dict[str, Any]:
    """The JSON Schema of a whole EventBridge event (envelope and detail) of this type."""
    detail = event.model_json_schema(schema_generator=_NoTitles, mode="serialization")
    detail.pop("title", None)
    summary = " ".join((event.__doc__ or "").split())
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:audio-transcriber:events:{event.schema_name}:v1",
        "title": event.detail_type,
        "description": (
            f"{summary} Source '{EVENT_SOURCE}', on the stack's jobs bus. Fields are only ever added in "
            "a new schema version; none carries transcript text."
        ),
        "type": "object",
        "required": ["source", "detail-type", "detail"],
        "properties": {
            "source": {"const": EVENT_SOURCE},
            "detail-type": {"const": event.detail_type},
            "time": {"type": "string"},
            "detail": {key: value for key, value in detail.items() if key != "description"},
        },
    }


def event_schema_files() -> dict[str, str]:
    """File name -> text of every event schema, as committed under docs/events/."""
    return {
        f"{event.schema_name}.schema.json": json.dumps(event_schema(event), indent=2) + "\n"
        for event in PUBLISHED_EVENTS
    }


if __name__ == "__main__":  # python -m transcriber.domain.event_schemas [folder]
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/events")
    for name, text in event_schema_files().items():
        (folder / name).write_text(text)
        print(folder / name)
