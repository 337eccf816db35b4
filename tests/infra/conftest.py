"""Synthesized templates shared by the infra tests: each environment is synthesized once."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.stack import TranscriptionStack


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The dev stack's template."""
    _, stack = build_app("dev", outdir=str(tmp_path_factory.mktemp("cdk")))
    return Template.from_stack(stack)


@pytest.fixture(scope="session")
def prod_stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[TranscriptionStack, Template]:
    """The prod stack and its template, for tests that look at its constructs too (the logical ids
    of its roles, the findings it acknowledges)."""
    _, stack = build_app("prod", outdir=str(tmp_path_factory.mktemp("prod-template")))
    return stack, Template.from_stack(stack)


@pytest.fixture(scope="session")
def prod(prod_stack: tuple[TranscriptionStack, Template]) -> Template:
    """The prod stack's template (customer key, retained data, its own limits)."""
    return prod_stack[1]
