"""The embedded student: a GGUF model run in-process by llama-cpp-python, as a DSPy engine."""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from dspy.lm15 import Request, Response

from smolgepa.errors import ContextOverflowError, SmolgepaError
from smolgepa.lm.readings.scores import (
    CONTENT_FREE_INPUTS,
    LabelScores,
    calibration_key,
    content_free_messages,
    content_free_prior,
)
from smolgepa.lm.readings.fit_memory import FitMemory, SharedFits, shared_fits
from smolgepa.lm.readings.reading import DEFAULT_ENSEMBLE_K, DEFAULT_KNN_K, SCORING_MODES, check_decode
from smolgepa.lm.readings.constrained import label_grammar
from smolgepa.lm.messages import CompleteOnlyEngine, request_messages, text_response
from smolgepa.lm.local.kv import REEVALUATED_TAIL, forget_prompt_end  # noqa: F401 - REEVALUATED_TAIL re-exported
from smolgepa.lm.local.model_files import check_model_file
from smolgepa.lm.local.threads import default_threads
from smolgepa.lm.overflow import parse_overflow
from smolgepa.candidate.reading_line import reading as parse_reading
from smolgepa.candidate.header import take_header
from smolgepa.candidate.label_words import LABEL_WORDS_PREFIX, LabelWords, label_of, parse_label_words, shown
from smolgepa.candidate.reading_line import READING_PREFIX



# One thread decodes: llama.cpp's OpenMP threads sleep at each barrier of the model's graph (smolgepa sets
# OMP_WAIT_POLICY=PASSIVE, smolgepa/__init__.py), and for a one-token step of a 135M model waking the
# second thread costs more than it computes: 24 ms a token on one thread, 36 ms on two, on 2 cores, with
# the same logits (benchmarks/bench_speed.py, `decode_threads`). Prompts, scored labels and hidden states are
# batches, which every thread still evaluates (1.8x faster on two).
DECODE_THREADS = 1


@dataclass(frozen=True)
class EmbeddedSettings:
    """How the in-process model is loaded and decodes; part of the engine's saved state.

    `decode` is `free`, `constrained`, `scored`, `channel`, `knn`, `probe`, `hidden` or `ensemble` (see
    `smolgepa.lm.readings.reading`); all but `free` need `labels`. `calibrate` applies contextual calibration:
    with `calibration` "content-free" (scored only) from the `content_free` inputs, with "train"
    (scored, channel, ensemble) from offsets fitted on `train_examples`, (text, label) pairs of the
    task's train split, which `knn` (anchors, `knn_k` neighbours), `probe`, `hidden` and `ensemble` without demos
    (`ensemble_k` one-shot prompts, chosen by `seed`) also use.
    """

    path: str
    n_ctx: int = 2048
    n_threads: int = 0  # threads for prompts (batches); 0: all cores
    decode_threads: int = DECODE_THREADS  # threads for one new token at a time (see DECODE_THREADS)
    seed: int = 0
    decode: str = "free"
    labels: tuple[str, ...] = ()
    calibrate: bool = False
    content_free: tuple[str, ...] = field(default=CONTENT_FREE_INPUTS)
    calibration: str = "content-free"
    train_examples: tuple[tuple[str, str], ...] = ()
    knn_k: int = DEFAULT_KNN_K
    ensemble_k: int = DEFAULT_ENSEMBLE_K
    # llama.cpp's fused attention kernel: 20-30% faster prefill of a 450-token prompt on 2 cores, same
    # decode speed; it rounds differently, so it goes with the re-encoded default, not --exact-model.
    flash_attn: bool = False

    def __post_init__(self) -> None:
        # Saved state comes back from JSON with lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "labels", tuple(str(label) for label in self.labels))
        object.__setattr__(self, "content_free", tuple(self.content_free))
        object.__setattr__(self, "train_examples", tuple((str(t), str(y)) for t, y in self.train_examples))
        check_decode(self.decode, self.labels, self.calibrate, self.calibration, self.train_examples,
                     {"--knn-k": self.knn_k, "ensemble_k": self.ensemble_k})
        if self.calibrate and self.calibration == "content-free" and not self.content_free:
            raise SmolgepaError("Calibration needs at least one content-free input (content_free is empty).")

    def key_extras(self, extras: dict[str, Any]) -> dict[str, Any]:
        """`extras` (every settings field) cut to what decides this mode's answers
        (`smolgepa.lm.readings.build.method_key_extras`)."""
        from smolgepa.lm.readings.build import method_key_extras

        if not extras.get("flash_attn"):  # keys made before the setting existed stay valid
            extras = {k: v for k, v in extras.items() if k != "flash_attn"}
        return method_key_extras(self, extras)


class EmbeddedEngine(CompleteOnlyEngine):
    """Runs chat completions on a local GGUF file. The model loads on first use, once.

    llama-cpp-python keeps the KV cache of the previous prompt and reuses its longest common
    prefix, so consecutive requests that share an instruction only prefill the new part; scored
    decoding does the same and evaluates each label's tokens beside the prompt, in the same call, on
    KV sequences of their own (the context holds `sequences.SEQUENCES` of them).
    """

    def __init__(self, settings: EmbeddedSettings) -> None:
        self.settings = settings
        self._llama: Any = None
        self._scorer: Any = None
        self._methods: dict[str | None, Any] = {}  # per reading (None: the settings' own method)
        self._memories: dict[tuple[Any, ...], Any] = {}  # the fitted readings' shared anchors (methods.build_method)
        # what the fitted readings computed per prompt: kept across a reload of the same file, saved with a
        # run, and shared with the process's other engines on this file
        self.fits = FitMemory(shared=_shared_fits_for(settings))
        self._method_scorer: Any = None
        self._hidden: Any = None  # HiddenStates, loaded by the first `hidden` reading
        self._growing_inputs = False  # see follow_growing_inputs
        self._priors: dict[tuple[Any, ...], dict[str, float]] = {}
        self._lock = threading.RLock()

    @property
    def model_name(self) -> str:
        return Path(self.settings.path).name

    def llama(self) -> Any:
        """The loaded llama_cpp.Llama (loaded on first call)."""
        with self._lock:
            if self._llama is None:
                self._llama = self._load()
            return self._llama

    def _threads(self) -> int:
        """Threads for each of this engine's llama.cpp contexts: the setting, else `default_threads()`."""
        return self.settings.n_threads or default_threads()

    def _decode_threads(self) -> int:
        """Threads for a one-token step: `decode_threads` (0: as many as for prompts), at most _threads()."""
        return min(self.settings.decode_threads or self._threads(), self._threads())

    def _load(self) -> Any:
        path = check_model_file(Path(self.settings.path))
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise SmolgepaError(f"llama-cpp-python is not installed ({exc}). Run scripts/setup.") from None
        from smolgepa.lm.local.native_log import route_native_logs
        from smolgepa.lm.local.sequences import enable_sequences

        route_native_logs()
        threads = self._threads()
        llama = Llama(
            model_path=str(path),
            n_ctx=self.settings.n_ctx,
            n_threads=self._decode_threads(),
            n_threads_batch=threads,
            seed=self.settings.seed,
            flash_attn=self.settings.flash_attn,
            verbose=False,
        )
        enable_sequences(llama)  # scoring evaluates labels and prompts side by side (lm/sequences.py)
        return llama

    def complete(self, request: Request) -> Response:
        # A candidate's header lines never reach the model: a scoring student reads the answer with
        # the method `Reading:` names and scores the `Label words:` (then answers with label names).
        header, messages = take_header(request_messages(request))
        reading = parse_reading(header[READING_PREFIX]).name if header.get(READING_PREFIX) else None
        words = self.label_words(header.get(LABEL_WORDS_PREFIX, ""))
        if self.settings.decode in SCORING_MODES:
            scores = self.score_messages(messages, reading, words)
            return text_response(
                scores.label,
                model=self.model_name,
                finish_reason="stop",
                provider_data={"smolgepa_decode": reading or self.settings.decode, "scores": scores.to_json()},
            )
        llama = self.llama()
        config = request.config
        options: dict[str, Any] = {
            "max_tokens": config.max_tokens or 24,
            "stop": list(config.stop) or None,
        }
        if self.settings.decode == "constrained":
            # The grammar ends the answer after a label; stop strings could only cut one short.
            grammar = label_grammar(tuple(shown(self.settings.labels, words)))
            options = {"max_tokens": self._longest_label(words) + 4, "stop": None, "grammar": grammar}
        with self._lock:
            try:
                result = llama.create_chat_completion(
                    messages=messages,
                    temperature=config.temperature if config.temperature is not None else 0.0,
                    top_p=config.top_p if config.top_p is not None else 1.0,
                    seed=config.seed if config.seed is not None else self.settings.seed,
                    **options,
                )
            except ValueError as exc:
                overflow = parse_overflow(str(exc))
                if overflow is None:
                    raise
                raise ContextOverflowError(overflow.prompt_tokens, overflow.n_ctx) from exc
            usage = result.get("usage", {})
            forget_prompt_end(llama, usage.get("prompt_tokens"))
        choice = result["choices"][0]
        return text_response(
            choice["message"].get("content") or "",
            model=self.model_name,
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
            finish_reason=choice.get("finish_reason") or "stop",
            provider_data={"smolgepa_decode": "constrained"} if self.settings.decode == "constrained" else None,
        )

    def answer_distribution(self, messages: list[dict[str, str]]) -> Any:
        """The log-distribution over the vocabulary at the answer position (header lines taken off)."""
        _, messages = take_header(messages)
        with self._lock:
            return self._label_scorer().answer_logprobs(messages)

    def token_text(self, token: int) -> str:
        """One vocabulary token as text."""
        return self.llama().detokenize([token]).decode("utf-8", errors="replace")

    def label_words(self, value: str) -> LabelWords:
        """The `Label words:` header value as {label: word}, checked against the settings' labels."""
        return parse_label_words(value, self.settings.labels) if value else {}

    def _longest_label(self, words: LabelWords | None = None) -> int:
        """Tokens in the longest label (the constrained answer's length limit is set from it)."""
        with self._lock:
            llama = self.llama()
            return max(
                len(llama.tokenize(label.encode("utf-8"), add_bos=False))
                for label in shown(self.settings.labels, words or {})
            )

    def score_messages(
        self, messages: list[dict[str, str]], reading: str | None = None, words: LabelWords | None = None
    ) -> LabelScores:
        """Score every label for `messages` with the settings' scoring method (scored, channel, knn,
        ensemble; calibrated if the settings say so), or with the one a candidate's reading names
        (`smolgepa.candidate.reading_line`), on the label words if given; no generation. Scores are keyed by label."""
        with self._lock:
            scores = self.scoring_method(reading, words).score(messages)
        if not words:
            return scores
        labels = self.settings.labels

        def by_label(values: dict[str, float] | None) -> dict[str, float] | None:
            return None if values is None else {label_of(w, labels, words): v for w, v in values.items()}

        return LabelScores(
            label_of(scores.label, labels, words), by_label(scores.logprobs) or {}, by_label(scores.probs) or {},
            by_label(scores.calibrated), by_label(scores.prior),
        )

    def scoring_method(self, reading: str | None = None, words: LabelWords | None = None) -> Any:
        """The `smolgepa.lm.readings.build.ScoringMethod` the settings (or `reading`) name, on the label
        words if given, built once per loaded model (it keeps per-prompt state: kNN anchors, fitted
        offsets)."""
        from smolgepa.lm.readings.build import build_method

        key = (reading, tuple(sorted((words or {}).items())))
        with self._lock:
            scorer = self._label_scorer()
            if self._method_scorer is not scorer:
                self._methods, self._method_scorer, self._memories = {}, scorer, {}
            if key not in self._methods:
                settings = self.settings_for(reading, words)
                self._methods[key] = build_method(settings, scorer, lambda m: self.prior_for(m, settings.labels),
                                                  self.hidden_features, self._memories, self.fits)
            return self._methods[key]

    def settings_for(self, reading: str | None, words: LabelWords | None = None) -> EmbeddedSettings:
        """The settings with the decode mode and calibration a reading names and the labels (in the
        training examples too) replaced by their words (the settings themselves for neither)."""
        settings = self.settings
        if reading is not None:
            chosen = parse_reading(reading)
            settings = replace(settings, decode=chosen.mode, calibrate=chosen.calibrate, calibration=chosen.calibration)
        if words:
            settings = replace(
                settings,
                labels=tuple(shown(settings.labels, words)),
                train_examples=tuple((text, words.get(label, label)) for text, label in settings.train_examples),
            )
        return settings

    def cache_key_extras(self) -> dict[str, Any]:
        """The decode settings in the disk cache key (see EmbeddedSettings.key_extras)."""
        from smolgepa.lm.engines import settings_extras

        return self.settings.key_extras(settings_extras(self.settings))

    def prior_for(self, messages: list[dict[str, str]], labels: tuple[str, ...] | None = None) -> dict[str, float]:
        """p_cf, the distribution over `labels` (the settings' by default) for content-free inputs
        under these messages' instruction (and demos); computed once per instruction and cached."""
        labels = labels or self.settings.labels
        key = calibration_key(messages, labels)
        with self._lock:
            if key not in self._priors:
                scorer = self._label_scorer()
                runs = [
                    scorer.score(content_free_messages(messages, text), labels)
                    for text in self.settings.content_free
                ]
                self._priors[key] = content_free_prior(runs)
            return self._priors[key]

    def follow_growing_inputs(self) -> None:
        """Say that each input extends the one before (a watched trace, rendered by appending): the
        hidden reading then keeps the input's states and evaluates only what was appended. The other
        readings reuse the cached prompt prefix anyway."""
        with self._lock:
            self._growing_inputs = True
            if self._hidden is not None:
                self._hidden.keep_input_states = True

    def hidden_features(self, messages: list[dict[str, str]]) -> Any:
        """The hidden-state features of these messages (`hidden_states.HiddenStates`; its own context)."""
        from smolgepa.lm.local.hidden_states import HiddenStates

        with self._lock:
            if self._hidden is None:
                self._hidden = HiddenStates(self.settings.path, self.settings.n_ctx, self._threads(),
                                            keep_input_states=self._growing_inputs)
            return self._hidden.features(messages)

    def _label_scorer(self) -> Any:
        from smolgepa.lm.local.label_scorer import LabelScorer

        llama = self.llama()
        if self._scorer is None or self._scorer.llama is not llama:
            self._scorer = LabelScorer(llama)
        return self._scorer

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None
                self._scorer = None
                self._methods, self._memories = {}, {}
            if self._hidden is not None:
                self._hidden.close()
                self._hidden = None

    def dump_state(self) -> dict[str, Any]:
        state = asdict(self.settings)
        state["labels"] = list(self.settings.labels)
        state["content_free"] = list(self.settings.content_free)
        state["train_examples"] = [list(pair) for pair in self.settings.train_examples]
        return state

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> EmbeddedEngine:
        return cls(EmbeddedSettings(**state))


def _shared_fits_for(settings: EmbeddedSettings) -> SharedFits | None:
    """The fits the process's engines on this file share: keyed by the file (path, size, modification
    time) and the settings that change its numbers (context size, flash attention); None for a file
    that is not there (its load fails later, with the error that says so)."""
    try:
        status = os.stat(settings.path)
    except OSError:
        return None
    path = os.path.realpath(settings.path)
    return shared_fits((path, status.st_size, status.st_mtime_ns, settings.n_ctx, settings.flash_attn))

