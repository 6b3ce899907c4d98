"""Generated sequences and clips: deterministic, documented shapes, and labels that only order / motion reveal."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from cnncourse import data
from cnncourse.data import clips as clips_module
from cnncourse.data import sentences as sentences_module
from cnncourse.data import signals as signals_module


# ------------------------------------------------------------------------------ sentences
def test_sentences_shapes_dtypes_and_determinism():
    first = data.make_negation_sentences(50, seed=3)
    again = data.make_negation_sentences(50, seed=3)
    other = data.make_negation_sentences(50, seed=4)
    assert first.tokens.shape == (50, 16) and first.tokens.dtype == np.int32
    assert first.labels.dtype == np.int32 and first.labels.tolist() == [i % 2 for i in range(50)]
    np.testing.assert_array_equal(first.tokens, again.tokens)
    assert not np.array_equal(first.tokens, other.tokens)
    # sentence i depends only on (seed, i): a longer set starts with the same sentences
    np.testing.assert_array_equal(data.make_negation_sentences(80, seed=3).tokens[:50], first.tokens)
    assert first.vocabulary[0] == "<pad>" and first.tokens.max() < len(first.vocabulary)


def test_every_sentence_has_one_not_and_one_adjective_of_each_kind():
    sentences = data.make_negation_sentences(300, seed=0)
    vocabulary = sentences.vocabulary
    for i, text in enumerate(sentences.texts()):
        words = text.split()
        assert words.count("not") == 1, text
        positive = [w for w in words if w in sentences_module.POSITIVE_WORDS]
        negative = [w for w in words if w in sentences_module.NEGATIVE_WORDS]
        assert len(positive) == 1 and len(negative) == 1, text
        negated = vocabulary[sentences.tokens[i, sentences.negated[i]]]
        # the label is positive exactly when "not" negates the negative adjective, within 2 words before it
        assert (negated in sentences_module.NEGATIVE_WORDS) == bool(sentences.labels[i]), text
        assert "not" in words[max(sentences.negated[i] - 2, 0):sentences.negated[i]], text


def test_a_bag_of_words_cannot_beat_chance_but_bigrams_can():
    train = data.make_negation_sentences(3000, seed=10)
    test = data.make_negation_sentences(2000, seed=11)
    bow = LogisticRegression(max_iter=3000).fit(data.bag_of_words(train.tokens), train.labels)
    bow_accuracy = bow.score(data.bag_of_words(test.tokens), test.labels)
    assert abs(bow_accuracy - 0.5) < 0.04, bow_accuracy
    # the same words in a shuffled order keep their label distribution: shuffling each sentence's
    # words does not change a bag of words, so the oracle above saw everything the words themselves hold

    vocabulary_size = len(train.vocabulary)

    def bigrams(tokens):
        counts = np.zeros((len(tokens), vocabulary_size ** 2), dtype=np.float32)
        for row, sentence in enumerate(tokens):
            np.add.at(counts[row], sentence[:-1] * vocabulary_size + sentence[1:], 1.0)
        return counts

    order_aware = LogisticRegression(max_iter=3000).fit(bigrams(train.tokens), train.labels)
    assert order_aware.score(bigrams(test.tokens), test.labels) > 0.85  # the test can tell order from no order


def test_word_counts_do_not_depend_on_the_label():
    sentences = data.make_negation_sentences(6000, seed=5)
    counts = data.bag_of_words(sentences.tokens)
    positive_mean = counts[sentences.labels == 1].mean(axis=0)
    negative_mean = counts[sentences.labels == 0].mean(axis=0)
    assert np.max(np.abs(positive_mean - negative_mean)) < 0.05


def test_bag_of_words_counts_and_ignores_padding():
    counts = data.bag_of_words(np.array([[1, 2, 2, 0, 0], [3, 0, 0, 0, 0]]), vocabulary_size=4)
    np.testing.assert_array_equal(counts, [[0, 1, 2, 0], [0, 0, 0, 1]])
    assert counts.dtype == np.float32


def test_decode_and_text():
    sentences = data.make_negation_sentences(3, seed=0)
    assert sentences.text(1) == sentences.texts()[1] == sentences_module.decode(sentences.tokens[1])
    assert "<pad>" not in sentences.text(0)


@pytest.mark.parametrize("call, error, message", [
    (lambda: data.make_negation_sentences(0), ValueError, "n must be a positive integer, got 0"),
    (lambda: data.make_negation_sentences(5, sequence_length=12), ValueError, "sequence_length must be an integer >= 13"),
    (lambda: data.make_negation_sentences(5, seed=-1), ValueError, "seed must be a non-negative integer"),
    (lambda: data.make_negation_sentences(2.5), TypeError, "n must be an integer, got 2.5"),
    (lambda: data.bag_of_words(np.array([[1, 9]]), vocabulary_size=4), ValueError, r"tokens must lie in \[0, 3\]"),
    (lambda: data.bag_of_words(np.array([1, 2])), ValueError, r"tokens must have shape \(N, L\)"),
    (lambda: data.make_negation_sentences(3).text(3), ValueError, r"index must be an integer in \[0, 2\], got 3"),
])
def test_sentence_arguments_are_checked(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -------------------------------------------------------------------------------- signals
def test_signals_shapes_dtypes_and_determinism():
    first = data.make_chirp_signals(20, length=100, pattern_length=16, seed=1)
    assert first.signals.shape == (20, 100, 1) and first.signals.dtype == np.float32
    assert first.labels.tolist() == [i % 2 for i in range(20)] and first.labels.dtype == np.int32
    np.testing.assert_array_equal(first.signals, data.make_chirp_signals(20, length=100, pattern_length=16, seed=1).signals)
    assert not np.array_equal(first.signals, data.make_chirp_signals(20, length=100, pattern_length=16, seed=2).signals)
    assert np.all((first.starts >= 0) & (first.starts <= 100 - 16))


def test_falling_chirp_is_the_rising_one_reversed_and_sits_at_start():
    rising = signals_module.chirp(24)
    np.testing.assert_array_equal(signals_module.chirp(24, rising=False), rising[::-1])
    # without noise and with amplitude 1, the series minus the noise-free chirp is the noise alone:
    # check the chirp sits where `starts` says, by its correlation with the pattern
    signals = data.make_chirp_signals(40, length=200, pattern_length=24, amplitude=(20.0, 20.0), seed=7)
    for series, label, start in zip(signals.signals[:, :, 0], signals.labels, signals.starts):
        pattern = rising if label == 0 else rising[::-1]
        scores = np.abs(np.correlate(series, pattern, mode="valid"))
        assert int(np.argmax(scores)) == start


def test_order_free_views_of_the_signals_stay_at_chance_while_a_matched_filter_does_not():
    train = data.make_chirp_signals(2000, length=128, seed=20)
    test = data.make_chirp_signals(2000, length=128, seed=21)
    for name, view in (("sorted samples", lambda x: np.sort(x[:, :, 0], axis=1)),
                       ("power spectrum", lambda x: np.abs(np.fft.rfft(x[:, :, 0], axis=1)))):
        oracle = LogisticRegression(max_iter=3000).fit(view(train.signals), train.labels)
        assert abs(oracle.score(view(test.signals), test.labels) - 0.5) < 0.04, name
    rising = signals_module.chirp(train.pattern_length)

    def matched(x):
        up = [np.abs(np.correlate(s, rising, "valid")).max() for s in x[:, :, 0]]
        down = [np.abs(np.correlate(s, rising[::-1], "valid")).max() for s in x[:, :, 0]]
        return (np.array(down) > np.array(up)).astype(int)

    assert np.mean(matched(test.signals) == test.labels) > 0.7


@pytest.mark.parametrize("call, error, message", [
    (lambda: data.make_chirp_signals(5, length=10, pattern_length=32), ValueError, "length must be an integer >= 32"),
    (lambda: data.make_chirp_signals(5, pattern_length=2), ValueError, "pattern_length must be an integer >= 4"),
    (lambda: data.make_chirp_signals(5, amplitude=1.0), TypeError, "amplitude must be a pair"),
    (lambda: data.make_chirp_signals(5, amplitude=(2.0, 1.0)), ValueError, r"amplitude\[1\] must be a number in \[2.0, inf\]"),
    (lambda: data.make_chirp_signals(-1), ValueError, "n must be a positive integer"),
])
def test_signal_arguments_are_checked(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------------------- clips
def test_clips_shapes_dtypes_and_determinism():
    clips = data.make_motion_clips(12, frames=5, size=10, seed=2)
    assert clips.clips.shape == (12, 5, 10, 10, 1) and clips.clips.dtype == np.float32
    assert 0.0 <= clips.clips.min() and clips.clips.max() <= 1.0
    assert clips.labels.tolist() == [i % 4 for i in range(12)]
    assert clips.positions.shape == (12, 5, 2) and set(clips.speeds.tolist()) <= {1, 2}
    np.testing.assert_array_equal(clips.clips, data.make_motion_clips(12, frames=5, size=10, seed=2).clips)
    assert not np.array_equal(clips.clips, data.make_motion_clips(12, frames=5, size=10, seed=3).clips)


def test_the_shape_moves_in_the_direction_of_its_class_with_wrap_around():
    clips = data.make_motion_clips(40, frames=6, size=12, seed=0)
    for label, speed, positions in zip(clips.labels, clips.speeds, clips.positions):
        step = np.array(clips_module.DIRECTIONS[label]) * speed
        for t in range(1, 6):
            np.testing.assert_array_equal(positions[t], (positions[t - 1] + step) % 12)


def test_the_brightest_pixels_follow_the_positions():
    clips = data.make_motion_clips(20, frames=4, size=16, noise=0.0, seed=9)
    for clip, positions in zip(clips.clips[..., 0], clips.positions):
        for frame, (row, col) in zip(clip, positions):
            assert frame[row, col] == frame.max()  # the shape's centre is one of its (bright) pixels


def test_a_single_frame_oracle_stays_at_chance_but_two_frames_do_not():
    train = data.make_motion_clips(2000, frames=4, size=12, seed=30)
    test = data.make_motion_clips(1000, frames=4, size=12, seed=31)
    for t in (0, 3):
        oracle = LogisticRegression(max_iter=2000).fit(train.clips[:, t].reshape(len(train), -1), train.labels)
        assert abs(oracle.score(test.clips[:, t].reshape(len(test), -1), test.labels) - 0.25) < 0.05
    # the mean position of the shape in any frame is the same for every class (uniform on the torus)
    for label in range(4):
        mine = train.positions[train.labels == label][:, 2]
        assert np.all(np.abs(mine.mean(axis=0) - 5.5) < 0.6)

    def motion_features(clips):
        # where the first frame's bright mass moved to in the second frame: circular shifts of frame 0 against frame 1
        first, second = clips[:, 0, :, :, 0], clips[:, 1, :, :, 0]
        shifts = [(0, 1), (0, -1), (1, 0), (-1, 0), (0, 2), (0, -2), (2, 0), (-2, 0)]
        return np.stack([np.sum(np.roll(first, s, axis=(1, 2)) * second, axis=(1, 2)) for s in shifts], axis=1)

    oracle = LogisticRegression(max_iter=2000).fit(motion_features(train.clips), train.labels)
    assert oracle.score(motion_features(test.clips), test.labels) > 0.8


@pytest.mark.parametrize("call, error, message", [
    (lambda: data.make_motion_clips(5, frames=1), ValueError, "frames must be an integer >= 2"),
    (lambda: data.make_motion_clips(5, size=4), ValueError, r"size must be an integer in \[8, 128\]"),
    (lambda: data.make_motion_clips(5, noise=-0.1), ValueError, "noise must be a number"),
    (lambda: data.make_motion_clips(5, seed="x"), TypeError, "seed must be an integer"),
])
def test_clip_arguments_are_checked(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------------- imdb via tfds
def test_imdb_reviews_loader_gives_texts_and_int_labels(tmp_path, monkeypatch):
    import socket

    tfds = pytest.importorskip("tensorflow_datasets")
    from cnncourse.runtime import import_tensorflow

    tf = import_tensorflow()

    def refuse(*args, **kwargs):
        raise AssertionError("the network was touched")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    with tfds.testing.mock_data(num_examples=6):
        texts, labels = next(iter(data.load_tfds("imdb_reviews", split="test", batch_size=3, data_dir=tmp_path)))
    assert texts.dtype == tf.string and texts.shape == (3,)
    assert labels.dtype == tf.int32 and set(labels.numpy().tolist()) <= {0, 1}
