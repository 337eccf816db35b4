"""Synthesized templates shared by the infra tests: each environment is synthesized once."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from infra.app import build_app


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The dev stack's template."""
    _, stack = build_app("dev", outdir=str(tmp_path_factory.mktemp("cdk")))
    return Template.from_stack(stack)


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The prod stack's template (customer key, retained data, its own limits)."""
    _, stack = build_app("prod", outdir=str(tmp_path_factory.mktemp("prod-template")))
    return Template.from_stack(stack)
