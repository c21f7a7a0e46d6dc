"""A disk cache of student completions shared by every run and process: a request is answered once.

`CachedEngine` wraps any DSPy engine (`complete(Request) -> Response`). Its key is a sha256 over
the model's identity (embedded: sha256 of the GGUF file and the llama-cpp-python version; server:
flavour, model and URL), the chat messages, every generation setting of the request (temperature,
max_tokens, stop, seed, ...) and the engine's decode settings (`engine_extras`: its optional
`cache_key_extras() -> dict`, else its settings dataclass minus connection and thread fields).
The same identity (`Student.identity`) and key (`request_key`) serve a run directory's replay cache
(`smolgepa.optimize.cache.RunCache`). Records are JSON in one SQLite file (WAL mode, one transaction
per write), which is safe under threads and concurrent processes.

Only deterministic requests are cached: temperature 0 (or unset: smolgepa's engines treat unset
as 0). A request with temperature > 0, tools, or token log-probabilities goes straight to the
model every time, and so does a response that is not plain text.

The cache lives in `$SMOLGEPA_CACHE_DIR`, else `$XDG_CACHE_HOME/smolgepa`, else `~/.cache/smolgepa`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from dspy.lm15 import Request, Response, TextPart

from smolgepa.errors import SmolgepaError
from smolgepa.lm.messages import CompleteOnlyEngine, request_messages, text_response
from smolgepa.lm.cache_home import CACHE_ENV, cache_dir  # noqa: F401 - re-exported
from smolgepa.lm.engines import ClosableEngine, Engine, IdentifiedEngine, KeyedEngine, settings_extras, smolgepa_class

SCHEMA_VERSION = 1
DB_NAME = "responses.sqlite3"
BUSY_TIMEOUT_S = 60.0


def engine_identity(engine: Engine, default: str | None = None) -> str:
    """The identity of the model behind `engine`, for cache keys: the one identity function of both
    caches (the response cache here, a run directory's `RunCache`), reached through `Student.identity`.

    An engine may define `cache_identity() -> str`; otherwise an engine with `settings.path`
    (embedded) is identified by its file's sha256 and the llama-cpp-python version, and one with
    `settings.base_url` (server) by flavour, model and URL; else `default` (a student kind's spec).
    """
    if isinstance(engine, IdentifiedEngine):
        return str(engine.cache_identity())
    settings = getattr(engine, "settings", None)
    path = getattr(settings, "path", None)
    if path:
        from smolgepa.lm.local.model_files import check_model_file, file_digest

        digest = file_digest(check_model_file(Path(path)))
        return f"gguf:sha256:{digest}|llama-cpp-python:{_version('llama_cpp_python')}"
    if getattr(settings, "base_url", None):
        from smolgepa.lm.servers.settings import server_identity

        return server_identity(settings)
    if default is not None:
        return default
    raise SmolgepaError(
        f"Cannot cache responses of {type(engine).__name__}: it has no model identity. "
        "Pass identity=... to CachedEngine or give the engine a cache_identity() method."
    )


def engine_extras(engine: Engine) -> dict[str, Any]:
    """Decode settings of `engine` that belong in the key: `engine.cache_key_extras()` if defined,
    else every field of a dataclass `engine.settings` except connection and thread settings.

    So a decode mode, label set or calibration switch added to the settings changes the key by itself.
    """
    if isinstance(engine, KeyedEngine):
        return dict(engine.cache_key_extras())
    return settings_extras(getattr(engine, "settings", None))


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def request_key(identity: str, request: Request, extras: dict[str, Any] | None = None) -> str:
    """sha256 of everything that decides a completion: model, messages, generation and decode settings."""
    config = dataclasses.asdict(request.config)
    payload = {
        "schema": SCHEMA_VERSION,
        "model": identity,
        "messages": request_messages(request),
        "config": config,
        "extras": extras or {},
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cacheable(request: Request) -> bool:
    """True for deterministic, text-only requests: temperature 0 (or unset), no tools, no log-probs."""
    config = request.config
    return (
        (config.temperature or 0.0) == 0.0
        and not request.tools
        and config.logprobs is None
        and config.probabilities is None
    )


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds a lock (worth trying again)."""
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class ResponseStore:
    """Key -> JSON record in a SQLite file; safe across threads (one lock) and processes (SQLite locking)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                conn = self._open()
                break
            except sqlite3.OperationalError as exc:
                # Switching a new file to WAL needs a lock SQLite does not wait for: processes opening the
                # same new cache at once get "database is locked" here at once, whatever the busy timeout.
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise self._unusable(exc) from None
                time.sleep(0.05)
            except (OSError, sqlite3.Error) as exc:
                raise self._unusable(exc) from None
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _open(self) -> sqlite3.Connection:
        """A connection to the file in WAL mode, with the table created."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS responses "
                "(key TEXT PRIMARY KEY, identity TEXT NOT NULL, created REAL NOT NULL, record TEXT NOT NULL)"
            )
        except BaseException:
            conn.close()
            raise
        return conn

    def _unusable(self, exc: Exception) -> SmolgepaError:
        return SmolgepaError(
            f"The response cache {self.path} cannot be used ({type(exc).__name__}: {exc}). "
            f"Delete that file, set {CACHE_ENV} to a writable directory, or run with --no-cache."
        )

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            try:
                row = self._connection().execute("SELECT record FROM responses WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as exc:
                raise self._unusable(exc) from None
        if row is None:
            return None
        try:
            record = json.loads(row[0])
        except ValueError:
            return None  # a damaged record is a miss; the next put replaces it
        return record if isinstance(record, dict) else None

    def put(self, key: str, identity: str, record: dict[str, Any]) -> None:
        text = json.dumps(record, ensure_ascii=False)  # in its own order: label scores in the task's
        with self._lock:
            try:
                self._connection().execute(
                    "INSERT OR REPLACE INTO responses (key, identity, created, record) VALUES (?, ?, ?, ?)",
                    (key, identity, time.time(), text),
                )
            except sqlite3.Error as exc:
                raise self._unusable(exc) from None

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


@dataclass
class CacheStats:
    """Requests answered from the cache (hits), by the model and stored (misses), or never cached (bypassed)."""

    hits: int = 0
    misses: int = 0
    bypassed: int = 0

    def to_json(self) -> dict[str, int]:
        return dataclasses.asdict(self)


class CachedEngine(CompleteOnlyEngine):
    """A DSPy engine answering repeated deterministic requests from a disk cache, else from `inner`.

    Attributes the wrapper does not define (`settings`, `llama()`, ...) are looked up on `inner`.
    Two threads asking the same new request at once may both call the model; both store the same record.
    """

    def __init__(
        self, inner: Engine, identity: str | Callable[[], str] | None = None, directory: str | Path | None = None
    ) -> None:
        self.inner = inner
        self.directory = Path(directory) if directory is not None else cache_dir()
        self.store = ResponseStore(self.directory / DB_NAME)
        self.stats = CacheStats()
        self._identity: str | Callable[[], str] | None = identity
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("inner", "store", "directory", "stats"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def identity(self) -> str:
        """The model identity in every key (computed on first use: hashing a model file takes a moment)."""
        with self._lock:
            if self._identity is None:
                self._identity = engine_identity(self.inner)
            elif callable(self._identity):
                self._identity = str(self._identity())  # a Student's identity, computed on first use
            return self._identity

    @property
    def model_name(self) -> str:
        return str(getattr(self.inner, "model_name", self.identity))

    def key(self, request: Request) -> str:
        return request_key(self.identity, request, engine_extras(self.inner))

    def complete(self, request: Request) -> Response:
        if not cacheable(request):
            self._count("bypassed")
            return self.inner.complete(request)
        key = self.key(request)
        record = self.store.get(key)
        if record is not None:
            self._count("hits")
            return _response_from_record(record, self.model_name)
        response = self.inner.complete(request)
        self._count("misses")
        record = _record_from_response(response)
        if record is not None:
            self.store.put(key, self.identity, record)
        return response

    def _count(self, what: str) -> None:
        with self._lock:
            setattr(self.stats, what, getattr(self.stats, what) + 1)

    def close(self) -> None:
        self.store.close()
        if isinstance(self.inner, ClosableEngine):
            self.inner.close()

    def dump_state(self) -> dict[str, Any]:
        """The inner engine's class and state, the identity and the cache directory."""
        cls = type(self.inner)
        return {
            "inner_class": f"{cls.__module__}:{cls.__qualname__}",
            "inner_state": self.inner.dump_state(),
            "identity": self.identity,
            "directory": str(self.directory),
        }

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> CachedEngine:
        """Rebuild from `dump_state`; the inner engine must be one of smolgepa's own classes."""
        inner_cls = smolgepa_class(str(state.get("inner_class", "")))
        return cls(inner_cls.load_state(state["inner_state"]), state.get("identity"), state.get("directory"))


def _record_from_response(response: Response) -> dict[str, Any] | None:
    """A JSON record of a plain-text response, or None if it must not be cached."""
    parts = response.message.parts
    if response.finish_reason == "error" or not all(isinstance(part, TextPart) for part in parts):
        return None
    provider_data = response.provider_data
    if provider_data is not None:
        try:
            if json.loads(json.dumps(provider_data)) != provider_data:
                return None
        except (TypeError, ValueError):
            return None
    return {
        "text": "".join(part.text for part in parts),
        "finish_reason": response.finish_reason,
        "input_tokens": response.usage.input_tokens,
        "output_tokens": response.usage.output_tokens,
        "provider_data": provider_data,
    }


def _response_from_record(record: dict[str, Any], model: str) -> Response:
    return text_response(
        str(record.get("text") or ""),
        model=model,
        input_tokens=record.get("input_tokens"),
        output_tokens=record.get("output_tokens"),
        finish_reason=str(record.get("finish_reason") or "stop"),
        provider_data=record.get("provider_data"),
    )


def maybe_cached(
    engine: Engine, enabled: bool, directory: str | Path | None = None, identity: str | Callable[[], str] | None = None
) -> Engine:
    """`engine` wrapped in a CachedEngine when `enabled` (the CLI's --no-cache turns it off)."""
    return CachedEngine(engine, identity, directory) if enabled else engine
