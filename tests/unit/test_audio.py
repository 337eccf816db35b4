"""Sniffing and conversion against real files made from the bundled sample with the bundled ffmpeg."""

from __future__ import annotations

import shutil
import stat
import wave
from pathlib import Path

import pytest

from tests.conftest import ffmpeg, write_empty_wav
from transcriber.adapters import ffmpeg as audio
from transcriber.adapters.ffmpeg import convert_to_wav, ffmpeg_path
from transcriber.domain.audio import (
    SUPPORTED_EXTENSIONS,
    AudioInfo,
    sniff_format,
    sniff_header,
    target_wav_info,
)
from transcriber.domain.chunking import ChunkingConfig
from transcriber.domain.errors import (
    CorruptAudioError,
    EmptyFileError,
    NoAudioStreamError,
    TooLongError,
    UnsupportedFormatError,
)
from transcriber.domain.preparation import prepare_chunks

CLIP_S = 4.0

#: name -> (ffmpeg output arguments, format the sniffer must report)
ENCODINGS: dict[str, tuple[list[str], str]] = {
    "clip.mp3": (["-c:a", "libmp3lame", "-b:a", "32k"], "mp3"),
    "clip.opus": (["-c:a", "libopus", "-b:a", "24k"], "opus"),
    "clip.ogg": (["-c:a", "libvorbis"], "ogg"),
    "clip.m4a": (["-c:a", "aac", "-b:a", "48k"], "m4a"),
    "clip.aac": (["-c:a", "aac", "-b:a", "48k", "-f", "adts"], "aac"),
    "clip.webm": (["-c:a", "libopus", "-b:a", "24k"], "webm"),
    "clip.wma": (["-c:a", "wmav2", "-b:a", "48k"], "wma"),
    "stereo44k.wav": (["-ac", "2", "-ar", "44100"], "wav"),
}


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory, sample_flac: Path) -> dict[str, Path]:
    """A 4-second cut of the sample in every container users upload."""
    folder = tmp_path_factory.mktemp("encoded")
    files = {}
    for name, (args, _) in ENCODINGS.items():
        files[name] = folder / name
        ffmpeg("-i", str(sample_flac), "-t", str(CLIP_S), *args, str(files[name]))
    return files


def _wav_params(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as wav:
        return (
            wav.getframerate(),
            wav.getnchannels(),
            wav.getsampwidth(),
            wav.getnframes() / wav.getframerate(),
        )


def test_sample_flac_becomes_16k_mono_pcm_wav(sample_flac: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out" / "sample.wav"
    info = convert_to_wav(sample_flac, dst)
    assert info == AudioInfo(duration_s=22.56, sample_rate=16000, channels=1, format="flac")
    rate, channels, width, seconds = _wav_params(dst)
    assert (rate, channels, width) == (16000, 1, 2)
    assert seconds == pytest.approx(info.duration_s, abs=0.001)


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_every_container_is_sniffed_and_converted(
    name: str, encoded: dict[str, Path], tmp_path: Path
) -> None:
    src = encoded[name]
    expected_format = ENCODINGS[name][1]
    assert sniff_format(src) == expected_format
    # The name is never trusted: the same bytes under a wrong extension convert the same way.
    disguised = tmp_path / "upload.flac"
    shutil.copy(src, disguised)
    info = convert_to_wav(disguised, tmp_path / "out.wav")
    assert info.format == expected_format
    assert (info.sample_rate, info.channels) == (16000, 1)
    assert info.duration_s == pytest.approx(CLIP_S, abs=0.1)  # lossy codecs pad a few ms
    assert _wav_params(tmp_path / "out.wav")[:3] == (16000, 1, 2)


def test_odd_file_names_are_read_as_local_files(sample_flac: Path, tmp_path: Path) -> None:
    src = tmp_path / "http:evil -y -i.flac"
    shutil.copy(sample_flac, src)
    assert convert_to_wav(src, tmp_path / "x: -y.wav").duration_s == pytest.approx(22.56, abs=0.02)


def test_text_named_mp3_is_unsupported_with_an_actionable_message(tmp_path: Path) -> None:
    src = tmp_path / "song.mp3"
    src.write_text("This is not audio, just some notes about a song.\n")
    with pytest.raises(UnsupportedFormatError) as caught:
        sniff_format(src)
    assert caught.value.reason_code == "UNSUPPORTED_FORMAT"
    assert "plain text" in caught.value.message and "MP3" in caught.value.message
    with pytest.raises(UnsupportedFormatError):
        convert_to_wav(src, tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n", "playlist"),
        (b"ffconcat version 1.0\nfile /etc/passwd\n", "concat"),
        (b"<html><body>404</body></html>", "text document"),
        (bytes(range(200, 256)), "unrecognised data"),
    ],
)
def test_non_audio_content_is_refused_before_ffmpeg_runs(content: bytes, said: str, tmp_path: Path) -> None:
    src = tmp_path / "audio.wav"
    src.write_bytes(content)
    with pytest.raises(UnsupportedFormatError, match=said):
        convert_to_wav(src, tmp_path / "out.wav")


def test_zero_bytes_is_an_empty_file(tmp_path: Path) -> None:
    src = tmp_path / "empty.m4a"
    src.touch()
    with pytest.raises(EmptyFileError) as caught:
        convert_to_wav(src, tmp_path / "out.wav")
    assert caught.value.reason_code == "EMPTY_FILE"
    with pytest.raises(EmptyFileError):
        sniff_header(b"")


@pytest.mark.parametrize(("keep", "tail"), [(4, bytes(range(256)) * 8), (100, b"")])
def test_garbage_or_truncation_after_a_valid_header_is_corrupt(
    keep: int, tail: bytes, sample_flac: Path, tmp_path: Path
) -> None:
    src = tmp_path / "broken.flac"
    src.write_bytes(sample_flac.read_bytes()[:keep] + tail)
    assert sniff_format(src) == "flac"
    dst = tmp_path / "out.wav"
    with pytest.raises(CorruptAudioError) as caught:
        convert_to_wav(src, dst)
    assert caught.value.reason_code == "CORRUPT_AUDIO"
    assert "@ 0x" not in caught.value.message  # ffmpeg's log prefixes are stripped
    assert not dst.exists()


def test_video_without_sound_has_no_audio_stream(tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=1:size=32x32:rate=5", "-c:v", "mpeg4", str(src))
    with pytest.raises(NoAudioStreamError) as caught:
        convert_to_wav(src, tmp_path / "out.wav")
    assert caught.value.reason_code == "NO_AUDIO_STREAM"


def test_audio_track_without_samples_is_refused(tmp_path: Path) -> None:
    src = write_empty_wav(tmp_path / "silent.wav")
    with pytest.raises(NoAudioStreamError):
        convert_to_wav(src, tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()


def test_a_hung_decoder_is_stopped(
    sample_flac: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = tmp_path / "ffmpeg"
    slow.write_text("#!/bin/sh\nexec sleep 10\n")
    slow.chmod(slow.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("FFMPEG_PATH", str(slow))
    with pytest.raises(CorruptAudioError, match="longer than"):
        convert_to_wav(sample_flac, tmp_path / "out.wav", timeout_s=0.3)


def test_decoding_stops_just_past_the_duration_limit(sample_flac: Path, tmp_path: Path) -> None:
    """A file over the limit costs the decode of the limit, not of its whole length."""
    info = convert_to_wav(sample_flac, tmp_path / "out.wav", max_duration_s=5)
    assert 5 < info.duration_s <= 5 + audio.DECODE_PAST_LIMIT_S + 0.05
    with pytest.raises(TooLongError, match="lasts longer than the"):
        prepare_chunks(
            sample_flac,
            tmp_path,
            config=ChunkingConfig(),
            max_duration_s=5,
            convert=lambda src, dst: convert_to_wav(src, dst, max_duration_s=5),
        )


def test_the_channel_split_stops_just_past_the_duration_limit(
    encoded: dict[str, Path], tmp_path: Path
) -> None:
    info, channels = audio.split_channels(
        encoded["stereo44k.wav"], tmp_path / "channels", max_channels=8, max_duration_s=2
    )
    assert info.channels == 2 and len(channels) == 2
    assert 2 < info.duration_s <= 2 + audio.DECODE_PAST_LIMIT_S + 0.05 < CLIP_S


def test_a_full_disk_is_too_long_audio_not_a_damaged_file(
    sample_flac: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = tmp_path / "ffmpeg"
    full.write_text("#!/bin/sh\necho 'Error writing trailer: No space left on device' >&2\nexit 1\n")
    full.chmod(full.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("FFMPEG_PATH", str(full))
    with pytest.raises(TooLongError, match="does not fit"):
        convert_to_wav(sample_flac, tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()


def test_ffmpeg_path_prefers_env_then_layer_then_imageio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FFMPEG_PATH", "/custom/ffmpeg")
    assert ffmpeg_path() == "/custom/ffmpeg"
    monkeypatch.delenv("FFMPEG_PATH")
    layer = tmp_path / "ffmpeg"
    layer.touch()
    monkeypatch.setattr(audio, "LAYER_FFMPEG", layer)
    assert ffmpeg_path() == str(layer)
    monkeypatch.setattr(audio, "LAYER_FFMPEG", tmp_path / "missing")
    assert "imageio_ffmpeg" in ffmpeg_path()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
        (b"FORM\x00\x00\x00\x10AIFFCOMM", "aiff"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3"),
        (bytes([0xFF, 0xFB, 0x90, 0x64]), "mp3"),  # MPEG-1 layer III frame
        (bytes([0xFF, 0xF1, 0x50, 0x80]), "aac"),  # ADTS
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "m4a"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "mp4"),
        (bytes.fromhex("3026B2758E66CF11A6D900AA0062CE6C"), "wma"),
        (bytes.fromhex("1A45DFA3") + b"\x9f\x42\x82\x84webm", "webm"),
        (bytes.fromhex("1A45DFA3") + b"\x9f\x42\x82\x88matroska", "matroska"),
    ],
)
def test_magic_numbers(head: bytes, expected: str) -> None:
    assert sniff_header(head) == expected


def test_supported_extensions_cover_the_common_uploads() -> None:
    assert {
        "wav",
        "mp3",
        "m4a",
        "mp4",
        "flac",
        "ogg",
        "oga",
        "opus",
        "aac",
        "wma",
        "webm",
    } <= SUPPORTED_EXTENSIONS


# --- a file that already is 16 kHz mono PCM WAV is used as it is ---------------------------------


def test_a_16k_mono_pcm_wav_needs_no_conversion(sample_wav: Path) -> None:
    info = target_wav_info(sample_wav)
    assert info is not None
    assert (info.sample_rate, info.channels, info.format) == (16000, 1, "wav")
    assert info.duration_s == pytest.approx(_wav_params(sample_wav)[3], abs=0.001)


def test_other_wavs_and_truncated_or_empty_ones_go_to_ffmpeg(
    encoded: dict[str, Path], sample_wav: Path, tmp_path: Path
) -> None:
    assert target_wav_info(encoded["stereo44k.wav"]) is None  # another rate and layout
    assert target_wav_info(encoded["clip.mp3"]) is None  # not a WAV at all
    assert target_wav_info(write_empty_wav(tmp_path / "empty.wav")) is None  # no samples
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(sample_wav.read_bytes()[:20_000])  # the header promises the whole clip
    assert target_wav_info(truncated) is None
    converted = tmp_path / "out.wav"
    assert convert_to_wav(truncated, converted).duration_s < 1  # ffmpeg decodes what is there


def test_preparing_a_16k_mono_wav_runs_no_decoder(
    sample_wav: Path, sample_flac: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FFMPEG_PATH", str(tmp_path / "no-such-ffmpeg"))  # any ffmpeg run would fail
    prepared = prepare_chunks(
        sample_wav,
        tmp_path,
        config=ChunkingConfig(max_chunk_seconds=8),
        max_duration_s=600,
        convert=convert_to_wav,
    )
    assert prepared.info.duration_s == pytest.approx(_wav_params(sample_wav)[3], abs=0.001)
    assert len(prepared.chunks) == 4
    assert sample_wav.exists()  # the upload itself is left alone
    with pytest.raises(FileNotFoundError):  # while anything else still needs ffmpeg
        prepare_chunks(
            sample_flac, tmp_path, config=ChunkingConfig(), max_duration_s=600, convert=convert_to_wav
        )
