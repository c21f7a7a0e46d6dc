"""A tiny TF-IDF embedder in numpy: a local vectorizer for DSPy's KNN without any model download.

`TfidfEmbedder.fit(texts)` learns the vocabulary and inverse document frequencies; calling it on a
list of strings gives L2-normalized rows, so a dot product is the cosine similarity (what
`dspy.predict.knn.KNN` ranks by). Wrap it for DSPy with `dspy.Embedder(embedder, caching=False)`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits, with an apostrophe suffix such as n't kept)."""
    return _TOKEN.findall(text.lower())


class TfidfEmbedder:
    """Sublinear term frequency times smoothed IDF, ln((1 + N) / (1 + df)), L2-normalized.

    A word found in every fitted text weighs 0: DSPy's KNN writes each text as "input: ...", and that
    shared key must not make short texts look alike. Words never seen in `fit` are ignored; a text
    with no weighted word embeds as the zero vector (similar to nothing).
    """

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        self.idf = np.zeros(0, dtype=np.float32)

    def fit(self, texts: Sequence[str]) -> TfidfEmbedder:
        """Learn the vocabulary and IDF weights from `texts`; returns self."""
        documents = [set(tokens(text)) for text in texts]
        frequency = Counter(word for words in documents for word in words)
        self.vocabulary = {word: index for index, word in enumerate(sorted(frequency))}
        count = len(documents)
        self.idf = np.array(
            [math.log((1 + count) / (1 + frequency[word])) for word in sorted(frequency)], dtype=np.float32
        )
        return self

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalized row per text (shape len(texts) x vocabulary size)."""
        if not self.vocabulary:
            raise ValueError("TfidfEmbedder.fit must be called with at least one text containing a word")
        rows = np.zeros((len(texts), len(self.vocabulary)), dtype=np.float32)
        for row, text in enumerate(texts):
            for word, count in Counter(tokens(text)).items():
                column = self.vocabulary.get(word)
                if column is not None:
                    rows[row, column] = (1.0 + math.log(count)) * self.idf[column]
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms > 0, norms, 1.0)
