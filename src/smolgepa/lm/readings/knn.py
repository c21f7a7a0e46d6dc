"""`--decode knn`: kNN prompting (Xu et al. 2023, "kNN Prompting: Beyond-Context Learning with
Calibration-Free Nearest Neighbor Inference").

Each training example becomes an anchor: the model's next-token distribution at the answer position
under the current prompt (the same messages, with the example's text in place of the input). A
query's distribution is compared with every anchor by KL(anchor || query) over the whole vocabulary,
and the k nearest anchors vote; a tied vote goes to the tied label whose nearest anchor is closest.
Anchors are computed once per prompt (instruction, demos, prefix, cue) and kept in memory.
Leave-one-out: an anchor whose text is the query's own text is skipped, so scoring the training
split does not read its own label.

Scores: `probs` are the vote shares of the k neighbours, `logprobs` their logs (-inf: no vote).

On a llama.cpp server the distributions are the N most likely next tokens the server lists
(`TopLogprobs`, N = `server_methods.KNN_TOP_LOGPROBS`), not the whole vocabulary. The distance is then
KL(anchor || query) over the anchor's listed tokens plus one bucket for the rest of the vocabulary; a
token the query does not list gets the query's smallest listed log-prob (an upper bound on its own).
This is the full KL of a coarser partition, so it is at most the exact distance, and equal to it when
the lists cover the whole vocabulary. Measured on SmolLM2-135M at the answer position: the top 5000 of
49152 tokens hold 99.4% of the mass, and 20 of 20 sentiment-extended val answers (24 anchors, k = 5)
matched the embedded student's full-vocabulary kNN (top 1000: 19 of 20; top 200: 17 of 20).
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from smolgepa.lm.readings.fit_memory import FitMemory, train_digest
from smolgepa.lm.readings.scores import LabelScores, calibration_key, content_free_messages
from smolgepa.lm.readings.turns import input_text, same_text


@dataclass(frozen=True)
class TopLogprobs:
    """A next-token distribution known only on its most likely tokens (a server's top logprobs)."""

    logprobs: Mapping[str, float]


@dataclass(frozen=True)
class Anchors:
    """The training examples' distributions under one prompt: texts, labels, and either log-probs over
    the vocabulary (n x vocab; `probs` from them) or, from a server, each anchor's `TopLogprobs`."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    logprobs: np.ndarray | None
    tops: tuple[TopLogprobs, ...] = ()

    @cached_property
    def probs(self) -> np.ndarray | None:
        """The anchors' probabilities over the vocabulary (None for `TopLogprobs` anchors)."""
        return None if self.logprobs is None else np.exp(self.logprobs)

    def row(self, index: int) -> np.ndarray | TopLogprobs:
        """Anchor `index`'s distribution, as its forward pass gave it."""
        return self.logprobs[index] if self.logprobs is not None else self.tops[index]

    @cached_property
    def negative_entropy(self) -> np.ndarray:
        """sum_v p log p of every anchor: the query-free half of KL(anchor || query)."""
        assert self.probs is not None and self.logprobs is not None
        return (self.probs * self.logprobs).sum(axis=1)


def kl_to_query(anchors: Anchors, query_logprobs: np.ndarray) -> np.ndarray:
    """KL(anchor || query) for every anchor (nats): sum_v p log p - sum_v p log q, the second term one
    matrix-vector product (a 300 x 49k elementwise difference per query cost seconds)."""
    assert anchors.probs is not None
    return anchors.negative_entropy - anchors.probs @ np.asarray(query_logprobs, dtype=anchors.probs.dtype)


def top_kl(anchor: TopLogprobs, query: TopLogprobs, floor: float = 1e-12) -> float:
    """KL(anchor || query) over the anchor's listed tokens and one bucket for all others (see the
    module docstring); a token the query does not list takes the query's smallest listed log-prob."""
    smallest = min(query.logprobs.values(), default=math.log(floor))
    kl, anchor_listed, query_listed = 0.0, 0.0, 0.0
    for token, value in anchor.logprobs.items():
        p, q = math.exp(value), math.exp(query.logprobs.get(token, smallest))
        kl += p * (value - math.log(q))
        anchor_listed += p
        query_listed += q
    rest_p, rest_q = max(1.0 - anchor_listed, floor), max(1.0 - query_listed, floor)
    return kl + rest_p * (math.log(rest_p) - math.log(rest_q))


def distances(anchors: Anchors, query: np.ndarray | TopLogprobs) -> np.ndarray:
    """KL(anchor || query) for every anchor: exact over the vocabulary, or `top_kl` on listed tokens."""
    if isinstance(query, TopLogprobs):
        return np.array([top_kl(anchor, query) for anchor in anchors.tops])
    return kl_to_query(anchors, query)


def make_anchors(train: Sequence[tuple[str, str]], rows: Sequence[np.ndarray | TopLogprobs]) -> Anchors:
    """Anchors from the training pairs and their distributions (all dense, or all `TopLogprobs`)."""
    texts = tuple(same_text(text) for text, _ in train)
    labels = tuple(label for _, label in train)
    if rows and isinstance(rows[0], TopLogprobs):
        return Anchors(texts, labels, None, tuple(rows))  # type: ignore[arg-type]
    return Anchors(texts, labels, np.stack(rows))  # type: ignore[arg-type]


def vote(labels: Sequence[str], neighbour_labels: Sequence[str], distances: Sequence[float]) -> tuple[str, dict[str, int]]:
    """The majority label among the neighbours (given nearest first) and the counts; a tie goes to
    the tied label with the nearest neighbour."""
    counts = {label: 0 for label in labels}
    nearest: dict[str, float] = {}
    for label, distance in zip(neighbour_labels, distances):
        counts[label] += 1
        nearest.setdefault(label, float(distance))
    top = max(counts.values())
    tied = [label for label in labels if counts[label] == top]
    return min(tied, key=lambda label: nearest.get(label, math.inf)), counts


QUERY_ROWS_KEPT = 512  # a distribution row is 49k floats (~200 KB): ~100 MB at most per memory


class AnchorMemory:
    """The training examples' answer distributions under each prompt, computed on first use and kept:
    what kNN votes with and the `probe` reading is fitted on (the `hidden` reading keeps hidden states
    in it instead). Thread-safe."""

    def __init__(self, scorer: Any, labels: Sequence[str], train: Sequence[tuple[str, str]],
                 read: Callable[[list[dict[str, str]]], Any] | None = None,
                 build: Callable[[Sequence[tuple[str, str]], Sequence[Any]], Any] | None = None,
                 fits: FitMemory | None = None, name: str = "distributions") -> None:
        self.scorer = scorer
        self.labels = tuple(labels)
        self.train = tuple(train)
        # what one forward pass reads (the answer distribution) and how the rows become anchors
        self.read = read or scorer.answer_logprobs
        self.build = build or make_anchors
        self.forward_calls = 0  # model evaluations (anchors and queries), for tests and timing
        # the anchors live in the engine's fit memory (saved with a run), keyed by this part and the prompt
        self.fits = fits if fits is not None else FitMemory()
        self.part: tuple[Any, ...] = ("anchors", name, self.labels, train_digest(self.train))
        # an anchor's exact prompt -> (its anchors, its index): a training example asked as a query
        # is read from its anchor, not run again (what makes out-of-fold training answers cost nothing)
        self._anchor_prompts: dict[str, tuple[Any, int]] = {}
        self._registered: set[tuple[Any, ...]] = set()
        # the last queries' rows: readings sharing this memory (knn, probe, stack) ask for the same ones
        self._queries: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.RLock()

    def anchors_for(self, messages: list[dict[str, str]]) -> Any:
        """The anchors under these messages' prompt (`Anchors`, or what `build` makes); computed on
        first use (or restored from a saved fit), then kept."""
        key = calibration_key(messages, self.labels)
        # the fit memory's lock makes each prompt's anchors once (server students score from many
        # threads); this memory's own lock is not held meanwhile, so the two locks never nest this way
        anchors = self.fits.get((*self.part, key),
                                lambda: self.build(self.train, [self._forward(p) for p in self._prompts(messages)]))
        with self._lock:
            if key not in self._registered:
                self._anchor_prompts.update((_prompt_key(p), (anchors, i)) for i, p in enumerate(self._prompts(messages)))
                self._registered.add(key)
        return anchors

    def _prompts(self, messages: list[dict[str, str]]) -> list[list[dict[str, str]]]:
        """The anchor prompts: these messages with each training text as the input."""
        return [content_free_messages(messages, text) for text, _ in self.train]

    def distribution(self, messages: list[dict[str, str]]) -> Any:
        """What `read` gives for these messages: the answer-position distribution (one forward pass, or
        none when they are exactly a training example's anchor prompt, or when an engine on the same
        model file read them already: the fit memory's `shared`)."""
        key = _prompt_key(messages)
        with self._lock:
            known = self._anchor_prompts.get(key)
            if known is not None:
                return known[0].row(known[1])
            if key in self._queries:
                self._queries.move_to_end(key)
                return self._queries[key]
        shared, shared_key = self.fits.shared, ("query", *self.part, key)
        found, row = shared.get(shared_key) if shared is not None else (False, None)
        if not found:
            row = self._forward(messages)
            if shared is not None:
                shared.put(shared_key, row)
        with self._lock:
            self._queries[key] = row
            while len(self._queries) > QUERY_ROWS_KEPT:
                self._queries.popitem(last=False)
        return row

    def _forward(self, messages: list[dict[str, str]]) -> Any:
        self.forward_calls += 1
        return self.read(messages)


def _prompt_key(messages: Sequence[Mapping[str, str]]) -> str:
    return json.dumps([[m.get("role"), m.get("content")] for m in messages])


class KnnMethod:
    """The vote of the k training anchors nearest the query (see the module docstring); `scorer` is any
    `methods.LabelScoring` (its `answer_logprobs` gives a dense row or `TopLogprobs`)."""

    def __init__(self, scorer: Any, labels: Sequence[str], train: Sequence[tuple[str, str]], k: int,
                 memory: AnchorMemory | None = None) -> None:
        self.memory = memory or AnchorMemory(scorer, labels, train)
        self.labels = tuple(labels)
        self.k = k

    @property
    def forward_calls(self) -> int:
        return self.memory.forward_calls

    def anchors_for(self, messages: list[dict[str, str]]) -> Anchors:
        return self.memory.anchors_for(messages)

    def neighbours(self, messages: list[dict[str, str]]) -> tuple[list[int], np.ndarray]:
        """Indices of the k nearest anchors (nearest first, the query's own text left out) and all distances."""
        anchors = self.anchors_for(messages)
        found = distances(anchors, self.memory.distribution(messages))
        own = input_text(messages)
        order = [int(i) for i in np.argsort(found, kind="stable") if anchors.texts[int(i)] != own]
        return order[: self.k], found

    def score(self, messages: list[dict[str, str]]) -> LabelScores:
        anchors = self.anchors_for(messages)
        chosen, found = self.neighbours(messages)
        label, counts = vote(self.labels, [anchors.labels[i] for i in chosen], [found[i] for i in chosen])
        total = sum(counts.values()) or 1
        probs = {name: counts[name] / total for name in self.labels}
        logprobs = {name: math.log(p) if p > 0 else -math.inf for name, p in probs.items()}
        return LabelScores(label, logprobs, probs)
