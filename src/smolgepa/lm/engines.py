"""smolgepa's extension points as Protocols: what a student engine, a reflection backend and a proposer
must do. Built-in and user classes satisfy them structurally (no base class needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from dspy.lm15 import Request, Response

    from smolgepa.lm.decode import LabelScores
    from smolgepa.optimize.cache import ReflectionReply


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
class ScoringEngine(Engine, Protocol):
    """An engine that can score every label without generating (`decode` scored, channel, knn, ensemble).

    Contract: `score_messages(messages, reading)` returns `LabelScores` over the engine's labels; the
    chosen label is what `complete` answers for the same messages. `reading` names another scoring
    method a candidate asked for (`smolgepa.reading`), None for the engine's own.
    """

    def score_messages(self, messages: list[dict[str, str]], reading: str | None = None) -> LabelScores: ...


@runtime_checkable
class IdentifiedEngine(Engine, Protocol):
    """An engine that names its model for cache keys itself (`smolgepa.lm.cache.engine_identity`)."""

    def cache_identity(self) -> str: ...


@runtime_checkable
class KeyedEngine(Engine, Protocol):
    """An engine that names the settings deciding its answers for cache keys itself (else its
    `settings` dataclass is read; `smolgepa.lm.cache.engine_extras`)."""

    def cache_key_extras(self) -> dict[str, Any]: ...


@runtime_checkable
class ReflectionBackend(Protocol):
    """Turns a plain-text reflection prompt into a plain-text answer.

    Contract: never raises for a failed call; the failure is `ReflectionReply(error=...)`, so a failed
    reflection is a failed proposal, not a crashed run.
    """

    def __call__(self, prompt: str) -> ReflectionReply: ...


@runtime_checkable
class Proposer(Protocol):
    """GEPA's instruction proposer (`ProposalFn`): new texts for `components_to_update`.

    Contract: returns {component: new instruction} for the components it changed, or {} when it has
    nothing new; never raises (failures are recorded in the journal as failed proposals).
    """

    def __call__(
        self,
        candidate: dict[str, str],
        reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
        components_to_update: list[str],
    ) -> dict[str, str]: ...
