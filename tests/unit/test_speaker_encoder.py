"""The numpy GE2E encoder: pinned weights, a loader that runs no code, features, and real voices."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest

from transcriber.engines import speaker_encoder as se
from transcriber.engines.weights import WeightsError

EVAL = next(
    (p / "shared" / "eval" for p in Path(__file__).resolve().parents if (p / "shared" / "eval").is_dir()),
    None,
)
needs_eval = pytest.mark.skipif(EVAL is None, reason="needs ../shared/eval recordings")


@pytest.fixture(scope="module")
def encoder() -> se.SpeakerEncoder:
    return se.SpeakerEncoder()


def test_weights_come_from_the_pinned_wheel_and_match_their_hash() -> None:
    path = se.weights_path()
    assert path.name == "pretrained.pt"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == se.ENCODER_SHA256


def test_a_file_with_another_hash_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "pretrained.pt"
    fake.write_bytes(se.weights_path().read_bytes()[:-1] + b"\0")
    with pytest.raises(WeightsError, match="sha256"):
        se.read_state_dict(fake)


def test_the_unpickler_refuses_anything_but_tensors(tmp_path: Path) -> None:
    """A checkpoint that would call os.system under torch.load raises before importing anything."""

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            import os

            return (os.system, ("echo pwned",))

    payload = b"".join(
        pickle.dumps(x, protocol=2)
        for x in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}, {"model_state": Evil()})
    )
    path = tmp_path / "evil.pt"
    path.write_bytes(payload)
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        se.read_state_dict(path, sha256=hashlib.sha256(payload).hexdigest())


def test_state_dict_has_the_three_layer_lstm(encoder: se.SpeakerEncoder) -> None:
    state = se.read_state_dict(se.weights_path())
    assert state["lstm.weight_ih_l0"].shape == (1024, 40)
    assert state["lstm.weight_hh_l2"].shape == (1024, 256)
    assert state["linear.weight"].shape == (256, 256)
    assert all(a.dtype == np.float32 for a in state.values())


def test_mel_filterbank_is_librosas_slaney_default() -> None:
    bank = se.mel_filterbank()
    assert bank.shape == (40, 201)
    assert (bank >= 0).all()
    # Slaney scale: linear (200/3 Hz a mel) to 1 kHz = 15 mel, then log steps of 6.4**(1/27).
    assert float(se._hz_to_mel(np.array(1000.0))) == pytest.approx(15.0)
    assert float(se._hz_to_mel(np.array(6400.0))) == pytest.approx(42.0)
    assert float(se._mel_to_hz(se._hz_to_mel(np.array(3210.0)))) == pytest.approx(3210.0)
    # Area normalisation: each wide (upper) triangle integrates to about 1 over 40-Hz bins.
    assert np.allclose(bank[20:].sum(axis=1) * 40.0, 1.0, atol=0.03)
    assert np.count_nonzero(bank[:, 0]) == 0  # nothing at DC


def test_features_frames_and_partials() -> None:
    wav = np.zeros(16_000, np.float32)
    assert se.mel_spectrogram(wav).shape == (101, 40)
    assert se.partial_starts(16_000) == [0]
    assert se.partial_starts(16_000 * 5) == [0, 77, 154, 231, 308]  # rate 1.3; a 72%-covered 6th dropped


def test_volume_is_raised_never_lowered() -> None:
    quiet = np.full(1600, 0.001, np.float32)
    loud = np.full(1600, 0.5, np.float32)
    assert np.sqrt(np.mean(se.normalise_volume(quiet) ** 2)) == pytest.approx(10 ** (-30 / 20), rel=1e-3)
    assert se.normalise_volume(loud) is loud
    assert se.normalise_volume(np.zeros(10, np.float32)).sum() == 0


def _reference_forward(mels: np.ndarray) -> np.ndarray:
    """torch.nn.LSTM (3 layers) + linear + relu + L2 norm, written out in numpy as the oracle."""
    state = se.read_state_dict(se.weights_path())
    x = mels.astype(np.float64)
    hidden = 256
    h = np.zeros((len(x), hidden))
    for layer in range(3):
        w_ih, w_hh = state[f"lstm.weight_ih_l{layer}"], state[f"lstm.weight_hh_l{layer}"]
        bias = state[f"lstm.bias_ih_l{layer}"] + state[f"lstm.bias_hh_l{layer}"]
        h, c = np.zeros((len(x), hidden)), np.zeros((len(x), hidden))
        outputs = []
        for t in range(x.shape[1]):
            g = x[:, t] @ w_ih.T + h @ w_hh.T + bias
            i, f, cell, o = np.split(g, 4, axis=1)  # torch's gate order
            sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
            c = sig(f) * c + sig(i) * np.tanh(cell)
            h = sig(o) * np.tanh(c)
            outputs.append(h)
        x = np.stack(outputs, axis=1)
    raw = np.maximum(h @ state["linear.weight"].T + state["linear.bias"], 0)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def test_onnx_graph_matches_the_lstm_written_out(encoder: se.SpeakerEncoder) -> None:
    """Catches a wrong gate order or layer wiring in the graph (measured difference: ~5e-7)."""
    rng = np.random.default_rng(3)
    mels = (rng.random((3, 160, 40)) * 5).astype(np.float32)
    assert np.abs(encoder.embed_partials(mels) - _reference_forward(mels)).max() < 1e-5


def test_embeddings_are_unit_length_and_silence_gives_none(encoder: se.SpeakerEncoder) -> None:
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(32_000) * 0.1).astype(np.float32)
    out = encoder.embed_utterances([noise, np.zeros(100, np.float32)], preprocessed=True)
    assert out[0] is not None and out[0].shape == (256,)
    assert np.linalg.norm(out[0]) == pytest.approx(1.0, abs=1e-5)
    assert out[1] is None


@needs_eval
def test_same_speaker_scores_higher_than_different_speakers(encoder: se.SpeakerEncoder) -> None:
    """VCTK p225 twice and p226 once: the figures resemblyzer itself gives (0.73; 0.41-0.53)."""
    from faster_whisper.audio import decode_audio

    assert EVAL is not None
    files = ["vctk_p225_001_mic1.flac", "vctk_p225_002_mic1.flac", "vctk_p226_001_mic1.flac"]
    a, b, c = (e for e in encoder.embed_utterances([decode_audio(str(EVAL / "other" / f)) for f in files]))
    assert a is not None and b is not None and c is not None
    assert float(a @ b) == pytest.approx(0.73, abs=0.02)
    assert float(a @ b) > max(float(a @ c), float(b @ c)) + 0.15
