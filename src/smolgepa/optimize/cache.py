"""Call caches kept in the run directory, so that a resumed run repeats no finished work.

`RunCache` answers repeated student requests from `cache/student.jsonl`. Its key is the response
cache's own (`smolgepa.lm.response_cache.request_key`: the student's identity, the messages, every generation
setting and the decode settings): the messages hold the instruction and the example's input, so the
key is in effect "instruction hash + example" and exact. Run directories written before it keyed
records another way (`legacy_run_key`); a resumed run still finds those. Reflection calls are keyed
by the backend and the prompt. Both caches also make an interrupted run replay to exactly the same state.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from dspy.lm15 import Request, Response

from smolgepa.errors import ContextOverflowError
from smolgepa.lm.response_cache import request_key
from smolgepa.lm.messages import request_messages, text_response
from smolgepa.lm.engines import ClosableEngine
from smolgepa.optimize.rundir import JsonlAppender, Redactor, read_jsonl

if TYPE_CHECKING:
    from smolgepa.lm.student import Student
    from smolgepa.lm.engines import Engine

log = logging.getLogger(__name__)
OVERFLOW_FINISH = "context_overflow"  # finish reason recorded for a prompt that did not fit


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def instruction_hash(instruction: str) -> str:
    """A short, stable id for an instruction text."""
    return sha256(instruction)[:12]


class JsonlCache:
    """A key -> record map backed by an append-only JSONL file (the last record of a key wins)."""

    def __init__(self, path: Path, redact: Redactor, guard: Callable[[], None] | None = None) -> None:
        self._records = {record["key"]: record for record in read_jsonl(path) if "key" in record}
        self._appender = JsonlAppender(path, redact, guard)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._records.get(key)

    def put(self, key: str, record: dict[str, Any]) -> None:
        full = {"key": key, **record}
        with self._lock:
            self._appender.append(full)
            self._records[key] = full


@dataclass
class CallCounter:
    """Calls asked for, how many the run cache answered, and the seconds the others took in this process."""

    calls: int = 0
    cached: int = 0
    seconds: float = 0.0
    context_overflows: int = 0  # prompts that did not fit the student's context window

    def to_json(self) -> dict[str, Any]:
        counts = {"calls": self.calls, "cached": self.cached, "seconds": round(self.seconds, 3)}
        if self.context_overflows:
            counts["context_overflows"] = self.context_overflows
        return counts


class StudentCallFailed(Exception):
    """Raised by the cached engine after the student failed once: the run must stop, not score zeros."""


class RunCache:
    """A DSPy engine that serves repeated student requests from the run directory.

    The first student failure is kept in `failure` and every later call fails fast, because
    DSPy's evaluation would otherwise score failed calls as wrong answers and go on. A prompt too
    long for the student's context window is different: it is a property of that candidate and
    example, so it gets an empty answer (scored wrong, recorded, replayed on resume) and the run goes on.
    `legacy_identity` (a resumed run) also finds records written under the earlier key format.
    """

    def __init__(
        self,
        inner: Engine,
        cache: JsonlCache,
        identity: str,
        extras: dict[str, Any] | None = None,
        legacy_identity: str | None = None,
    ) -> None:
        self.inner = inner
        self.cache = cache
        self.identity = identity
        self.extras = dict(extras or {})
        self.legacy_identity = legacy_identity
        self.counter = CallCounter()
        self.failure: BaseException | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_student(cls, student: Student, cache: JsonlCache, resume: bool = False) -> RunCache:
        """The run cache of `student`'s engine, keyed like its response cache; a resumed run also
        reads the keys of run directories written before."""
        legacy = legacy_run_identity(student) if resume else None
        return cls(student.engine(), cache, student.identity, student.key_extras(), legacy)

    @property
    def model_name(self) -> str:
        return str(getattr(self.inner, "model_name", self.identity))

    def key(self, request: Request) -> str:
        """The response cache's key of `request` (smolgepa.lm.response_cache.request_key)."""
        return request_key(self.identity, request, self.extras)

    def _lookup(self, request: Request) -> tuple[str, dict[str, Any] | None]:
        key = self.key(request)
        hit = self.cache.get(key)
        if hit is None and self.legacy_identity is not None:
            hit = self.cache.get(legacy_run_key(self.legacy_identity, request))
        return key, hit

    def complete(self, request: Request) -> Response:
        if self.failure is not None:
            raise StudentCallFailed(f"the student failed earlier in this run: {self.failure}")
        if request.config.logprobs or request.config.probabilities:
            return self.inner.complete(request)  # token probabilities are not cached
        key, hit = self._lookup(request)
        if hit is not None:
            with self._lock:
                self.counter.calls += 1
                self.counter.cached += 1
                self.counter.context_overflows += hit.get("finish_reason") == OVERFLOW_FINISH
            return text_response(
                hit["text"],
                model=self.model_name,
                input_tokens=hit.get("input_tokens"),
                output_tokens=hit.get("output_tokens"),
                finish_reason=hit.get("finish_reason", "stop"),
            )
        started = time.monotonic()
        overflowed = False
        try:
            response = self.inner.complete(request)
        except ContextOverflowError as exc:
            response, overflowed = self._overflow_answer(exc), True
        except BaseException as exc:
            self.failure = exc
            raise
        seconds = time.monotonic() - started
        text = "".join(getattr(part, "text", "") or "" for part in response.message.parts)
        messages = request_messages(request)
        self._record(
            key,
            {
                "instruction_sha": instruction_hash(messages[0]["content"]),
                "input_sha": instruction_hash(messages[-1]["content"]),
                "text": text,
                "finish_reason": OVERFLOW_FINISH if overflowed else response.finish_reason,
                "input_tokens": response.usage.input_tokens,
                "output_tokens": response.usage.output_tokens,
                "seconds": round(seconds, 4),
            },
        )
        with self._lock:
            self.counter.calls += 1
            self.counter.seconds += seconds
        return response

    def _record(self, key: str, record: dict[str, Any]) -> None:
        """Keep a finished call; if it cannot be kept (a full disk), the run must stop like on a failed call."""
        try:
            self.cache.put(key, record)
        except BaseException as exc:
            self.failure = exc
            raise

    def _overflow_answer(self, exc: ContextOverflowError) -> Response:
        with self._lock:
            self.counter.context_overflows += 1
            first = self.counter.context_overflows == 1
        if first:
            log.warning(
                "%s That answer counts as wrong and the run goes on; later ones are counted in the summary "
                "(calls.student.context_overflows).", exc
            )
        return text_response("", model=self.model_name, finish_reason=OVERFLOW_FINISH)

    def stream(self, request: Request):  # noqa: ANN201 - DSPy's engine protocol
        from dspy.lm15 import response_to_events

        return response_to_events(self.complete(request))

    def close(self) -> None:
        if isinstance(self.inner, ClosableEngine):
            self.inner.close()


def legacy_run_key(identity: str, request: Request) -> str:
    """The key run directories written before `RunCache` (2026-12-01) stored student calls under."""
    config = request.config
    payload = {
        "model": identity,
        "messages": request_messages(request),
        "max_tokens": config.max_tokens,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "stop": list(config.stop),
        "seed": config.seed,
        "response_format": repr(config.response_format),
        "extensions": repr(config.extensions),
    }
    return sha256(json.dumps(payload, sort_keys=True))


def legacy_run_identity(student: Student) -> str:
    """The student identity in those earlier keys: the spec (with the file's name and digest for a local
    model), then the decode settings that changed answers."""
    from smolgepa.lm.local.model_files import embedded_model_path, file_digest

    spec, options = student.spec, student.options
    identity = str(spec)
    if spec.kind in ("embedded", "gguf"):
        path = embedded_model_path() if spec.kind == "embedded" else Path(spec.path)
        if path.is_file():
            identity = f"{spec.kind}:{path.name}:{file_digest(path)}"
    if options.decode != "free":
        identity += f"|decode={options.decode}" + ("+calibrate" if options.calibrate else "")
    if options.calibrate and options.calibration != "content-free":
        identity += f"-{options.calibration}"
    if options.decode == "knn":
        identity += f"|knn_k={options.knn_k}"
    return identity


@dataclass(frozen=True)
class ReflectionReply:
    """What a reflection backend answered: text (possibly empty) or an error, and how it ended."""

    text: str = ""
    finish_reason: str = "stop"
    error: str | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReflectionReply:
        return cls(
            text=data.get("text") or "",
            finish_reason=data.get("finish_reason") or "stop",
            error=data.get("error"),
            seconds=float(data.get("seconds") or 0.0),
            notes=tuple(data.get("notes") or ()),
        )


@runtime_checkable
class ReflectionBackend(Protocol):
    """Turns a plain-text reflection prompt into a plain-text answer.

    Contract: never raises for a failed call; the failure is `ReflectionReply(error=...)`, so a failed
    reflection is a failed proposal, not a crashed run.
    """

    def __call__(self, prompt: str) -> ReflectionReply: ...


class CachedReflector:
    """Calls a reflection backend once per distinct prompt; answers and failures are both kept."""

    def __init__(self, backend: ReflectionBackend, identity: str, cache: JsonlCache) -> None:
        self.backend = backend
        self.identity = identity
        self.cache = cache
        self.counter = CallCounter()

    def __call__(self, prompt: str) -> tuple[ReflectionReply, str]:
        """The reply and the cache key (which names the prompt in the run records)."""
        key = sha256(json.dumps({"backend": self.identity, "prompt": prompt}))
        hit = self.cache.get(key)
        if hit is not None:
            reply = ReflectionReply.from_json(hit["reply"])
            self.counter.calls += 1
            self.counter.cached += 1
            return reply, key
        reply = self.backend(prompt)
        self.cache.put(key, {"backend": self.identity, "prompt": prompt, "reply": reply.to_json()})
        self.counter.calls += 1
        self.counter.seconds += reply.seconds
        return reply, key
