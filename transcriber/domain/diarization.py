"""Who spoke when: speech windows -> speaker embeddings -> one clustering per job -> labels.

Split in two so that it scales like the transcription:

* per chunk, where the audio already is (the Map fan-out): :func:`plan_windows` cuts the speech
  regions into windows of about ``step_s`` seconds, :func:`embed_windows` embeds them through any
  ``Embedder`` (the GE2E encoder in production) and returns :class:`SpeakerEmbeddings`, a few
  kilobytes a minute that go to S3 as ``.npz`` (never into the state machine's payload);
* once per job: :func:`diarize` clusters the embeddings of all chunks together, so a speaker
  keeps one label across every chunk of a four-hour file, and returns :class:`SpeakerTurn` s.

Then :func:`label_segments` gives every word the speaker whose turn it overlaps most and splits
segments where the speaker changes (words keep their times). No AWS and no model here: tests
drive it with a fake embedder.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

# Labelling words with turns needs neither numpy nor scikit-learn, so it lives apart (aggregate
# runs as a zip function without them); re-exported here, where the rest of diarization is.
from transcriber.domain.speaker_turns import SpeakerTurn, label_segments, speaker_at, speaker_seconds

__all__ = ["SpeakerTurn", "label_segments", "speaker_at", "speaker_seconds"]

#: Audio fed to the encoder per window: one 1.6-s partial, the unit the encoder was trained on.
EMBED_SPAN_S = 1.6
#: Default window step: one embedding per second of speech (the cost/resolution trade-off).
DEFAULT_STEP_S = 1.0
#: Regions shorter than this carry too little voice for an embedding; they take a neighbour's label.
MIN_REGION_S = 0.4
#: Cosine distance below which two windows' clusters merge (average linkage). Chosen with
#: MIN_SPEAKER_S on bench/speakers.py's 14 conversations and confirmed on its 20 held-out ones.
DEFAULT_THRESHOLD = 0.40
#: A cluster with less speech than this is folded into its nearest neighbour (noise, not a person).
MIN_SPEAKER_S = 1.0
#: Windows whose embeddings are averaged with their neighbours' within one speech region.
SMOOTHING_NEIGHBOURS = 1
MAX_SPEAKERS = 30
#: Average linkage needs every pairwise distance (n^2/2 floats: 0.8 GB at 4 hours of speech).
#: Past this many windows, an evenly spaced sample is clustered and the rest join the nearest
#: centroid, so a long job costs the same to cluster as about half an hour of speech.
MAX_CLUSTERED_WINDOWS = 2000

#: Many audio snippets (16 kHz float32) in, one L2-normed vector (or None) per snippet out.
Embedder = Callable[[list[np.ndarray]], list[np.ndarray | None]]


@dataclass(frozen=True)
class SpeakerEmbeddings:
    """Windows of one chunk (or of a whole job, concatenated): absolute times and their vectors.

    ``region`` numbers the speech region a window came from (unique across a job once
    concatenated), so that smoothing never mixes windows across a pause. ``channel`` is the
    source channel of each window with channel identification (None without it): the channels'
    windows overlap in time, so their turns are built apart.
    """

    starts: np.ndarray
    ends: np.ndarray
    region: np.ndarray
    vectors: np.ndarray
    channel: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.starts)

    def on_channel(self, channel: int | None) -> SpeakerEmbeddings:
        """The same windows, each marked as heard on ``channel`` (None: no channel identification)."""
        marks = None if channel is None else np.full(len(self), channel, np.int64)
        return SpeakerEmbeddings(self.starts, self.ends, self.region, self.vectors, marks)

    def to_bytes(self) -> bytes:
        """A compressed ``.npz`` (float16 vectors: about 30 KB per audio minute)."""
        buffer = io.BytesIO()
        arrays: dict[str, np.ndarray] = {
            "starts": self.starts.astype(np.float64),
            "ends": self.ends.astype(np.float64),
            "region": self.region.astype(np.int64),
            "vectors": self.vectors.astype(np.float16),
        }
        if self.channel is not None:
            arrays["channel"] = self.channel.astype(np.int64)
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]  # numpy types **kwds as allow_pickle too
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> SpeakerEmbeddings:
        """Read what :meth:`to_bytes` wrote; pickles are refused (the bytes come from storage)."""
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            vectors = npz["vectors"].astype(np.float32)
            starts, ends, region = npz["starts"], npz["ends"], npz["region"]
            channel = npz["channel"] if "channel" in npz.files else None
        if not (len(starts) == len(ends) == len(region) == len(vectors)) or (
            len(vectors) and vectors.ndim != 2
        ):
            raise ValueError("speaker embeddings file is inconsistent")
        if channel is not None and len(channel) != len(starts):
            raise ValueError("speaker embeddings file is inconsistent")
        return cls(starts, ends, region, vectors, channel)

    @classmethod
    def empty(cls, dim: int = 256) -> SpeakerEmbeddings:
        return cls(np.zeros(0), np.zeros(0), np.zeros(0, np.int64), np.zeros((0, dim), np.float32))

    @classmethod
    def concatenate(cls, parts: Sequence[SpeakerEmbeddings]) -> SpeakerEmbeddings:
        """Join chunks in time order (channel by channel, when they have channels); region numbers
        are made unique per part."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        regions, base = [], 0
        for part in parts:
            regions.append(part.region - part.region.min() + base)
            base = int(regions[-1].max()) + 1
        channel = None
        if any(p.channel is not None for p in parts):
            channel = np.concatenate(
                [p.channel if p.channel is not None else np.full(len(p), -1) for p in parts]
            )
        starts = np.concatenate([p.starts for p in parts])
        order = np.argsort(starts, kind="stable") if channel is None else np.lexsort((starts, channel))
        return cls(
            starts[order],
            np.concatenate([p.ends for p in parts])[order],
            np.concatenate(regions)[order],
            np.concatenate([p.vectors for p in parts])[order],
            None if channel is None else channel[order],
        )


def plan_windows(
    regions: Iterable[tuple[float, float]], step_s: float = DEFAULT_STEP_S
) -> list[tuple[int, float, float]]:
    """Cut each speech region into near-equal windows of about ``step_s``: ``(region, start, end)``."""
    windows: list[tuple[int, float, float]] = []
    for number, (start, end) in enumerate(regions):
        length = end - start
        if length < MIN_REGION_S:
            continue
        count = max(1, round(length / step_s))
        edges = np.linspace(start, end, count + 1)
        windows.extend((number, float(a), float(b)) for a, b in itertools.pairwise(edges))
    return windows


def embed_windows(
    samples: np.ndarray,
    regions: Iterable[tuple[float, float]],
    embed: Embedder,
    *,
    offset: float = 0.0,
    sample_rate: int = 16_000,
    step_s: float = DEFAULT_STEP_S,
    overlap: float = 0.0,
) -> SpeakerEmbeddings:
    """Embed the speech of one chunk; ``regions`` are chunk-relative seconds, the result is absolute.

    Each window is embedded from ``EMBED_SPAN_S`` of audio centred on it, kept inside its speech
    region, so neighbouring speech of the same region gives context but a pause never does.
    Windows centred in the first ``overlap`` seconds (the chunk's repeat of the previous chunk's
    end, see ``ChunkSpec.overlap``) are left out: the previous chunk embeds that speech already.
    """
    region_list = list(regions)
    windows = [w for w in plan_windows(region_list, step_s) if (w[1] + w[2]) / 2 >= overlap]
    snippets = []
    for number, start, end in windows:
        region_start, region_end = region_list[number]
        centre = (start + end) / 2
        lo = max(region_start, min(centre - EMBED_SPAN_S / 2, region_end - EMBED_SPAN_S))
        hi = min(region_end, lo + EMBED_SPAN_S)
        snippets.append(samples[round(lo * sample_rate) : round(hi * sample_rate)])
    vectors = embed(snippets) if snippets else []
    kept = [i for i, v in enumerate(vectors) if v is not None]
    if not kept:
        return SpeakerEmbeddings.empty()
    return SpeakerEmbeddings(
        starts=np.array([windows[i][1] + offset for i in kept]),
        ends=np.array([windows[i][2] + offset for i in kept]),
        region=np.array([windows[i][0] for i in kept], dtype=np.int64),
        vectors=np.stack([np.asarray(vectors[i], dtype=np.float32) for i in kept]),
    )


def check_speaker_range(min_speakers: int | None, max_speakers: int | None) -> None:
    """Raise ValueError (say what is accepted) for an impossible min/max pair."""
    for name, value in (("min_speakers", min_speakers), ("max_speakers", max_speakers)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name} must be a whole number from 1 to {MAX_SPEAKERS}, got {value!r}")
        if value is not None and not 1 <= value <= MAX_SPEAKERS:
            raise ValueError(f"{name} must be from 1 to {MAX_SPEAKERS}, got {value}")
    if min_speakers is not None and max_speakers is not None and min_speakers > max_speakers:
        raise ValueError(f"min_speakers ({min_speakers}) must not exceed max_speakers ({max_speakers})")


def _smoothed(emb: SpeakerEmbeddings, neighbours: int) -> np.ndarray:
    """Each window averaged with up to ``neighbours`` windows either side in the same region."""
    out = emb.vectors.copy()
    if neighbours <= 0:
        return out
    n = len(emb)
    for i in range(n):
        lo, hi = i, i
        while lo > 0 and i - lo < neighbours and emb.region[lo - 1] == emb.region[i]:
            lo -= 1
        while hi < n - 1 and hi - i < neighbours and emb.region[hi + 1] == emb.region[i]:
            hi += 1
        out[i] = emb.vectors[lo : hi + 1].mean(axis=0)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def _agglomerate(vectors: np.ndarray, n_clusters: int | None, threshold: float) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=n_clusters,
        distance_threshold=None if n_clusters else threshold,
        metric="cosine",
        linkage="average",
    )
    return np.asarray(model.fit_predict(vectors))


def _fold_small_clusters(
    labels: np.ndarray, vectors: np.ndarray, seconds: np.ndarray, keep: int
) -> np.ndarray:
    """Fold clusters with under ``MIN_SPEAKER_S`` of speech into their nearest big one (>= keep stay)."""
    labels = labels.copy()
    while True:
        ids = np.unique(labels)
        if len(ids) <= max(keep, 1):
            return labels
        totals = {c: float(seconds[labels == c].sum()) for c in ids}
        smallest = min(ids, key=lambda c: totals[c])
        if totals[smallest] >= MIN_SPEAKER_S:
            return labels
        centroids = {c: vectors[labels == c].mean(axis=0) for c in ids if c != smallest}
        mine = vectors[labels == smallest].mean(axis=0)
        target = max(
            centroids, key=lambda c: float(np.dot(centroids[c], mine) / np.linalg.norm(centroids[c]))
        )
        labels[labels == smallest] = target


def cluster_windows(
    emb: SpeakerEmbeddings,
    *,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> np.ndarray:
    """A cluster number per window; the count is estimated unless min/max pin it."""
    check_speaker_range(min_speakers, max_speakers)
    n = len(emb)
    if n == 0:
        return np.zeros(0, np.int64)
    vectors = _smoothed(emb, SMOOTHING_NEIGHBOURS)
    low = min(min_speakers or 1, n)
    high = min(max_speakers or MAX_SPEAKERS, n)
    if n == 1 or high == 1:
        return np.zeros(n, np.int64)
    sample = np.arange(n)
    if n > MAX_CLUSTERED_WINDOWS:
        sample = np.unique(np.linspace(0, n - 1, MAX_CLUSTERED_WINDOWS).round().astype(np.int64))
    labels = _nearest_centroid(vectors, sample, _agglomerate(vectors[sample], None, threshold))
    seconds = emb.ends - emb.starts
    labels = _fold_small_clusters(labels, vectors, seconds, keep=low)
    count = len(np.unique(labels))
    if count < low or count > high:
        wanted = min(max(count, low), high, len(sample))
        labels = _nearest_centroid(vectors, sample, _agglomerate(vectors[sample], wanted, threshold))
    return labels


def _nearest_centroid(vectors: np.ndarray, sample: np.ndarray, sample_labels: np.ndarray) -> np.ndarray:
    """Labels for every window: the sample keeps its own, the others take the closest centroid."""
    if len(sample) == len(vectors):
        return sample_labels
    ids = np.unique(sample_labels)
    centroids = np.stack([vectors[sample[sample_labels == c]].mean(axis=0) for c in ids])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    labels = ids[np.argmax(vectors @ centroids.T, axis=1)]
    labels[sample] = sample_labels
    return labels


def diarize(
    emb: SpeakerEmbeddings,
    *,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[SpeakerTurn]:
    """Speaker turns for a whole job, labelled ``spk_0, spk_1, ...`` in order of first appearance.

    All windows are clustered together (one label per voice, whatever channel it is heard on);
    with channels, each channel's turns are built from its own windows and carry the channel.
    """
    clusters = cluster_windows(emb, min_speakers=min_speakers, max_speakers=max_speakers, threshold=threshold)
    names: dict[int, str] = {}
    for window in np.argsort(emb.starts, kind="stable"):
        names.setdefault(int(clusters[window]), f"spk_{len(names)}")
    channels = emb.channel if emb.channel is not None else np.full(len(emb), -1)
    turns: list[SpeakerTurn] = []
    for channel in dict.fromkeys(channels.tolist()):  # the windows are in time order per channel
        mark = None if channel < 0 else int(channel)
        own: list[SpeakerTurn] = []
        for window in np.flatnonzero(channels == channel):
            start, end = float(emb.starts[window]), float(emb.ends[window])
            label = names[int(clusters[window])]
            previous = own[-1] if own else None
            if previous and previous.speaker == label and start - previous.end < 0.01:
                own[-1] = SpeakerTurn(previous.start, end, label, mark)
            elif previous and start < previous.end:  # windows never overlap; guard rounding anyway
                own.append(SpeakerTurn(previous.end, end, label, mark))
            else:
                own.append(SpeakerTurn(start, end, label, mark))
        turns += own
    turns.sort(key=lambda t: (t.start, -1 if t.channel is None else t.channel))
    return [SpeakerTurn(round(t.start, 3), round(t.end, 3), t.speaker, t.channel) for t in turns]
