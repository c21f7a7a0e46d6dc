"""The student: a spec and its options, parsed and validated once.

`Student("embedded", StudentOptions(decode="scored", labels=tuple(task.labels)))` knows what kind of
student it is (`smolgepa.lm.kinds`), its decode settings, its identity in every cache key, how to
count its tokens, its size class, and makes its engine and its `dspy.LM`. `make_lm(spec, options)` is
`Student(spec, options).lm()`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from smolgepa.errors import SmolgepaError
from smolgepa.lm.kinds import ModelSpec, StudentKind, parse_model_spec, student_kind
from smolgepa.lm.options import FLAG_NAMES, StudentOptions, check_server_values
from smolgepa.lm.readings.reading import Reading

if TYPE_CHECKING:
    import dspy

    from smolgepa.lm.engines import Engine
    from smolgepa.lm.token_count import TokenCounter

SIZE_CLASSES = (
    ("135m", "about 135 million parameters (SmolLM2-135M class): tiny"),
    ("360m", "about 360 million parameters: tiny"),
    ("1.7b", "about 1.7 billion parameters: small"),
    ("0.5b", "about 0.5 billion parameters: tiny"),
)


class Student:
    """A student spec with its options, validated once: the decode mode against the labels and what
    the student's kind can do, and server settings refused for a student that runs in-process.

    The engine is made on first use and shared by every `lm()`; the model itself loads on its first request.
    """

    def __init__(self, spec: str | ModelSpec, options: StudentOptions | None = None) -> None:
        self.spec = parse_model_spec(spec) if isinstance(spec, str) else spec
        self.options = options or StudentOptions()
        self.kind: StudentKind = student_kind(self.spec.kind)
        self.options.check_decode()
        self.kind.check_decode(self.options.decode, self.options.calibrate, self.options.calibration)
        check_server_flags(self.spec, self.kind, self.options.server)
        if self.options.model_format is not None and not self.kind.reencodes(self.options):
            raise SmolgepaError(f"--model-format applies to the embedded student (or gguf:PATH with --fast-model), "
                                f"which answer from a re-encoded copy; {self.spec} does not.")
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Student({str(self.spec)!r}, reading={self.reading.text!r})"

    @property
    def text(self) -> str:
        """The spec as written in run records: `embedded`, `gguf:PATH`, `llamacpp:default@URL`, ..."""
        return str(self.spec)

    @property
    def reading(self) -> Reading:
        """How the student's answer is read."""
        return self.options.reading

    @property
    def decode(self) -> Reading:
        """The same `Reading` (the name the CLI flag `--decode` and config.json's `decode` key keep)."""
        return self.options.reading

    @property
    def is_server(self) -> bool:
        return self.kind.server

    def engine(self) -> Engine:
        """The student's DSPy engine (made once; nothing is loaded or contacted until its first request)."""
        with self._lock:
            if self._engine is None:
                self._engine = self.kind.engine(self.spec, self.options)
            return self._engine

    @property
    def identity(self) -> str:
        """The model's identity in cache keys, the same for the response cache and a run's cache."""
        return self.kind.identity(self.spec, self.engine())

    def key_extras(self) -> dict[str, Any]:
        """The decode settings that enter every cache key beside the identity."""
        from smolgepa.lm.response_cache import engine_extras

        return engine_extras(self.engine())

    def model_file(self) -> dict[str, Any] | None:
        """Which GGUF file answers an in-process student (path, format, size, sha256); None for a server."""
        path = getattr(getattr(self.engine(), "settings", None), "path", None)
        if self.is_server or not path:
            return None
        from smolgepa.lm.local.reencode import model_file_record

        return model_file_record(path)

    def token_counter(self) -> tuple[TokenCounter, str]:
        """A counter of the student's tokens and how it counts (`tokenizer` or `approximate`)."""
        return self.kind.token_counter(self.spec)

    def size_class(self) -> str:
        """A few words on how big the student is, for the reflection prompt."""
        return size_class(self.kind.model_name(self.spec))

    def lm(self) -> dspy.LM:
        """A DSPy LM for this student, usable by any DSPy program, sync or async (`acall`; see
        `smolgepa.lm.async_engine`), through the response cache when `options.cache_enabled`. It carries the decode settings as `smolgepa_decode` for reports."""
        import dspy

        from smolgepa.lm.async_engine import async_engine_for
        from smolgepa.lm.response_cache import maybe_cached

        options = self.options
        engine = maybe_cached(self.engine(), options.cache_enabled, options.cache_dir, lambda: self.identity)
        lm = dspy.LM(
            f"smolgepa/{self.spec.kind}",
            engine=engine,
            async_engine=async_engine_for(engine),
            cache=False,
            temperature=options.temperature,
            max_tokens=options.max_tokens,
            stop=list(options.stop),
            seed=options.seed,
        )
        lm.smolgepa_decode = self.reading
        return lm


def make_engine(spec: str | ModelSpec, options: StudentOptions) -> Engine:
    """The DSPy engine behind a spec (the model is not loaded until first use)."""
    return Student(spec, options).engine()


def make_lm(spec: str | ModelSpec, options: StudentOptions | None = None) -> dspy.LM:
    """A DSPy LM for a student spec, usable by any DSPy program."""
    return Student(spec, options).lm()


def size_class(name: str) -> str:
    """How big a model is, from markers in its name (`135m`, `1.7b`, ...)."""
    lowered = name.lower()
    return next((words for marker, words in SIZE_CLASSES if marker in lowered), "a small local model (size unknown)")


def check_server_flags(spec: ModelSpec, kind: StudentKind, server: Mapping[str, Any]) -> None:
    """Server settings given for a student that is not behind a server are an error (never silently unused)."""
    if kind.server or not server:
        return
    flags = ", ".join(FLAG_NAMES.get(name, name) for name in server)
    raise SmolgepaError(
        f"{flags} {'applies' if len(server) == 1 else 'apply'} only to a student behind a server; "
        f"{str(spec)!r} runs in-process. "
        "Remove them, or use a server student (llamacpp:URL, lmstudio:MODEL, openai:MODEL@URL, ...)."
    )


def server_overrides(
    student: str | ModelSpec,
    *,
    timeout: float | None = None,
    retries: int | None = None,
    api_key_env: str | None = None,
    concurrency: int | None = None,
    backoff: float | None = None,
) -> dict[str, Any]:
    """ServerSettings overrides (`StudentOptions.server`) for `student` from the settings a user gave
    (None = not given): `--timeout`, `--retries`, `--backoff`, `--api-key-env`, and `--threads` as the requests
    in flight.

    Raises SmolgepaError for an invalid value, or for `timeout`, `retries`, `backoff` or `api_key_env` given
    with an in-process student. `concurrency` is dropped for in-process students (they answer one
    request at a time whatever the thread count). Example:
    `server_overrides("llamacpp:http://127.0.0.1:8080/v1", timeout=30, concurrency=4)`.
    """
    given = {name: value for name, value in
             (("timeout", timeout), ("retries", retries), ("backoff", backoff), ("api_key_env", api_key_env))
             if value is not None}
    check_server_values(**given)
    spec = parse_model_spec(student) if isinstance(student, str) else student
    kind = student_kind(spec.kind)
    check_server_flags(spec, kind, given)
    if not kind.server:
        return {}
    if concurrency is not None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise SmolgepaError(f"--threads must be a whole number of at least 1, got {concurrency!r}.")
        given["concurrency"] = concurrency
    return given


