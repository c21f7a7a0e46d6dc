"""A student's options: generation settings and how its answer is read, validated once
(`StudentOptions`), and the checks of the server settings a user gives."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.lm.readings.reading import DEFAULT_ENSEMBLE_K, DEFAULT_KNN_K, Reading, check_decode

# Label answers are short: a few tokens, one line. Long enough to see an echo for diagnostics.
DEFAULT_MAX_TOKENS = 24
DEFAULT_STOP = ("\n\n",)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# option name in ServerSettings -> the flag that sets it, for messages
FLAG_NAMES = {"timeout": "--timeout", "retries": "--retries", "backoff": "--backoff", "api_key_env": "--api-key-env",
              "concurrency": "--threads"}

def check_model_format(model_format: str | None, exact_model: bool) -> None:
    """A pinned re-encoding format is one the probe chooses from, and not asked for with `exact_model`."""
    from smolgepa.lm.local.reencode import CANDIDATES

    if model_format is None:
        return
    if model_format not in CANDIDATES:
        raise SmolgepaError(f"Model format {model_format!r} is not one the embedded student re-encodes to; "
                            f"use one of {', '.join(CANDIDATES)}.")
    if exact_model:
        raise SmolgepaError("--exact-model and --model-format contradict each other: pass one of them.")


@dataclass(frozen=True)
class StudentOptions:
    """Generation settings for a student.

    `decode`: `free` (parse a label from text), `constrained` (output restricted to `labels`),
    `scored` (argmax label log-likelihood), or, embedded only, `channel`, `knn`, `ensemble`;
    `calibrate` adds calibration (`calibration` "content-free" for scored, "train" for scored,
    channel and ensemble). `train_examples` ((text, label) pairs, `train_pairs(task)`) feed knn,
    ensemble and calibration "train". `server` holds ServerSettings overrides (`server_overrides`).
    See `smolgepa.lm.readings.reading`.
    Example: `StudentOptions(decode="knn", labels=tuple(task.labels), train_examples=train_pairs(task))`.
    """

    temperature: float = 0.0
    max_tokens: int = DEFAULT_MAX_TOKENS
    stop: tuple[str, ...] = DEFAULT_STOP
    seed: int = 0
    n_ctx: int = 2048
    server: dict[str, Any] = field(default_factory=dict)  # extra ServerSettings fields
    decode: str = "free"
    labels: tuple[str, ...] = ()
    calibrate: bool = False
    cache_enabled: bool = False  # disk response cache (smolgepa.lm.response_cache); the CLI turns it on
    cache_dir: str | None = None
    exact_model: bool = False  # answer from the GGUF file as given (embedded: the shipped Q4_1), not a re-encoding
    fast_model: bool = False  # deprecated: re-encode a gguf:PATH student too (embedded: the default already)
    # The re-encoding's format, pinned (a resumed run keeps the one it started with, whatever this CPU's
    # probe would choose); None: the probe's choice (smolgepa.lm.local.reencode).
    model_format: str | None = None
    calibration: str = "content-free"  # with calibrate: "content-free" or "train"
    train_examples: tuple[tuple[str, str], ...] = ()
    knn_k: int = DEFAULT_KNN_K
    ensemble_k: int = DEFAULT_ENSEMBLE_K

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(str(label) for label in self.labels))
        object.__setattr__(self, "train_examples", tuple((str(t), str(y)) for t, y in self.train_examples))
        self.check_decode()
        if self.exact_model and self.fast_model:
            raise SmolgepaError("--exact-model and --fast-model contradict each other: pass one of them.")
        check_model_format(self.model_format, self.exact_model)

    def check_decode(self) -> None:
        """The decode settings are consistent (what a student kind can do is `Student`'s check)."""
        check_decode(self.decode, self.labels, self.calibrate, self.calibration, self.train_examples,
                     {"--knn-k": self.knn_k, "ensemble_k": self.ensemble_k})

    def scoring_fields(self) -> dict[str, Any]:
        """The settings every engine takes to read its answers (decode mode, labels, calibration, the
        training examples of knn, probe and ensemble, and the seed)."""
        return {"decode": self.decode, "labels": self.labels, "calibrate": self.calibrate,
                "calibration": self.calibration, "train_examples": self.train_examples, "knn_k": self.knn_k,
                "ensemble_k": self.ensemble_k, "seed": self.seed}

    @property
    def reading(self) -> Reading:
        """How the student's answer is read (`decode`, `calibrate`, `calibration` as one value)."""
        return Reading(self.decode, self.calibrate, self.calibration)


def train_pairs(task: Any) -> tuple[tuple[str, str], ...]:
    """The task's train split as (text, label) pairs, for `StudentOptions.train_examples`."""
    return tuple((example.input, example.label) for example in task.split("train"))


def _is_seconds(value: object) -> bool:
    """Whether `value` is a finite real number (not a bool)."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def check_server_values(
    timeout: float | None = None, retries: int | None = None, api_key_env: str | None = None,
    backoff: float | None = None,
) -> None:
    """Raise SmolgepaError unless timeout > 0 seconds, retries >= 0, backoff >= 0 seconds and api_key_env
    is a variable name."""
    if timeout is not None:
        if not _is_seconds(timeout) or timeout <= 0:
            raise SmolgepaError(f"--timeout must be a number of seconds above 0, got {timeout!r}.")
    if retries is not None:
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise SmolgepaError(f"--retries must be a whole number of at least 0, got {retries!r}.")
    if backoff is not None:
        if not _is_seconds(backoff) or backoff < 0:
            raise SmolgepaError(f"--backoff must be a number of seconds of at least 0, got {backoff!r}.")
    if api_key_env is not None and not (isinstance(api_key_env, str) and ENV_NAME.fullmatch(api_key_env)):
        # Never echo the value: it may be the key itself, pasted by mistake.
        raise SmolgepaError(
            "--api-key-env takes the NAME of an environment variable (letters, digits, underscores), not the "
            "key itself: export MY_KEY=... and pass --api-key-env MY_KEY."
        )
