"""Decode modes for label answers, and the pure pieces every engine shares.

- `free`: the student writes text; the parse ladder (`smolgepa.evaluation.labels`) reads a label from it.
- `constrained`: the output is restricted to the label strings (a GBNF grammar in-process and on
  llama.cpp servers; a JSON-schema enum or a choice list on other servers). The text is a label.
- `scored`: no generation. Each label's whole token sequence is scored by its log-likelihood after
  the chat template's assistant prefix; the argmax label is the answer.
- `channel` (embedded, llama.cpp servers): noisy channel, Min et al. 2022: log P(input text | label), the label
  stated first (`smolgepa.lm.readings.channel`).
- `knn` (embedded, llama.cpp servers): kNN prompting, Xu et al. 2023: the vote of the training examples whose
  next-token distributions are nearest the query's (`smolgepa.lm.readings.knn`).
- `ensemble` (embedded, llama.cpp servers): one demonstration per forward pass, label log-probs averaged
  (`smolgepa.lm.readings.ensemble`).
- `calibrate` (with `scored`): contextual calibration, Zhao et al. 2021, "Calibrate Before Use".
  The label distribution for content-free inputs ("N/A", "", "[MASK]") estimates the prompt's own
  bias p_cf; the answer is argmax(p / p_cf), i.e. the diagonal W = diag(p_cf)^-1 with b = 0.
  A label the prompt favours with no input is therefore only kept where the input supports it.
  With `calibration="train"` (scored, channel, ensemble) the per-label offsets are instead fitted
  on the training split's scores (`smolgepa.lm.readings.train_calibration`).

The decode mode is engine configuration (`StudentOptions(decode=..., labels=...)`), never a
per-call argument: DSPy refuses unknown per-call kwargs, and caches key on the engine's state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from smolgepa.errors import SmolgepaError

DECODE_MODES = ("free", "constrained", "scored", "channel", "knn", "probe", "hidden", "stack", "hidden-figures",
                "ensemble")
SCORING_MODES = ("scored", "channel", "knn", "probe", "hidden", "stack", "hidden-figures", "ensemble")  # no generation: every label is scored
EMBEDDED_ONLY_MODES = ("channel", "knn", "probe", "hidden", "stack", "hidden-figures", "ensemble")  # beyond logprobs: embedded and llama.cpp servers only
IN_PROCESS_MODES = ("probe", "hidden", "stack", "hidden-figures")  # read what no server returns: the whole distribution, hidden states
FITTED_MODES = ("knn", "probe", "hidden", "stack", "hidden-figures")  # answer from the training examples' anchors
FIGURE_MODES = ("hidden-figures",)  # read the evidence figures from a rendered trace (summary, annotated)
CALIBRATIONS = ("content-free", "train")
# decode mode -> the calibrations it takes
CALIBRATABLE = {"scored": ("content-free", "train"), "channel": ("train",), "ensemble": ("train",)}
DEFAULT_KNN_K = 12  # chosen on sentiment-extended val (k 5-16 within 2 answers of each other)
DEFAULT_ENSEMBLE_K = 6  # one-shot prompts when the instruction has no demos: 2 per label for 3 labels


@dataclass(frozen=True)
class Reading:
    """How a student's answer is read: the mode and its calibration. One value, validated when made
    (a known mode, a known calibration, and one the mode takes when `calibrate`), named once (`name`:
    `scored+calibrate-train`, as study files, `Reading:` lines and run records write it) and printed
    once (`text`: `scored + calibrate train`). The CLI's `--reading`/`--decode`, `--calibrate` and
    config.json's `decode`, `calibrate`, `calibration` are its three fields."""

    mode: str = "free"
    calibrate: bool = False
    calibration: str = "content-free"

    def __post_init__(self) -> None:
        if self.mode not in DECODE_MODES:
            raise SmolgepaError(f"Unknown decode mode {self.mode!r}. Available: {', '.join(DECODE_MODES)}.")
        if self.calibration not in CALIBRATIONS:
            raise SmolgepaError(f"Unknown calibration {self.calibration!r}. Available: {', '.join(CALIBRATIONS)}.")
        if self.calibrate and self.calibration not in CALIBRATABLE.get(self.mode, ()):
            takes = [f"--decode {m} with --calibrate{'' if c == 'content-free' else ' train'}"
                     for m, cs in CALIBRATABLE.items() for c in cs]
            flag = "--calibrate" if self.calibration == "content-free" else "--calibrate train"
            raise SmolgepaError(
                f"{flag} does not work with --decode {self.mode}; calibration works as: {', '.join(takes)}."
            )

    @property
    def decode(self) -> str:
        """The mode, by the name config.json and `StudentOptions` give it."""
        return self.mode

    @property
    def name(self) -> str:
        """The reading's name: `scored`, `scored+calibrate`, `knn`, `channel+calibrate-train`, ..."""
        if not self.calibrate:
            return self.mode
        return f"{self.mode}+calibrate" + ("-train" if self.calibration == "train" else "")

    @property
    def text(self) -> str:
        """As printed: `free`, `scored + calibrate`, `channel + calibrate train`, ..."""
        if not self.calibrate:
            return self.mode
        return f"{self.mode} + calibrate" + (" train" if self.calibration == "train" else "")


def reading_name(mode: str, calibrate: bool, calibration: str = "content-free") -> str:
    """`Reading(mode, calibrate, calibration).name`."""
    return Reading(mode, calibrate, calibration).name


def check_decode(
    mode: str,
    labels: Sequence[str] | None,
    calibrate: bool = False,
    calibration: str = "content-free",
    train_examples: Sequence[tuple[str, str]] | None = None,
    counts: Mapping[str, int] | None = None,
) -> Reading:
    """The `Reading` of (mode, calibrate, calibration), once it has what it needs: labels; training
    examples for the fitted modes and `calibration="train"` (None for `labels` or `train_examples`: not
    known yet, checked later); `counts` ({"--knn-k": 12, ...}) whole numbers >= 1. Raises SmolgepaError
    otherwise. What a student kind can do is the kind's own check (`StudentKind.check_decode`).

    The one check of a reading: StudentOptions, engine settings and OptimizeConfig call it."""
    for flag, value in (counts or {}).items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SmolgepaError(f"{flag} must be a whole number of at least 1, got {value!r}.")
    chosen = Reading(mode, calibrate, calibration)
    if mode != "free" and labels is not None:
        if not labels:
            raise SmolgepaError(
                f"Decode mode {mode!r} needs the task's label set: pass StudentOptions(labels=tuple(task.labels))."
            )
        if len(set(labels)) != len(labels) or any(not str(label).strip() for label in labels):
            raise SmolgepaError(f"Decode mode {mode!r} needs distinct, non-empty labels; got {list(labels)!r}.")
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
        if mode in FIGURE_MODES and train_examples:
            from smolgepa.lm.readings.hidden_figures import check_figures

            check_figures(train_examples)
    return chosen
