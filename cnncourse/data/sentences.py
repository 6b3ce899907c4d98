"""Generated sentences with negation, where word order decides the label: text for 1D convolutions.

Every sentence has two clauses, one with a positive adjective and one with a negative one,
and exactly one ``not``, placed before one of the two adjectives (sometimes with an
intensifier in between)::

    the plot was good but the music was not really bad      -> positive (label 1)
    the acting seemed not good and the cast was dull        -> negative (label 0)

The sentence is positive when ``not`` negates the negative adjective (both clauses then
praise) and negative when it negates the positive one. Which words occur, and how often,
does not depend on the label: both classes have one positive adjective, one negative
adjective and one ``not``, drawn the same way. So a **bag of words** (or a convolution of
width 1 followed by pooling over time) cannot beat chance (50 %), while a filter that sees
``not`` next to an adjective, an n-gram of width 2 to 3, solves the task.

Conventions: ``tokens`` are int32 ``(N, L)`` indices into ``vocabulary``, padded at the end
with ``0`` (``vocabulary[0] == "<pad>"``); ``labels`` are int32 ``(N,)``, ``1`` positive,
``0`` negative (``class_names``). Sentence ``i`` depends only on ``(seed, i)``.

Example::

    >>> from cnncourse.data import make_negation_sentences
    >>> data = make_negation_sentences(4, seed=0)
    >>> data.tokens.shape, data.tokens.dtype, data.labels.shape
    ((4, 16), dtype('int32'), (4,))
    >>> data.text(0) == " ".join(data.vocabulary[t] for t in data.tokens[0] if t)
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnncourse._validation import check_array, check_int, check_positive_int, check_seed

PAD = "<pad>"
POSITIVE_WORDS = ("good", "great", "fine", "nice", "fun", "clever")
NEGATIVE_WORDS = ("bad", "awful", "dull", "poor", "boring", "weak")
NEGATION = "not"
INTENSIFIERS = ("really", "very", "quite")
NOUNS = ("film", "plot", "acting", "music", "ending", "cast", "script", "story")
VERBS = ("was", "is", "seemed", "felt")
CONNECTIVES = ("and", "but", "while")

#: Every word, in index order (index 0 is the padding token).
VOCABULARY: tuple[str, ...] = (PAD, "the", NEGATION, *POSITIVE_WORDS, *NEGATIVE_WORDS, *INTENSIFIERS, *NOUNS,
                               *VERBS, *CONNECTIVES)
CLASS_NAMES = ("negative", "positive")
#: Longest sentence: two clauses of 6 words ("the noun verb intensifier not adjective") and a connective.
MAX_WORDS = 13

_INDEX = {word: i for i, word in enumerate(VOCABULARY)}


@dataclass(frozen=True, eq=False)
class SentenceData:
    """Tokenised sentences and their labels.

    Attributes:
        tokens: int32 ``(N, L)``, indices into ``vocabulary``, ``0``-padded at the end.
        labels: int32 ``(N,)``: ``1`` positive, ``0`` negative.
        negated: int32 ``(N,)``: the token position of the adjective that ``not`` negates.
        vocabulary: the words, ``vocabulary[0] == "<pad>"``.
        class_names: ``("negative", "positive")``.
    """

    tokens: np.ndarray
    labels: np.ndarray
    negated: np.ndarray
    vocabulary: tuple[str, ...]
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.tokens)

    def text(self, index: int) -> str:
        """Sentence ``index`` as words (padding left out)."""
        index = check_int("index", index, minimum=0, maximum=len(self) - 1)
        return decode(self.tokens[index], self.vocabulary)

    def texts(self) -> list[str]:
        """Every sentence as words."""
        return [decode(row, self.vocabulary) for row in self.tokens]


def decode(tokens, vocabulary=VOCABULARY) -> str:
    """Words of a 1D array of token indices, separated by spaces; padding (index 0) is left out."""
    tokens = check_array("tokens", tokens, ndim=1, kinds="iu", what="(L,)")
    return " ".join(vocabulary[int(t)] for t in tokens if t != 0)


def bag_of_words(tokens, vocabulary_size: int = len(VOCABULARY)) -> np.ndarray:
    """Word counts of each sentence, padding excluded: float32 ``(N, V)`` from int ``(N, L)`` tokens.

    The representation of a bag-of-words classifier: it keeps which words occur and how
    often, and forgets their order.
    """
    tokens = check_array("tokens", tokens, ndim=2, kinds="iu", what="(N, L)")
    vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size)
    if tokens.size and (tokens.min() < 0 or tokens.max() >= vocabulary_size):
        raise ValueError(f"tokens must lie in [0, {vocabulary_size - 1}], got values in "
                         f"[{tokens.min()}, {tokens.max()}]")
    counts = np.zeros((len(tokens), vocabulary_size), dtype=np.float32)
    rows = np.repeat(np.arange(len(tokens)), tokens.shape[1])
    np.add.at(counts, (rows, tokens.ravel()), 1.0)
    counts[:, 0] = 0.0
    return counts


def _clause(rng: np.random.Generator, adjective: str, negated: bool) -> tuple[list[str], int]:
    """Words of one clause and the position of its adjective."""
    words = ["the", NOUNS[rng.integers(len(NOUNS))], VERBS[rng.integers(len(VERBS))]]
    intensifier = INTENSIFIERS[rng.integers(len(INTENSIFIERS))] if rng.random() < 0.5 else None
    if negated:
        # "not very good", or "really not good": the negation stays within 2 words of the adjective
        if intensifier == "really" and rng.random() < 0.5:
            words += [intensifier, NEGATION]
        else:
            words += [NEGATION] + ([intensifier] if intensifier else [])
    elif intensifier:
        words.append(intensifier)
    words.append(adjective)
    return words, len(words) - 1


def make_negation_sentences(n: int, *, sequence_length: int = 16, seed: int = 0) -> SentenceData:
    """Generate ``n`` labelled sentences with negation (see the module docstring).

    Args:
        n: number of sentences (> 0).
        sequence_length: ``L``, tokens per row after padding (at least 13, the longest sentence).
        seed: sentence ``i`` depends only on ``(seed, i)``.

    Returns:
        :class:`SentenceData`: tokens int32 ``(n, L)``, labels int32 ``(n,)`` (balanced:
        sentence ``i`` has label ``i % 2``).
    """
    n = check_positive_int("n", n)
    sequence_length = check_int("sequence_length", sequence_length, minimum=MAX_WORDS)
    seed = check_seed("seed", seed)
    tokens = np.zeros((n, sequence_length), dtype=np.int32)
    labels = (np.arange(n) % 2).astype(np.int32)
    negated = np.zeros(n, dtype=np.int32)
    for i in range(n):
        rng = np.random.default_rng((seed, i, 1911))
        positive = POSITIVE_WORDS[rng.integers(len(POSITIVE_WORDS))]
        negative = NEGATIVE_WORDS[rng.integers(len(NEGATIVE_WORDS))]
        negate_negative = bool(labels[i])  # positive sentence: "not" goes with the negative adjective
        first, first_at = _clause(rng, positive, not negate_negative)
        second, second_at = _clause(rng, negative, negate_negative)
        negated_first = not negate_negative  # the positive clause holds the "not"
        if rng.random() < 0.5:  # clause order is random too
            first, second, first_at, second_at = second, first, second_at, first_at
            negated_first = not negated_first
        words = first + [CONNECTIVES[rng.integers(len(CONNECTIVES))]] + second
        negated[i] = first_at if negated_first else len(first) + 1 + second_at
        tokens[i, :len(words)] = [_INDEX[word] for word in words]
    return SentenceData(tokens=tokens, labels=labels, negated=negated, vocabulary=VOCABULARY,
                        class_names=CLASS_NAMES)


__all__ = [
    "CLASS_NAMES",
    "SentenceData",
    "VOCABULARY",
    "bag_of_words",
    "decode",
    "make_negation_sentences",
]
