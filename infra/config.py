"""Per-environment settings, read from ``cdk.json`` context (``-c env=dev|staging|prod``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

ARCHITECTURES = ("arm64", "x86_64")


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    stack_name: str
    architecture: str
    map_max_concurrency: int
    max_upload_mb: int
    max_duration_minutes: int
    chunk_max_seconds: int
    engine: str
    transcribe_memory_mb: int
    transcribe_timeout_s: int
    retain_data: bool

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, not {self.architecture!r}")
        if self.map_max_concurrency < 1:
            raise ValueError("map_max_concurrency must be at least 1")

    @classmethod
    def from_context(
        cls, env_name: str, environments: dict[str, Any], overrides: dict[str, Any] | None = None
    ) -> EnvironmentConfig:
        """Build the settings of ``env_name``; an unknown name is an error, never a default."""
        if env_name not in environments:
            raise ValueError(
                f"unknown environment {env_name!r}; choose one of: {', '.join(sorted(environments))}"
            )
        values = {**environments[env_name], **(overrides or {}), "name": env_name}
        expected = {f.name for f in fields(cls)}
        unknown = set(values) - expected
        missing = expected - set(values)
        if unknown or missing:
            raise ValueError(
                f"environment {env_name!r}: unknown keys {sorted(unknown)}, missing {sorted(missing)}"
            )
        return cls(**values)
