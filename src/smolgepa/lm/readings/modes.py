"""Decode modes for label answers, and the pure pieces every engine shares.

- `free`: the student writes text; the parse ladder (`smolgepa.labels`) reads a label from it.
- `constrained`: the output is restricted to the label strings (a GBNF grammar in-process and on
  llama.cpp servers; a JSON-schema enum or a choice list on other servers). The text is a label.
- `scored`: no generation. Each label's whole token sequence is scored by its log-likelihood after
  the chat template's assistant prefix; the argmax label is the answer.
- `channel` (embedded, llama.cpp servers): noisy channel, Min et al. 2022: log P(input text | label), the label
  stated first (`smolgepa.lm.channel`).
- `knn` (embedded, llama.cpp servers): kNN prompting, Xu et al. 2023: the vote of the training examples whose
  next-token distributions are nearest the query's (`smolgepa.lm.knn`).
- `ensemble` (embedded, llama.cpp servers): one demonstration per forward pass, label log-probs averaged
  (`smolgepa.lm.ensemble`).
- `calibrate` (with `scored`): contextual calibration, Zhao et al. 2021, "Calibrate Before Use".
  The label distribution for content-free inputs ("N/A", "", "[MASK]") estimates the prompt's own
  bias p_cf; the answer is argmax(p / p_cf), i.e. the diagonal W = diag(p_cf)^-1 with b = 0.
  A label the prompt favours with no input is therefore only kept where the input supports it.
  With `calibration="train"` (scored, channel, ensemble) the per-label offsets are instead fitted
  on the training split's scores (`smolgepa.lm.train_calibration`).

The decode mode is engine configuration (`StudentOptions(decode=..., labels=...)`), never a
per-call argument: DSPy refuses unknown per-call kwargs, and caches key on the engine's state.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from smolgepa.errors import SmolgepaError

DECODE_MODES = ("free", "constrained", "scored", "channel", "knn", "probe", "hidden", "ensemble")
SCORING_MODES = ("scored", "channel", "knn", "probe", "hidden", "ensemble")  # no generation: every label is scored
EMBEDDED_ONLY_MODES = ("channel", "knn", "probe", "hidden", "ensemble")  # beyond logprobs: embedded and llama.cpp servers only
IN_PROCESS_MODES = ("probe", "hidden")  # read what no server returns: the whole distribution, hidden states
FITTED_MODES = ("knn", "probe", "hidden")  # answer from the training examples' anchors
CALIBRATIONS = ("content-free", "train")
# decode mode -> the calibrations it takes
CALIBRATABLE = {"scored": ("content-free", "train"), "channel": ("train",), "ensemble": ("train",)}
CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")  # Zhao et al. 2021, section 5
DEFAULT_KNN_K = 12  # chosen on sentiment-extended val (k 5-16 within 2 answers of each other)
DEFAULT_ENSEMBLE_K = 6  # one-shot prompts when the instruction has no demos: 2 per label for 3 labels


def check_decode(
    mode: str,
    labels: Sequence[str] | None,
    calibrate: bool = False,
    calibration: str = "content-free",
    train_examples: Sequence[tuple[str, str]] | None = None,
    counts: Mapping[str, int] | None = None,
    kind: str | None = None,
) -> None:
    """Raise SmolgepaError unless `mode` is known and has what it needs: labels; a calibration the mode
    takes; training examples for `knn` and `calibration="train"` (None for `labels` or
    `train_examples`: not known yet, checked later); `counts` ({"--knn-k": 12, ...}) whole numbers >= 1;
    and, given a student `kind` (`embedded`, `llamacpp`, ...), a mode that kind can do.

    The one check of a decode mode: StudentOptions, Student, engine settings and OptimizeConfig call it."""
    for flag, value in (counts or {}).items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SmolgepaError(f"{flag} must be a whole number of at least 1, got {value!r}.")
    if mode not in DECODE_MODES:
        raise SmolgepaError(f"Unknown decode mode {mode!r}. Available: {', '.join(DECODE_MODES)}.")
    if calibration not in CALIBRATIONS:
        raise SmolgepaError(f"Unknown calibration {calibration!r}. Available: {', '.join(CALIBRATIONS)}.")
    if mode != "free" and labels is not None:
        if not labels:
            raise SmolgepaError(
                f"Decode mode {mode!r} needs the task's label set: pass StudentOptions(labels=tuple(task.labels))."
            )
        if len(set(labels)) != len(labels) or any(not str(label).strip() for label in labels):
            raise SmolgepaError(f"Decode mode {mode!r} needs distinct, non-empty labels; got {list(labels)!r}.")
    if calibrate and calibration not in CALIBRATABLE.get(mode, ()):
        takes = [f"--decode {m} with --calibrate{'' if c == 'content-free' else ' train'}"
                 for m, cs in CALIBRATABLE.items() for c in cs]
        flag = "--calibrate" if calibration == "content-free" else "--calibrate train"
        raise SmolgepaError(
            f"{flag} does not work with --decode {mode}; calibration works as: {', '.join(takes)}."
        )
    if train_examples is not None:
        needs = f"--decode {mode}" if mode in FITTED_MODES else "--calibrate train" if calibrate and calibration == "train" else ""
        if needs and not train_examples:
            raise SmolgepaError(
                f"{needs} needs the task's training examples: pass StudentOptions(train_examples=train_pairs(task)) "
                "(smolgepa.lm.student.train_pairs), or use a task with a train split."
            )
        unknown = sorted({label for _, label in train_examples if label not in labels}) if labels else []
        if unknown:
            raise SmolgepaError(f"Training examples carry labels outside the label set: {', '.join(unknown)}.")
    if kind is not None:
        from smolgepa.lm.kinds import student_kind

        student_kind(kind).check_decode(mode, calibrate, calibration)


@dataclass(frozen=True)
class DecodeSettings:
    """How a student reads its answer: the decode mode and its calibration (what a report records)."""

    mode: str = "free"
    calibrate: bool = False
    calibration: str = "content-free"

    @property
    def text(self) -> str:
        """As printed: `free`, `scored + calibrate`, `channel + calibrate train`, ..."""
        return describe_decode(self.mode, self.calibrate, self.calibration)


def describe_decode(mode: str, calibrate: bool, calibration: str = "content-free") -> str:
    """The decode mode as printed: `scored`, `scored + calibrate`, `channel + calibrate train`, ..."""
    if not calibrate:
        return mode
    return f"{mode} + calibrate" + (" train" if calibration == "train" else "")


def gbnf_literal(text: str) -> str:
    """`text` as a GBNF string literal: backslashes, quotes and control characters escaped."""
    out = []
    for char in text:
        if char in '\\"':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def label_gbnf(labels: Sequence[str]) -> str:
    """A GBNF grammar whose only sentences are the labels, exactly."""
    return "root ::= " + " | ".join(gbnf_literal(label) for label in labels) + "\n"


@lru_cache(maxsize=32)
def label_grammar(labels: tuple[str, ...]) -> Any:
    """The llama_cpp.LlamaGrammar over `labels`, built once per label set."""
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(label_gbnf(labels), verbose=False)


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
