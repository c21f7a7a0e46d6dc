"""What the fitted readings of one engine computed per prompt, in one place: the training anchors
(answer distributions, hidden states), the read-outs fitted on them (probe and stack weights) and the
training-calibration offsets.

Every value is keyed by the part that made it (`AnchorMemory`, `ReadoutMethod`, `StackMethod`,
`TrainCalibrated`: a tuple naming the part, its labels and its training examples' digest) and the
prompt's `calibration_key`. The engine keeps one `FitMemory`, so a value is computed once per prompt
and process, and `snapshot`/`restore` let a run save it and a new process start from it
(`smolgepa.lm.fit_file`). Values are numpy arrays, strings, numbers and the readings' frozen fit
records, so they can be written without pickle (`fit_codec`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
Key = tuple[Any, ...]


class FitMemory:
    """Per-prompt values of the fitted readings, computed on first use and kept (thread-safe).

    `on_fit` hears the key of each value computed here (not restored): the first is when a fit starts,
    which a loader uses to say, once, why no saved fit served."""

    def __init__(self, on_fit: Callable[[Key], None] | None = None) -> None:
        self._values: dict[Key, Any] = {}
        self._lock = threading.RLock()
        self._recording: list[set[Key]] = []
        self.on_fit = on_fit
        self.computed = 0  # values computed in this process (restored ones not counted)

    def get(self, key: Key, compute: Callable[[], T]) -> T:
        """The value under `key`, computed by `compute()` on first use (under the lock: once per key)."""
        with self._lock:
            for used in self._recording:
                used.add(key)
            if key not in self._values:
                if self.on_fit is not None:
                    self.on_fit(key)
                self._values[key] = compute()
                self.computed += 1
            return self._values[key]

    def __contains__(self, key: Key) -> bool:
        with self._lock:
            return key in self._values

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    @contextmanager
    def recording(self) -> Iterator[set[Key]]:
        """The keys asked for inside the block (what one candidate's answers read)."""
        used: set[Key] = set()
        with self._lock:
            self._recording.append(used)
        try:
            yield used
        finally:
            with self._lock:
                self._recording.remove(used)

    def snapshot(self, keys: Sequence[Key] | set[Key] | None = None) -> dict[Key, Any]:
        """The values held (only those under `keys` when given), for saving."""
        with self._lock:
            chosen = self._values if keys is None else {k: v for k, v in self._values.items() if k in keys}
            return dict(chosen)

    def restore(self, values: Mapping[Key, Any]) -> None:
        """Take saved values as if computed here (a value already held stays)."""
        with self._lock:
            for key, value in values.items():
                self._values.setdefault(tuple(key), value)


def train_digest(pairs: Sequence[Sequence[str]]) -> str:
    """sha256 of the (text, label) pairs, for cache and fit keys."""
    return hashlib.sha256(json.dumps([list(p) for p in pairs], ensure_ascii=False).encode("utf-8")).hexdigest()
