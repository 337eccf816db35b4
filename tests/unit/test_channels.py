"""Channel identification: splitting per channel, planning per channel, merging per channel."""

from __future__ import annotations

import json
import math
import wave
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ffmpeg
from transcriber.adapters.ffmpeg import split_channels
from transcriber.domain.audio import AudioInfo
from transcriber.domain.channels import (
    MONO_NOTE,
    SplitChannels,
    merge_by_channel,
    prepare_channel_chunks,
    suppress_crosstalk,
)
from transcriber.domain.chunking import ChunkingConfig, plan_from_speech
from transcriber.domain.errors import TooLongError, UnsupportedFormatError
from transcriber.domain.formats import parse_srt, parse_vtt, to_srt, to_vtt, transcript_to_dict
from transcriber.domain.jobs import audio_key
from transcriber.domain.merge import merge_chunks
from transcriber.domain.messages import ChunkRef, ChunkResponse, ManifestRef
from transcriber.domain.models import ChunkSpec, ChunkTranscript, Segment, Transcript, Word
from transcriber.domain.options import JobOptions
from transcriber.stages.manifest import manifest_key

RATE = 16_000


def write_wav(path: Path, channels: list[np.ndarray]) -> Path:
    """16-bit PCM with one column per channel (floats in -1..1)."""
    frames = np.stack(channels, axis=1)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(len(channels))
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes((frames * 32767).astype("<i2").tobytes())
    return path


def bursts(seconds: float, on: list[tuple[float, float]], freq: float = 440.0) -> np.ndarray:
    """A tone during the ``on`` spans, silence elsewhere."""
    t = np.arange(int(seconds * RATE)) / RATE
    signal = np.zeros_like(t)
    for start, end in on:
        mask = (t >= start) & (t < end)
        signal[mask] = 0.5 * np.sin(2 * math.pi * freq * t[mask])
    return signal


def read_mono(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (1, RATE, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(float) / 32767


# The ffmpeg adapter -------------------------------------------------------------------------------


def test_split_channels_writes_each_channel_as_16k_mono(tmp_path: Path) -> None:
    left = bursts(3.0, [(0.0, 1.0)])
    right = bursts(3.0, [(2.0, 3.0)])
    # 44.1 kHz stereo in, as recorders write it: resampled to 16 kHz per channel.
    source = tmp_path / "call.wav"
    write_wav(tmp_path / "src16.wav", [left, right])
    ffmpeg("-i", str(tmp_path / "src16.wav"), "-ar", "44100", str(source))
    info, paths = split_channels(source, tmp_path / "out", max_channels=8)
    assert info.channels == 2 and info.duration_s == pytest.approx(3.0, abs=0.01)
    assert [p.name for p in paths] == ["channel-0.wav", "channel-1.wav"]
    first, second = (read_mono(p) for p in paths)
    half = RATE * 3 // 2
    # Each channel's energy lies where its own bursts were, not the other's.
    assert np.abs(first[: RATE // 1]).mean() > 0.2 and np.abs(first[half:]).mean() < 0.01
    assert np.abs(second[2 * RATE :]).mean() > 0.2 and np.abs(second[:half]).mean() < 0.01
    assert not (tmp_path / "out" / "all-channels.wav").exists()


def test_split_channels_gives_a_mono_file_one_channel(tmp_path: Path) -> None:
    source = write_wav(tmp_path / "mono.wav", [bursts(1.0, [(0.0, 1.0)])])
    info, paths = split_channels(source, tmp_path / "out", max_channels=8)
    assert info.channels == 1 and len(paths) == 1
    assert len(read_mono(paths[0])) == RATE


def test_split_channels_refuses_more_channels_than_allowed(tmp_path: Path) -> None:
    source = write_wav(tmp_path / "many.wav", [bursts(0.5, [(0, 0.5)])] * 3)
    with pytest.raises(UnsupportedFormatError, match=r"3 channels.*up to 2"):
        split_channels(source, tmp_path / "out", max_channels=2)


# Planning per channel ---------------------------------------------------------------------------


def fake_split(channel_signals: list[np.ndarray]) -> SplitChannels:
    def split(source: Path, out_dir: Path) -> tuple[AudioInfo, list[Path]]:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = [write_wav(out_dir / f"channel-{i}.wav", [s]) for i, s in enumerate(channel_signals)]
        duration = len(channel_signals[0]) / RATE
        return AudioInfo(duration_s=duration, sample_rate=RATE, channels=len(paths), format="wav"), paths

    return split


@pytest.fixture
def upload(tmp_path: Path) -> Path:
    return write_wav(tmp_path / "upload.wav", [bursts(0.2, [])])  # only sniffed: the split is faked


def test_each_channel_is_planned_on_its_own_with_indexes_running_on(tmp_path: Path, upload: Path) -> None:
    left = bursts(60.0, [(1, 12), (20, 31), (40, 50)])
    right = bursts(60.0, [(13, 19), (33, 39)])
    config = ChunkingConfig(max_chunk_seconds=20)
    prepared = prepare_channel_chunks(
        upload, tmp_path / "work", config=config, max_duration_s=3600, split=fake_split([left, right])
    )
    specs = [spec for spec, _ in prepared.chunks]
    assert [spec.index for spec in specs] == list(range(len(specs)))
    channels = [spec.channel or 0 for spec in specs]
    assert channels == sorted(channels) and set(channels) == {0, 1}
    # Right-channel chunks cover its own speech only (the left's bursts are not on its timeline).
    right_specs = [spec for spec in specs if spec.channel == 1]
    assert right_specs[0].offset >= 12 and right_specs[-1].end <= 40
    # One WAV per channel, and each chunk's byte range in its channel's WAV holds that channel's
    # samples from the chunk's offset to its end.
    assert len(prepared.audio) == prepared.channels == 2
    for spec, span in prepared.chunks:
        wav = prepared.audio[spec.channel or 0]
        with wave.open(str(wav), "rb") as audio:
            audio.setpos(round(spec.offset * RATE))
            expected = audio.readframes(round(spec.duration * RATE))
        assert wav.read_bytes()[span.first : span.stop] == expected
    assert prepared.job_fields() == {"channels": 2}


def test_a_mono_upload_gives_one_channel_and_a_note(tmp_path: Path, upload: Path) -> None:
    prepared = prepare_channel_chunks(
        upload,
        tmp_path / "work",
        config=ChunkingConfig(),
        max_duration_s=3600,
        split=fake_split([bursts(5.0, [(0, 4)])]),
    )
    assert {spec.channel for spec, _ in prepared.chunks} == {0}
    assert prepared.job_fields() == {"channels": 1, "channel_note": MONO_NOTE}


def test_the_duration_limit_counts_every_channel(tmp_path: Path, upload: Path) -> None:
    stereo = fake_split([bursts(40.0, [(0, 30)]), bursts(40.0, [(5, 35)])])
    with pytest.raises(TooLongError, match=r"2 channels.*1\.3 minutes to transcribe"):
        prepare_channel_chunks(
            upload, tmp_path / "w", config=ChunkingConfig(), max_duration_s=60, split=stereo
        )


# Merging per channel ----------------------------------------------------------------------------


def seg(start: float, end: float, *words: str) -> Segment:
    step = (end - start) / len(words)
    timed = tuple(Word(start + i * step, start + (i + 1) * step, w) for i, w in enumerate(words))
    return Segment(start=start, end=end, text=" ".join(words), words=timed)


def test_merge_keeps_seams_per_channel_and_interleaves_by_time() -> None:
    chunks = [
        # channel 0: two chunks with a 2-s overlap at 28-30; "seam" is heard by both
        ChunkTranscript(0, 0.0, 30.0, "en", (seg(1.0, 3.0, "hello", "there"), seg(28.4, 29.4, "seam")), "e"),
        ChunkTranscript(1, 28.0, 20.0, "en", (seg(0.4, 1.4, "seam"), seg(6.0, 8.0, "bye")), "e", overlap=2.0),
        # channel 1: its first chunk is index 2 but continues nothing of channel 0
        ChunkTranscript(2, 2.0, 30.0, "en", (seg(0.5, 2.0, "hi", "agent"), seg(30.0, 30.0, "")), "e"),
    ]
    transcript = merge_by_channel(chunks, {0: 0, 1: 0, 2: 1}, partial(merge_chunks, "job", duration=60.0))
    texts = [(s.start, s.channel, s.speaker, s.text) for s in transcript.segments]
    assert texts == [
        (1.0, 0, "ch_0", "hello there"),
        (2.5, 1, "ch_1", "hi agent"),
        (28.4, 0, "ch_0", "seam"),
        (34.0, 0, "ch_0", "bye"),
    ]
    assert all(w.speaker == s.speaker for s in transcript.segments for w in s.words)
    assert transcript.chunks == 3 and transcript.language == "en"
    document = transcript_to_dict(transcript)
    assert [(s["label"], s["seconds"]) for s in document["speakers"]] == [("ch_0", 5.0), ("ch_1", 1.5)]
    assert document["segments"][1]["channel"] == 1


def test_a_seam_in_one_channel_does_not_cut_the_other() -> None:
    """Channel 1's chunk 2 overlaps nothing: a merge across channels would treat it as chunk 1's
    successor only if it declared an overlap, which per-channel planning never gives a first chunk."""
    chunks = [
        ChunkTranscript(0, 0.0, 10.0, "en", (seg(8.0, 9.9, "left"),), "e"),
        ChunkTranscript(1, 0.0, 10.0, "en", (seg(0.1, 1.0, "right", "early"),), "e", overlap=0.0),
    ]
    transcript = merge_by_channel(chunks, {0: 0, 1: 1}, partial(merge_chunks, "job", duration=10.0))
    assert [s.text for s in transcript.segments] == ["right early", "left"]


def _call(ch_0: tuple[Segment, ...], ch_1: tuple[Segment, ...]) -> Transcript:
    chunks = [ChunkTranscript(0, 0.0, 60.0, "en", ch_0, "e"), ChunkTranscript(1, 0.0, 60.0, "en", ch_1, "e")]
    return merge_by_channel(chunks, {0: 0, 1: 1}, partial(merge_chunks, "job", duration=60.0))


def test_a_backchannel_on_the_other_channel_does_not_cut_the_sentence_short() -> None:
    sentence = "I would like to check the status of my order please."
    transcript = _call((seg(10.0, 14.0, *sentence.split()),), (seg(10.4, 10.7, "okay."),))
    expected = [(10.0, 14.0, f"ch_0: {sentence}"), (10.4, 10.7, "ch_1: okay.")]
    assert parse_srt(to_srt(transcript)) == expected
    assert parse_vtt(to_vtt(transcript)) == [(10.0, 14.0, sentence), (10.4, 10.7, "okay.")]


def test_channel_cues_are_in_start_order_and_cut_only_by_their_own_channel() -> None:
    long_turn = seg(10.0, 20.0, *(f"word{i}" for i in range(25)))  # 0.4 s a word: cut at 7 s
    framed = replace(seg(21.0, 22.0, "then", "this."), end=23.0)  # its bounds reach into the next
    transcript = _call((long_turn, framed, seg(22.5, 23.5, "more.")), (seg(10.4, 10.7, "okay."),))
    srt = to_srt(transcript)
    numbers = [int(block.split("\n")[0]) for block in srt.strip().split("\n\n")]
    for cues in (parse_srt(srt), parse_vtt(to_vtt(transcript))):
        assert [start for start, _, _ in cues] == sorted(start for start, _, _ in cues)  # WebVTT's order
        assert cues[0][0] == 10.0 and cues[0][1] > 14.0  # the turn's first cue runs on past "okay"
        assert cues[1][:2] == (10.4, 10.7) and cues[1][2].endswith("okay.")
        assert cues[2][0] == cues[0][1]  # the turn's second cue follows its first, after "okay"
        # Within one channel, a cue still ends where that channel's next cue starts.
        assert cues[-2][:2] == (21.0, 22.5) and cues[-2][2].endswith("then this.")
        assert cues[-1] == (22.5, 23.5, "more.")
    assert numbers == list(range(1, len(parse_srt(srt)) + 1))


# Options and messages ---------------------------------------------------------------------------


def test_the_option_travels_as_metadata_and_is_off_by_default() -> None:
    assert JobOptions().channel_identification is False
    chosen = JobOptions.from_metadata({"transcribe-channel-identification": "true"})
    assert chosen.channel_identification is True
    assert chosen.to_metadata() == {"transcribe-channel-identification": "true"}
    assert chosen.affecting_the_transcript() == {"channel_identification": True}


def test_chunk_references_carry_the_channel_only_when_there_is_one() -> None:
    plain = ChunkRef.of(ChunkSpec(0, 0.0, 5.0), "k0")
    stereo = ChunkRef.of(ChunkSpec(1, 0.0, 5.0, channel=1), "k1")
    # the chunk manifest's items, as the chunk step writes them (transcriber/stages/manifest.py)
    wire = {"chunks": [ref.to_wire() for ref in (plain, stereo)]}
    assert "channel" not in wire["chunks"][0] and wire["chunks"][1]["channel"] == 1
    assert ChunkRef.model_validate(wire["chunks"][1]).spec() == ChunkSpec(1, 0.0, 5.0, channel=1)
    assert ChunkSpec.from_dict(ChunkSpec(1, 0.0, 5.0, channel=1).to_dict()).channel == 1
    assert "channel" not in ChunkSpec(0, 0.0, 1.0).to_dict()


def test_crosstalk_is_muted_where_the_other_channel_is_much_louder(tmp_path: Path) -> None:
    """Leaked speech 30 dB down is silenced; overlapping talk and a channel's own quiet speech stay."""
    agent = bursts(3.0, [(0.0, 1.0), (2.0, 3.0)])
    customer = 0.25 * bursts(3.0, [(1.0, 2.5)], freq=300.0)  # 12 dB quieter, overlaps 2.0-2.5
    left = write_wav(tmp_path / "l.wav", [agent + 10 ** (-30 / 20) * customer])
    right = write_wav(tmp_path / "r.wav", [customer + 10 ** (-30 / 20) * agent])
    suppress_crosstalk([left, right])
    left_out, right_out = read_mono(left), read_mono(right)
    second = slice(int(1.1 * RATE), int(1.9 * RATE))  # the customer alone
    assert np.abs(left_out[second]).max() == 0  # the leak of the customer is gone from the agent's channel
    assert np.abs(right_out[: int(0.9 * RATE)]).max() == 0  # and the agent's from the customer's
    assert np.abs(right_out[second]).mean() > 0.05 and np.abs(left_out[: RATE // 2]).mean() > 0.2
    both = slice(int(2.1 * RATE), int(2.4 * RATE))  # both talk: both kept
    assert np.abs(left_out[both]).mean() > 0.2 and np.abs(right_out[both]).mean() > 0.05
    assert len(left_out) == len(right_out) == 3 * RATE


@pytest.mark.parametrize("channels", [2, 4])
def test_a_multichannel_plan_within_the_duration_limit_fits_the_state(channels: int) -> None:
    """The limit counts every channel (four hours in all); the references carry their channel."""
    from tests.unit.test_long_files import FOUR_HOURS_MS, STATE_PAYLOAD_LIMIT, runs, stored_bytes

    config = ChunkingConfig(max_chunk_seconds=20)
    per_channel_ms = FOUR_HOURS_MS // channels
    speech = [(s, e) for s, e in runs(20_500, 600) if e <= per_channel_ms]  # the worst pattern
    specs: list[ChunkSpec] = []
    for channel in range(channels):
        planned = plan_from_speech(speech, per_channel_ms, config)
        specs += [replace(s, index=len(specs) + s.index, channel=channel) for s in planned]
    refs = [ChunkRef.of(spec, audio_key("0" * 32, spec.channel), stored_bytes(spec)) for spec in specs]
    # The references go to the chunk manifest in S3; the state holds their count and its location.
    manifest = ManifestRef(bucket="results", key=manifest_key("0" * 32))
    state = ChunkResponse(
        job_id="0" * 32, duration=per_channel_ms / 1000, chunks_total=len(refs), manifest=manifest
    ).to_wire()
    execution_input = {"job_id": "0" * 32, "bucket": "b" * 63, "key": "k" * 1024}
    options = {"options": {"language": "de", "channel_identification": True}}
    size = len(json.dumps({**execution_input, **options, "audio": state}).encode())
    assert size < STATE_PAYLOAD_LIMIT
