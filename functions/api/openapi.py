"""Print the HTTP API's OpenAPI document (``make openapi`` writes it to docs/openapi.json)."""

from __future__ import annotations

import json

from transcriber.api.routes import openapi_document

if __name__ == "__main__":
    print(json.dumps(openapi_document(), indent=2, sort_keys=True))
