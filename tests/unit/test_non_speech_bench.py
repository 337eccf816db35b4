"""bench.non_speech's planning inputs: the sound kept near Silero's speech regions."""

from __future__ import annotations

from bench.non_speech import near


def test_sound_far_from_speech_is_dropped_and_sound_near_it_is_trimmed_to_the_margin() -> None:
    sound = [(0, 10_000), (20_000, 30_000), (40_000, 41_000)]
    speech = [(5_000, 6_000), (29_500, 33_000)]
    # the music from 0-4 s, the 7-10 s tail, and the 40-41 s tone lie more than 1 s from speech
    assert near(sound, speech, 1_000) == [(4_000, 7_000), (28_500, 30_000)]


def test_speech_regions_whose_margins_touch_become_one_and_may_cover_several_sounds() -> None:
    sound = [(1_000, 2_000), (2_500, 3_000), (9_000, 9_500)]
    speech = [(1_500, 2_000), (3_500, 4_000)]
    # margins of 800 ms join the two regions into 0.7-4.8 s
    assert near(sound, speech, 800) == [(1_000, 2_000), (2_500, 3_000)]
    # margins of 600 ms leave a gap at 2.6-2.9 s, inside the second sound
    assert near(sound, speech, 600) == [(1_000, 2_000), (2_500, 2_600), (2_900, 3_000)]


def test_no_speech_regions_keep_no_sound() -> None:
    assert near([(0, 5_000)], [], 1_000) == []
