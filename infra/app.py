"""CDK entry point: ``cdk synth -c env=dev|staging|prod`` (see cdk.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from infra.config import EnvironmentConfig
from infra.constructs.cloudfront_firewall import CLOUDFRONT_WEB_ACL, CloudFrontWebAclStack
from infra.nag import acknowledge_findings, add_checks
from infra.stack import TranscriptionStack

REPO_ROOT = Path(__file__).resolve().parents[1]


def _context() -> dict[str, Any]:
    return dict(json.loads((REPO_ROOT / "cdk.json").read_text())["context"])


def _feature_flags() -> dict[str, Any]:
    """cdk.json's feature flags: the CLI passes them to the app, build_app() must pass them too."""
    return {key: value for key, value in _context().items() if key.startswith("@aws-cdk/")}


def build_app(
    env_name: str | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    outdir: str | None = None,
    checks: bool = False,
    context: dict[str, Any] | None = None,
) -> tuple[cdk.App, TranscriptionStack]:
    """The CDK app for one environment; the local runtime and the tests synthesize this same app.

    ``checks`` adds cdk-nag's AwsSolutions pack (``cdk synth`` and the tests turn it on; the local
    runtime leaves it off to keep its synth fast). The accepted findings are acknowledged always.
    """
    flags = {**_feature_flags(), **(context or {})}
    app = cdk.App(outdir=outdir, context=flags) if outdir else cdk.App(context=flags)
    name = env_name or app.node.try_get_context("env") or "dev"
    context_overrides = app.node.try_get_context("overrides")
    if isinstance(context_overrides, str):
        context_overrides = json.loads(context_overrides)
    config = EnvironmentConfig.from_context(
        name, dict(_context()["environments"]), {**(context_overrides or {}), **(overrides or {})}
    )
    stack = TranscriptionStack(app, config.stack_name, config=config)
    if app.node.try_get_context(CLOUDFRONT_WEB_ACL) in (True, "true"):  # docs/deploy.md: step one
        CloudFrontWebAclStack(
            app,
            f"{config.stack_name}-WebAcl",
            name_prefix=config.stack_name,
            requests_per_5_min_per_ip=config.waf.requests_per_5_min_per_ip,
        )
    acknowledge_findings(stack)
    if checks:
        add_checks(app)
    cdk.Tags.of(app).add("project", "audio-transcriber")
    cdk.Tags.of(app).add("environment", config.name)
    return app, stack


def main() -> None:
    app, _ = build_app(checks=True)
    app.synth()


if __name__ == "__main__":
    main()
