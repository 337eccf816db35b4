"""CDK entry point: ``cdk synth -c env=dev|staging|prod`` (see cdk.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from infra.config import EnvironmentConfig
from infra.stack import TranscriptionStack

REPO_ROOT = Path(__file__).resolve().parents[1]


def _environments() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return dict(context["environments"])


def build_app(
    env_name: str | None = None, *, overrides: dict[str, Any] | None = None, outdir: str | None = None
) -> tuple[cdk.App, TranscriptionStack]:
    """The CDK app for one environment; the local runtime and the tests synthesize this same app."""
    app = cdk.App(outdir=outdir) if outdir else cdk.App()
    name = env_name or app.node.try_get_context("env") or "dev"
    context_overrides = app.node.try_get_context("overrides")
    if isinstance(context_overrides, str):
        context_overrides = json.loads(context_overrides)
    config = EnvironmentConfig.from_context(
        name, _environments(), {**(context_overrides or {}), **(overrides or {})}
    )
    stack = TranscriptionStack(app, config.stack_name, config=config)
    cdk.Tags.of(app).add("project", "audio-transcriber")
    cdk.Tags.of(app).add("environment", config.name)
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
