"""A student kind and the one registry of them: every spec, error message and CLI path reads it.

A model spec (`embedded`, `gguf:PATH`, `lmstudio:MODEL`, `openai:MODEL@URL`) is read here only: the
text before the first `:` names a student kind, and that kind parses the rest (`parse_model_spec`).

A kind parses the part of its spec after `NAME:`, says which decode modes it can do and whether
the server flags apply, and builds the DSPy engine. Built-in kinds are registered exactly as a
user's own (see `smolgepa.lm.kinds` and the README's "Adding a student kind").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from smolgepa.errors import SmolgepaError
from smolgepa.lm.token_count import TokenCounter, approx_tokens

if TYPE_CHECKING:
    from smolgepa.lm.engines import Engine
    from smolgepa.lm.options import StudentOptions

_KINDS: dict[str, StudentKind] = {}


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec. `kind` names a registered student kind (`embedded`, `gguf`, a server flavour, ...)."""

    kind: str
    model: str = ""
    base_url: str = ""
    path: str = ""

    @property
    def is_server(self) -> bool:
        """True for a student behind a server: `--timeout`, `--retries` and `--api-key-env` apply."""
        return student_kind(self.kind).server

    def __str__(self) -> str:
        if self.kind == "embedded":
            return "embedded"
        if self.path:
            return f"{self.kind}:{self.path}"
        if self.base_url:
            return f"{self.kind}:{self.model}@{self.base_url}"
        return f"{self.kind}:{self.model}"


class StudentKind:
    """One kind of student spec, `NAME:REST` (subclass it; only `name`, `forms` and `engine` are required).

    `forms` are shown in error messages; `server` says `--timeout`, `--retries` and `--api-key-env`
    apply; `decode_modes` are what `check_decode` allows (calibration only where a kind says so).
    """

    name: str = ""
    forms: tuple[str, ...] = ()
    server: bool = False
    decode_modes: tuple[str, ...] = ("free",)

    def parse(self, rest: str, text: str, role: str) -> ModelSpec:
        """The spec for `text` (`rest` is what follows `NAME:`); raise SmolgepaError if it is malformed."""
        if not rest.strip():
            raise unknown_spec(text, role)
        return ModelSpec(kind=self.name, model=rest.strip())

    def check_decode(self, mode: str, calibrate: bool, calibration: str) -> None:
        """Raise SmolgepaError unless this kind can decode with `mode` (and the calibration)."""
        if mode not in self.decode_modes or calibrate:
            flag = f"--decode {mode}" + (" with --calibrate" if calibrate else "")
            raise SmolgepaError(
                f"{flag} is not available for {self.name} students; they can do: {', '.join(self.decode_modes)}."
            )

    def readings(self) -> tuple[str, ...]:
        """The readings a candidate's `Reading:` line may name for this kind's students
        (`smolgepa.candidate.reading_line.READINGS` names): those `check_decode` lets through."""
        from smolgepa.candidate.reading_line import READINGS

        supported = []
        for name, (mode, calibrate, calibration) in READINGS.items():
            try:
                self.check_decode(mode, calibrate, calibration)
            except SmolgepaError:
                continue
            supported.append(name)
        return tuple(supported)

    def reencodes(self, options: StudentOptions) -> bool:
        """Whether the student answers from a re-encoding of its model file (so a pinned `model_format` applies)."""
        return False

    def engine(self, spec: ModelSpec, options: StudentOptions) -> Engine:
        """The DSPy engine for a student (nothing is loaded or contacted until its first request)."""
        raise NotImplementedError(f"student kind {self.name!r} defines no engine")

    def reflection_engine(self, spec: ModelSpec, *, timeout: float, key_env: str | None, seed: int,
                          role: str = "reflection") -> Engine:
        """The engine when this spec is the reflection (or verifier: `role`) model (default: the student engine)."""
        from smolgepa.lm.options import StudentOptions

        return self.engine(spec, StudentOptions(seed=seed))

    def identity(self, spec: ModelSpec, engine: Engine) -> str:
        """The model's identity in cache keys: what the engine tells (a model file's digest, a server's
        URL; `smolgepa.lm.response_cache.engine_identity`), else the spec itself."""
        from smolgepa.lm.response_cache import engine_identity

        return engine_identity(engine, default=str(spec))

    def token_counter(self, spec: ModelSpec) -> tuple[TokenCounter, str]:
        """A counter of the student's tokens and how it counts (`tokenizer` or `approximate`)."""
        return approx_tokens, "approximate"

    def model_name(self, spec: ModelSpec) -> str:
        """The model's name, read for size markers such as `135m` or `1.7b`."""
        return spec.path or spec.model


def register_student_kind(kind: StudentKind) -> StudentKind:
    """Make `kind` available to every spec (`--student NAME:...`, study files, reflection specs)."""
    name = kind.name
    if not name or ":" in name or name != name.strip():
        raise SmolgepaError(f"A student kind needs a name without ':' or spaces, got {name!r}.")
    if name in _KINDS:
        raise SmolgepaError(f"A student kind named {name!r} is already registered ({type(_KINDS[name]).__name__}).")
    _KINDS[name] = kind
    return kind


def unregister_student_kind(name: str) -> None:
    """Forget the kind registered as `name` (tests; a no-op for an unknown name)."""
    _KINDS.pop(name, None)


def student_kinds() -> tuple[StudentKind, ...]:
    """Every registered kind, built-ins first, in registration order."""
    return tuple(_KINDS.values())


def spec_forms() -> tuple[str, ...]:
    """The spec forms of every registered kind, for messages: `embedded`, `gguf:PATH`, ..."""
    return tuple(form for kind in _KINDS.values() for form in kind.forms)


def unknown_spec(text: str, role: str, extra_forms: tuple[str, ...] = ()) -> SmolgepaError:
    forms = ", ".join((*spec_forms(), *extra_forms))
    return SmolgepaError(f"Unknown {role} {text!r}. Available: {forms}.")


def student_kind(name: str, text: str | None = None, role: str = "student") -> StudentKind:
    """The kind registered as `name`; an unknown one is an error listing the forms that exist."""
    kind = _KINDS.get(name)
    if kind is None:
        raise unknown_spec(name if text is None else text, role)
    return kind


def parse_model_spec(text: str, role: str = "student") -> ModelSpec:
    """Parse a student (or reflection) spec; an unknown one lists the forms that exist."""
    text = text.strip()
    name, _, rest = text.partition(":")
    return student_kind(name, text, role).parse(rest, text, role)
