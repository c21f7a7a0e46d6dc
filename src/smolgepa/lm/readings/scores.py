"""Label scores and the pure pieces every reading shares: softmax and argmax over the label set,
contextual calibration's content-free prior (Zhao et al. 2021), and the content-free prompts."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")  # Zhao et al. 2021, section 5


def softmax(logprobs: Mapping[str, float]) -> dict[str, float]:
    """Label log-likelihoods as probabilities over the label set (they sum to 1)."""
    finite = [value for value in logprobs.values() if math.isfinite(value)]
    if not finite:
        return {label: 1.0 / len(logprobs) for label in logprobs} if logprobs else {}
    top = max(finite)
    weights = {label: math.exp(value - top) if math.isfinite(value) else 0.0 for label, value in logprobs.items()}
    total = sum(weights.values())
    return {label: weight / total for label, weight in weights.items()}


def argmax(values: Mapping[str, float]) -> str:
    """The key with the largest value; ties go to the earliest label (the task's order)."""
    best = None
    for label, value in values.items():
        if best is None or value > values[best]:
            best = label
    if best is None:
        raise ValueError("argmax of an empty mapping")
    return best


def content_free_prior(label_logprobs: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """p_cf: the mean label distribution over the content-free inputs, renormalized."""
    if not label_logprobs:
        raise ValueError("content_free_prior needs at least one score set")
    probs = [softmax(scores) for scores in label_logprobs]
    labels = list(probs[0])
    mean = {label: sum(p[label] for p in probs) / len(probs) for label in labels}
    total = sum(mean.values())
    return {label: value / total for label, value in mean.items()}


def calibrate_probs(probs: Mapping[str, float], prior: Mapping[str, float], floor: float = 1e-12) -> dict[str, float]:
    """p / p_cf renormalized (diagonal W = diag(p_cf)^-1, b = 0)."""
    ratios = {label: value / max(prior[label], floor) for label, value in probs.items()}
    total = sum(ratios.values()) or 1.0
    return {label: value / total for label, value in ratios.items()}


@dataclass(frozen=True)
class LabelScores:
    """The outcome of scoring: per-label log-likelihoods, probabilities, and the chosen label.

    `calibrated` and `prior` are set when calibration was applied; `label` is then their argmax.
    """

    label: str
    logprobs: dict[str, float]
    probs: dict[str, float]
    calibrated: dict[str, float] | None = None
    prior: dict[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-serializable (for `Response.provider_data`); -inf becomes None."""
        return {
            "label": self.label,
            "logprobs": _finite_or_none(self.logprobs),
            "probs": _finite_or_none(self.probs),
            "calibrated": _finite_or_none(self.calibrated),
            "prior": _finite_or_none(self.prior),
        }


def _finite_or_none(values: Mapping[str, float] | None) -> dict[str, float | None] | None:
    """JSON has no infinity: a label that cannot be produced gets None."""
    if values is None:
        return None
    return {key: (value if math.isfinite(value) else None) for key, value in values.items()}


def choose_label(logprobs: Mapping[str, float], prior: Mapping[str, float] | None = None) -> LabelScores:
    """The argmax label of `logprobs`, or of p / p_cf when a content-free `prior` is given."""
    probs = softmax(logprobs)
    if prior is None:
        return LabelScores(argmax(logprobs), dict(logprobs), probs)
    calibrated = calibrate_probs(probs, prior)
    return LabelScores(argmax(calibrated), dict(logprobs), probs, calibrated, dict(prior))


def from_probabilities(labels: Sequence[str], probs: Sequence[float]) -> LabelScores:
    """The scores of a fitted read-out: its probabilities in `labels`' order, their logs, and the argmax."""
    by_label = {label: float(p) for label, p in zip(labels, probs)}
    label = max(labels, key=lambda name: by_label[name])
    return LabelScores(label, {k: math.log(v) if v > 0 else -math.inf for k, v in by_label.items()}, by_label)


# The PlainTextAdapter's user message: "Prefix: value" then the output cue ("Label:") on the last line.
USER_INPUT = re.compile(r"\A(?P<prefix>[^\n:]{1,40}:)[ \t]?(?P<value>.*)\n(?P<cue>[^\n]{1,40}:)\Z", re.DOTALL)


def content_free_messages(messages: Sequence[Mapping[str, str]], text: str) -> list[dict[str, str]]:
    """`messages` with the input of the last user message replaced by the content-free `text`.

    Understands the PlainTextAdapter's layout ("Text: ...\\nLabel:"): the prefix and the cue stay.
    Any other last user message is replaced as a whole. Instruction and demos are kept unchanged.
    """
    result = [dict(message) for message in messages]
    for message in reversed(result):
        if message.get("role") == "user":
            match = USER_INPUT.match(message.get("content") or "")
            if match:
                message["content"] = f"{match['prefix']} {text}\n{match['cue']}"
            else:
                message["content"] = text
            break
    return result


def calibration_key(messages: Sequence[Mapping[str, str]], labels: Sequence[str]) -> tuple[Any, ...]:
    """What p_cf depends on: everything but the input itself (instruction, demos, prefix, cue, labels)."""
    probe = content_free_messages(messages, "\x00")
    return (tuple((m.get("role", ""), m.get("content", "")) for m in probe), tuple(labels))
