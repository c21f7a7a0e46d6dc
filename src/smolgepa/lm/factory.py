"""Build a student as a DSPy LM from a spec string: `make_lm("embedded")`, `make_lm("lmstudio:MODEL")`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dspy

from smolgepa.lm.decode import check_decode
from smolgepa.lm.embedded import DEFAULT_ENSEMBLE_K, DEFAULT_KNN_K, EmbeddedEngine, EmbeddedSettings
from smolgepa.lm.models import check_model_file, embedded_model_path
from smolgepa.lm.spec import ModelSpec, parse_model_spec

# Label answers are short: a few tokens, one line. Long enough to see an echo for diagnostics.
DEFAULT_MAX_TOKENS = 24
DEFAULT_STOP = ("\n\n",)


@dataclass(frozen=True)
class StudentOptions:
    """Generation settings for a student.

    `decode`: `free` (parse a label from text), `constrained` (output restricted to `labels`),
    `scored` (argmax label log-likelihood), or, embedded and llama.cpp servers, `channel`, `knn`, `ensemble`;
    `calibrate` adds calibration (`calibration` "content-free" for scored, "train" for scored,
    channel and ensemble). `train_examples` ((text, label) pairs, `train_pairs(task)`) feed knn,
    ensemble and calibration "train". See `smolgepa.lm.decode`.
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
    cache_enabled: bool = False  # disk response cache (smolgepa.lm.cache); the CLI turns it on
    cache_dir: str | None = None
    fast_model: bool = False  # opt-in Q8_0 copy of a GGUF: faster prefill, answers can differ slightly
    calibration: str = "content-free"  # with calibrate: "content-free" or "train"
    train_examples: tuple[tuple[str, str], ...] = ()
    knn_k: int = DEFAULT_KNN_K
    ensemble_k: int = DEFAULT_ENSEMBLE_K

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(str(label) for label in self.labels))
        object.__setattr__(self, "train_examples", tuple((str(t), str(y)) for t, y in self.train_examples))
        check_decode(self.decode, self.labels, self.calibrate, self.calibration, self.train_examples,
                     {"--knn-k": self.knn_k, "ensemble_k": self.ensemble_k})


def train_pairs(task: Any) -> tuple[tuple[str, str], ...]:
    """The task's train split as (text, label) pairs, for `StudentOptions.train_examples`."""
    return tuple((example.input, example.label) for example in task.split("train"))


def make_engine(spec: ModelSpec, options: StudentOptions) -> Any:
    """The DSPy engine behind a spec (the model is not loaded until first use)."""
    if spec.kind in ("embedded", "gguf"):
        path = str(embedded_model_path() if spec.kind == "embedded" else check_model_file(Path(spec.path)))
        if options.fast_model:
            from smolgepa.lm.quantize import fast_model_path

            path = str(fast_model_path(path, options.cache_dir))
        return EmbeddedEngine(
            EmbeddedSettings(
                path=path,
                n_ctx=options.n_ctx,
                seed=options.seed,
                decode=options.decode,
                labels=options.labels,
                calibrate=options.calibrate,
                calibration=options.calibration,
                train_examples=options.train_examples,
                knn_k=options.knn_k,
                ensemble_k=options.ensemble_k,
            )
        )
    from smolgepa.lm.decode_server import check_server_decode
    from smolgepa.lm.server import ServerEngine, ServerSettings

    check_server_decode(spec.kind, options.decode, options.calibrate, options.calibration)

    return ServerEngine(
        ServerSettings(
            base_url=spec.base_url,
            model=spec.model,
            flavour=spec.kind,
            decode=options.decode,
            labels=options.labels,
            calibrate=options.calibrate,
            calibration=options.calibration,
            train_examples=options.train_examples,
            knn_k=options.knn_k,
            ensemble_k=options.ensemble_k,
            seed=options.seed,
            **options.server,
        )
    )


def make_lm(spec: str | ModelSpec, options: StudentOptions | None = None) -> dspy.LM:
    """A DSPy LM for a student spec, usable by any DSPy program."""
    parsed = parse_model_spec(spec) if isinstance(spec, str) else spec
    options = options or StudentOptions()
    from smolgepa.lm.cache import maybe_cached

    engine = maybe_cached(make_engine(parsed, options), options.cache_enabled, options.cache_dir)
    return dspy.LM(
        f"smolgepa/{parsed.kind}",
        engine=engine,
        cache=False,
        temperature=options.temperature,
        max_tokens=options.max_tokens,
        stop=list(options.stop),
        seed=options.seed,
    )
