"""Reflection backends: each turns a plain-text prompt into a plain-text answer, never raising.

Specs accepted by `--reflection`:
    fewshot                         the built-in example proposer (no LLM; see fewshot.py)
    rules                           the built-in counting-rule proposer for traces (no LLM; rules_proposer.py)
    embedded                        the local SmolLM2-135M itself (weak, but offline)
    gguf:PATH                       another local GGUF model
    lmstudio:MODEL, ollama:MODEL, openai:MODEL@URL, llamacpp:URL, vllm:MODEL@URL
                                    any OpenAI-compatible server; the API key comes from an
                                    environment variable (`reflection_key_env`, else OPENAI_API_KEY
                                    for `openai:` when it is set)
    litellm:MODEL[@BASE_URL]        anything litellm reaches (keys from litellm's usual variables)
    cmd:"COMMAND ARGS"              a CLI agent: the prompt on stdin, the answer from stdout,
                                    run without a shell, killed after the timeout
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.lm.kinds import spec_forms, student_kind, student_kinds
from smolgepa.lm.kinds.base import parse_model_spec
from smolgepa.lm.servers.reach import ServerNotUpError
from smolgepa.optimize.cache import ReflectionBackend, ReflectionReply
from smolgepa.optimize.command import CommandBackend, parse_command
from smolgepa.lm.engines import Engine

SYSTEM_PROMPT = "You write instructions (system prompts) for small language models. Answer in plain text."

Backend = ReflectionBackend  # the earlier name


@dataclass(frozen=True)
class ReflectionSettings:
    """How reflection calls are made. The verifier (`smolgepa.verifier`) makes its calls the same way, with
    its own `role` (the flags a server's error names) and `system` prompt."""

    timeout: float = 300.0
    max_tokens: int = 2048
    temperature: float = 0.7
    key_env: str | None = None
    seed: int = 0
    role: str = "reflection"
    system: str = SYSTEM_PROMPT


class ReflectionKind:
    """One kind of `--reflection` spec besides the student specs: `NAME` alone (`offline`, a built-in
    proposer with no backend) or `NAME:REST`. Register with `register_reflection_kind`."""

    name: str = ""
    forms: tuple[str, ...] = ()
    offline: bool = False

    def check(self, rest: str, text: str) -> None:
        """Raise SmolgepaError if the spec cannot work (without calling anything)."""

    def backend(self, rest: str, text: str, settings: ReflectionSettings) -> ReflectionBackend:
        raise SmolgepaError(f"The {text} proposer has no reflection backend (it needs no LLM).")


class OfflineKind(ReflectionKind):
    """`fewshot` or `rules`: a built-in proposer (smolgepa.optimize.fewshot, rules_proposer)."""

    offline = True

    def __init__(self, name: str) -> None:
        self.name, self.forms = name, (name,)


class CommandKind(ReflectionKind):
    name, forms = "cmd", ('cmd:"COMMAND ..."',)

    def check(self, rest: str, text: str) -> None:
        parse_command(rest)  # also checks that the command exists

    def backend(self, rest: str, text: str, settings: ReflectionSettings) -> ReflectionBackend:
        return CommandBackend(parse_command(rest), settings.timeout)


class LitellmKind(ReflectionKind):
    name, forms = "litellm", ("litellm:MODEL[@BASE_URL]",)

    def check(self, rest: str, text: str) -> None:
        self.parse(rest)

    def parse(self, rest: str) -> tuple[str, str | None]:
        model, at, base = rest.strip().rpartition("@") if "@" in rest else (rest.strip(), "", "")
        if not model:
            raise SmolgepaError("litellm:MODEL needs a model name, for example litellm:openai/gpt-4.1-mini.")
        if at and not base.startswith(("http://", "https://")):
            raise SmolgepaError(f"litellm:{rest}: the base URL after @ must start with http:// or https://.")
        return model, base or None

    def backend(self, rest: str, text: str, settings: ReflectionSettings) -> ReflectionBackend:
        model, base = self.parse(rest)
        return LitellmBackend(model, settings, api_base=base)


_REFLECTION_KINDS: dict[str, ReflectionKind] = {}


def register_reflection_kind(kind: ReflectionKind) -> ReflectionKind:
    """Make `kind` available to `--reflection` and study files (every student spec already is)."""
    if not kind.name or ":" in kind.name or kind.name in _REFLECTION_KINDS:
        raise SmolgepaError(f"Cannot register the reflection kind {kind.name!r}: empty, with ':', or taken.")
    _REFLECTION_KINDS[kind.name] = kind
    return kind


def unregister_reflection_kind(name: str) -> None:
    """Forget the reflection kind registered as `name` (tests; a no-op for an unknown name)."""
    _REFLECTION_KINDS.pop(name, None)


register_reflection_kind(OfflineKind("fewshot"))  # fewshot
register_reflection_kind(OfflineKind("rules"))  # rules
register_reflection_kind(LitellmKind())  # litellm:MODEL[@BASE_URL]
register_reflection_kind(CommandKind())  # cmd:"COMMAND ..."


def reflection_forms() -> tuple[str, ...]:
    """Every `--reflection` form, for messages: the built-in proposers, every student spec, then the rest."""
    kinds = _REFLECTION_KINDS.values()
    return (*(f for k in kinds if k.offline for f in k.forms), *spec_forms(),
            *(f for k in kinds if not k.offline for f in k.forms))


def _reflection_kind(text: str) -> tuple[ReflectionKind | None, str]:
    """The reflection kind of a spec and the rest after `NAME:`; (None, text) for a student model spec."""
    name, sep, rest = text.partition(":")
    kind = _REFLECTION_KINDS.get(name)
    if kind is not None and (text == name if kind.offline else bool(sep)):
        return kind, rest
    return None, text


def _model_spec(text: str) -> Any:
    try:
        return parse_model_spec(text, role="reflection model")
    except SmolgepaError:
        if text.partition(":")[0] in {kind.name for kind in student_kinds()}:
            raise  # a known kind, malformed: its own message says how
        raise SmolgepaError(f"Unknown reflection model {text!r}. Available: {', '.join(reflection_forms())}.") from None


def check_reflection(spec: str) -> str:
    """The spec, stripped, if it can work as `--reflection` (a command must exist); else SmolgepaError."""
    text = spec.strip()
    kind, rest = _reflection_kind(text)
    if kind is not None:
        kind.check(rest, text)
    else:
        _model_spec(text)
    return text


def is_offline(spec: str) -> bool:
    """Whether `spec` names a built-in proposer (`fewshot`, `rules`): no model answers behind it."""
    kind, _ = _reflection_kind(spec.strip())
    return kind is not None and kind.offline


def describe_reflection(spec: str) -> str:
    """The spec as recorded in the run directory (a command's arguments are kept; keys never are)."""
    return spec.strip()


def make_backend(spec: str, settings: ReflectionSettings) -> ReflectionBackend:
    """The reflection backend for a spec; an unknown spec lists the forms that exist."""
    text = spec.strip()
    kind, rest = _reflection_kind(text)
    if kind is not None:
        return kind.backend(rest, text, settings)
    return EngineBackend(model_engine(_model_spec(text), settings), settings)


def model_engine(spec: Any, settings: ReflectionSettings) -> Engine:
    """A DSPy engine for a reflection model spec (its student kind's `reflection_engine`)."""
    return student_kind(spec.kind).reflection_engine(
        spec, timeout=settings.timeout, key_env=settings.key_env, seed=settings.seed, role=settings.role
    )


class EngineBackend:
    """A reflection model behind a DSPy engine (embedded llama.cpp or an OpenAI-compatible server)."""

    def __init__(self, engine: Engine, settings: ReflectionSettings) -> None:
        self.engine = engine
        self.settings = settings

    def __call__(self, prompt: str) -> ReflectionReply:
        from dspy.lm15 import Config, Message, Request

        request = Request(
            model=str(getattr(self.engine, "model_name", "reflection")),
            messages=(Message.user(prompt),),
            system=self.settings.system,
            config=Config(
                max_tokens=self.settings.max_tokens,
                temperature=self.settings.temperature,
                seed=self.settings.seed,
            ),
        )
        started = time.monotonic()
        try:
            response = self.engine.complete(request)
        except ServerNotUpError:
            raise  # a wrong URL or a server never started: the run stops with its one line
        except Exception as exc:  # noqa: BLE001 - a failed reflection is a failed proposal, not a crash
            return ReflectionReply(error=f"{type(exc).__name__}: {exc}", seconds=time.monotonic() - started)
        text = "".join(getattr(part, "text", "") or "" for part in response.message.parts)
        return ReflectionReply(text=text, finish_reason=response.finish_reason, seconds=time.monotonic() - started)


class LitellmBackend:
    """Any model litellm reaches (`litellm:MODEL`); litellm reads API keys from its usual variables."""

    def __init__(self, model: str, settings: ReflectionSettings, api_base: str | None = None) -> None:
        self.model = model
        self.settings = settings
        self.api_base = api_base

    def __call__(self, prompt: str) -> ReflectionReply:
        started = time.monotonic()
        # litellm fetches a model price list from the internet when imported, unless told not to
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        try:
            import litellm

            response = litellm.completion(
                model=self.model,
                messages=[{"role": "system", "content": self.settings.system}, {"role": "user", "content": prompt}],
                max_tokens=self.settings.max_tokens,
                temperature=self.settings.temperature,
                timeout=self.settings.timeout,
                **({"api_base": self.api_base} if self.api_base else {}),
            )
            choice = response.choices[0]
            text = choice.message.content or ""
            finish = str(choice.finish_reason or "stop")
        except Exception as exc:  # noqa: BLE001 - a failed reflection is a failed proposal, not a crash
            return ReflectionReply(error=f"{type(exc).__name__}: {exc}", seconds=time.monotonic() - started)
        return ReflectionReply(text=text, finish_reason=finish, seconds=time.monotonic() - started)
