"""The student settings a user gives (the flags `eval`, `compare` and `optimize` share, the same keys
in a study's settings), and the one place they become `StudentOptions`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smolgepa.lm import StudentOptions


@dataclass(frozen=True)
class StudentSettings:
    """How to run the student, as given (None: not given, the library default applies).

    `cache` turns on the disk response cache (smolgepa.lm.response_cache; the CLI does unless `--no-cache`),
    `exact_model` answers from the model file as given (the embedded default is a faster re-encoding of
    the shipped file, `smolgepa.lm.local.reencode`), `model_format` pins that re-encoding's format instead of
    the one this CPU's probe chooses, `fast_model` (deprecated) re-encodes a gguf:PATH student too,
    `threads` is the number of requests in flight for a server student. Example: `StudentSettings("embedded", decode="scored").options(task.labels)`.
    """

    student: str = "embedded"
    max_tokens: int | None = None
    decode: str = "free"
    calibrate: bool = False
    calibration: str = "content-free"
    knn_k: int | None = None
    timeout: float | None = None
    retries: int | None = None
    backoff: float | None = None
    api_key_env: str | None = None
    threads: int | None = None
    cache: bool = False
    exact_model: bool = False
    fast_model: bool = False
    model_format: str | None = None

    def server(self) -> dict[str, Any]:
        """ServerSettings overrides (empty for an in-process student); raises for bad values and for
        server settings given to an in-process student."""
        from smolgepa.lm.student import server_overrides

        return server_overrides(self.student, timeout=self.timeout, retries=self.retries, backoff=self.backoff,
                                api_key_env=self.api_key_env, concurrency=self.threads)

    def options(self, labels: Sequence[str], train_examples: Sequence[tuple[str, str]] = ()) -> StudentOptions:
        """The StudentOptions for these settings; `train_examples` feed knn, ensemble and calibration
        on train (`train_pairs(task)`)."""
        from smolgepa.lm import StudentOptions

        given: dict[str, Any] = {}
        if self.calibrate:
            given.update(calibrate=True, calibration=self.calibration)
        if self.knn_k is not None:
            given["knn_k"] = self.knn_k
        if self.max_tokens is not None:
            given["max_tokens"] = self.max_tokens
        return StudentOptions(
            decode=self.decode,
            labels=tuple(labels),
            cache_enabled=self.cache,
            exact_model=self.exact_model,
            fast_model=self.fast_model,
            model_format=self.model_format,
            server=self.server(),
            train_examples=tuple(train_examples),
            **given,
        )
