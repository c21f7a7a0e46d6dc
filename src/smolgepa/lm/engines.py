"""What a student engine must do, as Protocols (built-in and user classes satisfy them structurally,
no base class needed), and the helpers every engine shares: the settings that enter cache keys, and
restoring one of smolgepa's own engine classes from a saved state."""

from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from smolgepa.errors import SmolgepaError

if TYPE_CHECKING:
    from dspy.lm15 import Request, Response


@runtime_checkable
class Engine(Protocol):
    """A DSPy engine (`dspy.LM(name, engine=...)`): one canonical request in, one whole response out.

    Contract: deterministic for temperature 0 (caches rely on it); a prompt longer than the model's
    context raises `smolgepa.errors.ContextOverflowError`; other failures raise. `model_name` names
    the model in responses. `stream` may replay `complete` (`smolgepa.lm.messages.CompleteOnlyEngine`).
    """

    def complete(self, request: Request) -> Response: ...


@runtime_checkable
class ClosableEngine(Engine, Protocol):
    """An engine holding a resource (a loaded model, an HTTP pool), released by `close()`; usable again after."""

    def close(self) -> None: ...


@runtime_checkable
class IdentifiedEngine(Engine, Protocol):
    """An engine that names its model for cache keys itself (`smolgepa.lm.response_cache.engine_identity`)."""

    def cache_identity(self) -> str: ...


@runtime_checkable
class KeyedEngine(Engine, Protocol):
    """An engine that names the settings deciding its answers for cache keys itself (else its
    `settings` dataclass is read; `smolgepa.lm.response_cache.engine_extras`)."""

    def cache_key_extras(self) -> dict[str, Any]: ...


# Engine settings that do not change what the model answers (or are already in the identity).
_SETTINGS_NOT_IN_KEY = frozenset(
    {"path", "n_threads", "n_threads_batch", "decode_threads", "base_url", "model", "flavour", "api_key_env",
     "timeout", "retries", "backoff", "concurrency", "more_urls"}
)  # fmt: skip


def settings_extras(settings: Any) -> dict[str, Any]:
    """Every field of a settings dataclass except connection and thread settings ({} for anything else)."""
    if settings is None or not dataclasses.is_dataclass(settings):
        return {}
    return {
        field.name: getattr(settings, field.name)
        for field in dataclasses.fields(settings)
        if field.name not in _SETTINGS_NOT_IN_KEY
    }


def smolgepa_class(path: str) -> Any:
    module_name, _, qualname = path.partition(":")
    if not module_name.startswith("smolgepa.") or not qualname:
        raise SmolgepaError(
            f"A saved cached engine names the inner engine class {path!r}; only smolgepa's own engines "
            "are restored. Rebuild the LM with smolgepa.lm.make_lm instead."
        )
    found: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found
