"""Function sizing per environment: the template carries cdk.json's memory, and the decoder's
threads fit the vCPUs Lambda gives at that memory (one per 1,769 MB), so no environment pays
for memory whose CPU no thread uses, nor runs more threads than it has vCPUs."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.config import FUNCTIONS, MB_PER_VCPU, MIB, EnvironmentConfig
from tests.infra.test_stack import ENVIRONMENTS
from transcriber.domain.preparation import WAV_BYTES_PER_SECOND, scratch_bytes


def _functions(template: Template) -> dict[str, dict[str, Any]]:
    """cdk.json function name -> its Lambda function's properties, by the construct id prefix."""
    found: dict[str, dict[str, Any]] = {}
    for logical, resource in template.find_resources("AWS::Lambda::Function").items():
        for name in FUNCTIONS:
            if logical.startswith(f"{name.title()}Function"):
                found[name] = resource["Properties"]
    return found


@pytest.fixture(scope="module")
def templates(
    template: Template, prod: Template, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Template]:
    _, staging = build_app("staging", outdir=str(tmp_path_factory.mktemp("staging-template")))
    return {"dev": template, "staging": Template.from_stack(staging), "prod": prod}


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_memory_and_decoder_threads_follow_cdk_json(env: str, templates: dict[str, Template]) -> None:
    sizes = ENVIRONMENTS[env]["functions"]
    functions = _functions(templates[env])
    assert set(functions) == set(FUNCTIONS), f"{env}: functions found {sorted(functions)}"
    for name, props in functions.items():
        assert props["MemorySize"] == sizes[name]["memory_mb"], f"{env} {name}"
        assert props["Timeout"] == sizes[name]["timeout_s"], f"{env} {name}"

    transcribe = functions["transcribe"]
    memory = transcribe["MemorySize"]
    threads = int(transcribe["Environment"]["Variables"]["WHISPER_CPU_THREADS"])
    vcpus = memory / MB_PER_VCPU
    assert 1 <= threads <= max(1.0, vcpus), f"{env}: {threads} threads on {vcpus:.2f} vCPUs ({memory} MB)"
    # Memory above the threads' vCPUs buys CPU that nothing decodes with.
    assert memory < (threads + 1) * MB_PER_VCPU, f"{env}: {memory} MB for {threads} decoder thread(s)"


def test_one_thread_decoder_gets_exactly_one_vcpu_everywhere() -> None:
    """The measured choice (bench.compare's CPU use): transcribe decodes on one thread, so it gets
    one full vCPU's memory, 1,769 MB, in every environment; 3,008 MB bought 0.7 vCPU unused."""
    for env, settings in ENVIRONMENTS.items():
        assert settings["functions"]["transcribe"]["memory_mb"] == MB_PER_VCPU, env


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_the_chunk_step_has_tmp_for_the_largest_upload_at_the_longest_duration(
    env: str, templates: dict[str, Template]
) -> None:
    """Lambda's /tmp is 512 MB by default: a 4-hour WAV alone is 461 MB. The chunk step holds the
    upload and, while channel identification splits a file, the multichannel WAV and the channels'
    own at once (chunks are byte ranges of the stored WAV, not files), so its /tmp follows
    max_upload_mb and max_duration_minutes (1,536 MB in dev, 3,584 MB for prod's 12 hours)."""
    config = EnvironmentConfig.from_context(env, ENVIRONMENTS)
    need = scratch_bytes(config.max_upload_mb * MIB, config.max_duration_minutes * 60.0)
    wav = WAV_BYTES_PER_SECOND * config.max_duration_minutes * 60
    assert need == config.max_upload_mb * MIB + 2 * wav
    functions = _functions(templates[env])
    size_mb = functions["chunk"]["EphemeralStorage"]["Size"]
    assert size_mb == config.chunk_scratch_mb and need <= size_mb * MIB < need + 512 * MIB
    # The API function spools a source_url fetch up to the upload limit; the others keep Lambda's
    # default: they hold one chunk or none.
    api_mb = functions["api"]["EphemeralStorage"]["Size"]
    assert api_mb == config.api_scratch_mb and api_mb * MIB > config.max_upload_mb * MIB
    others = {name: props for name, props in functions.items() if name not in ("chunk", "api")}
    assert all("EphemeralStorage" not in props for props in others.values())


def test_a_duration_whose_audio_cannot_fit_lambdas_tmp_is_refused() -> None:
    with pytest.raises(ValueError, match=r"need \d+ MB of /tmp in the chunk step, over Lambda's 10240 MB"):
        EnvironmentConfig.from_context("prod", ENVIRONMENTS, {"max_duration_minutes": 48 * 60})
