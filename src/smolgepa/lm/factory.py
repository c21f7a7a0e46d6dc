"""Build a student as a DSPy LM from a spec string: `make_lm("embedded")`, `make_lm("lmstudio:MODEL")`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dspy

from smolgepa.lm.embedded import EmbeddedEngine, EmbeddedSettings
from smolgepa.lm.models import check_model_file, embedded_model_path
from smolgepa.lm.spec import ModelSpec, parse_model_spec

# Label answers are short: a few tokens, one line. Long enough to see an echo for diagnostics.
DEFAULT_MAX_TOKENS = 24
DEFAULT_STOP = ("\n\n",)


@dataclass(frozen=True)
class StudentOptions:
    """Generation settings for a student."""

    temperature: float = 0.0
    max_tokens: int = DEFAULT_MAX_TOKENS
    stop: tuple[str, ...] = DEFAULT_STOP
    seed: int = 0
    n_ctx: int = 2048
    server: dict[str, Any] = field(default_factory=dict)  # extra ServerSettings fields


def make_engine(spec: ModelSpec, options: StudentOptions) -> Any:
    """The DSPy engine behind a spec (the model is not loaded until first use)."""
    if spec.kind in ("embedded", "gguf"):
        path = str(embedded_model_path() if spec.kind == "embedded" else check_model_file(Path(spec.path)))
        return EmbeddedEngine(EmbeddedSettings(path=path, n_ctx=options.n_ctx, seed=options.seed))
    from smolgepa.lm.server import ServerEngine, ServerSettings

    return ServerEngine(ServerSettings(base_url=spec.base_url, model=spec.model, flavour=spec.kind, **options.server))


def make_lm(spec: str | ModelSpec, options: StudentOptions | None = None) -> dspy.LM:
    """A DSPy LM for a student spec, usable by any DSPy program."""
    parsed = parse_model_spec(spec) if isinstance(spec, str) else spec
    options = options or StudentOptions()
    engine = make_engine(parsed, options)
    return dspy.LM(
        f"smolgepa/{parsed.kind}",
        engine=engine,
        cache=False,
        temperature=options.temperature,
        max_tokens=options.max_tokens,
        stop=list(options.stop),
        seed=options.seed,
    )
