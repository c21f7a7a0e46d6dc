"""The label scores behind each answer: an engine wrapper that hands every response's provider data
(the scores `scored`, `channel`, `knn`, ... decode with) to the answer being computed in this context."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from smolgepa.lm.messages import CompleteOnlyEngine

# The provider data of the student's responses during one answer (see ScoreTap).
_responses: ContextVar[list[dict[str, Any]] | None] = ContextVar("smolgepa_responses", default=None)


class ScoreTap(CompleteOnlyEngine):
    """A student's engine, handing each response's provider data to the answer asking (`collecting`)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def complete(self, request: Any) -> Any:
        response = self.inner.complete(request)
        sink = _responses.get()
        if sink is not None:
            sink.append(dict(response.provider_data or {}))
        return response

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)


def tapped(lm: Any) -> Any:
    """A copy of a student LM whose responses' provider data reach `collecting`; `lm` itself when it
    has no engine to wrap (any other DSPy LM) or is tapped already. The copy records its calls in
    `lm.history`, as if `lm` had made them."""
    engine = getattr(lm, "engine", None)
    if engine is None or isinstance(engine, ScoreTap):
        return lm
    copy = lm.copy(engine=ScoreTap(engine))
    copy.history = lm.history
    if hasattr(lm, "smolgepa_decode"):
        copy.smolgepa_decode = lm.smolgepa_decode
    return copy


@contextmanager
def collecting() -> Iterator[list[dict[str, Any]]]:
    """The provider data of every tapped response made inside the block (this thread/context only)."""
    responses: list[dict[str, Any]] = []
    token = _responses.set(responses)
    try:
        yield responses
    finally:
        _responses.reset(token)


def label_scores(responses: Sequence[dict[str, Any]], labels: Sequence[str] = ()) -> dict[str, float | None] | None:
    """The probabilities that chose the label (calibrated ones when calibration was applied), in the
    order of `labels` first (an answer from a cache written before records kept their order has them
    sorted); None when the decode mode produced none (`free`, `constrained`, a plain LM)."""
    scores = (responses[-1].get("scores") if responses else None) or {}
    chosen = scores.get("calibrated") or scores.get("probs")
    if not chosen:
        return None
    order = [label for label in labels if label in chosen] + [label for label in chosen if label not in labels]
    return {label: (None if chosen[label] is None else round(float(chosen[label]), 6)) for label in order}
