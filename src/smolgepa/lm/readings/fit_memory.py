"""What the fitted readings of one engine computed per prompt, in one place: the training anchors
(answer distributions, hidden states), the read-outs fitted on them (probe and stack weights) and the
training-calibration offsets.

Every value is keyed by the part that made it (`AnchorMemory`, `ReadoutMethod`, `StackMethod`,
`TrainCalibrated`: a tuple naming the part, its labels and its training examples' digest) and the
prompt's `calibration_key`. The engine keeps one `FitMemory`, so a value is computed once per prompt
and engine, and `snapshot`/`restore` let a run save it and a new process start from it
(`smolgepa.lm.fit_file`). Engines on the same model file (and context settings) also share what they
computed through one `SharedFits` per process (`shared_fits`): the runs of a study, or a check before
a run, fit the anchors of an instruction they share once (and `AnchorMemory` keeps each query's features
there too). Values are numpy arrays, strings, numbers and the readings' frozen fit records, so they can
be written without pickle (`fit_codec`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
Key = tuple[Any, ...]


# What one model file's SharedFits keeps at most, as counted when stored: dense kNN anchors of 300 training
# texts are ~60 MB a prompt, twice that once their probabilities are read.
SHARED_FIT_BYTES = 512 << 20


class SharedFits:
    """What every engine on one model file computed in this process, the least recently used dropped
    beyond `budget` bytes (thread-safe)."""

    def __init__(self, budget: int = SHARED_FIT_BYTES) -> None:
        self.budget = budget
        self._values: OrderedDict[Key, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Key) -> tuple[bool, Any]:
        """(True, the value) when some engine computed it, else (False, None)."""
        with self._lock:
            if key not in self._values:
                return False, None
            self._values.move_to_end(key)
            return True, self._values[key][0]

    def put(self, key: Key, value: Any) -> None:
        size = approximate_bytes(value)
        with self._lock:
            if key in self._values or size > self.budget:
                return
            self._values[key] = (value, size)
            self._bytes += size
            while self._bytes > self.budget:
                _, (_, dropped) = self._values.popitem(last=False)
                self._bytes -= dropped

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)


_SHARED: dict[Key, SharedFits] = {}
_SHARED_LOCK = threading.Lock()


def shared_fits(identity: Key) -> SharedFits:
    """The process's `SharedFits` of the model `identity` names (a file and the settings that change its numbers)."""
    with _SHARED_LOCK:
        return _SHARED.setdefault(identity, SharedFits())


def forget_shared_fits() -> None:
    """Drop every model's shared fits (engines made afterwards start as in a new process)."""
    with _SHARED_LOCK:
        _SHARED.clear()


def approximate_bytes(value: Any, depth: int = 0) -> int:
    """About how much memory `value` holds: its numpy arrays in full, 64 bytes for anything else."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if depth > 6:
        return 64
    if isinstance(value, Mapping):
        return sum(approximate_bytes(v, depth + 1) for v in value.values()) + 64
    if isinstance(value, (tuple, list)):
        return sum(approximate_bytes(v, depth + 1) for v in value) + 64
    if hasattr(value, "__dict__"):  # dataclasses and their cached properties
        return sum(approximate_bytes(v, depth + 1) for v in vars(value).values()) + 64
    if dataclasses.is_dataclass(value):  # slotted
        return sum(approximate_bytes(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)) + 64
    return 64


class FitMemory:
    """Per-prompt values of the fitted readings, computed on first use and kept (thread-safe).

    `on_fit` hears the key of each value this memory gains (computed here, or taken from `shared`, what
    other engines on the same model computed; not restored): the first is when a fit is needed, which a
    loader uses to say, once, why no saved fit served."""

    def __init__(self, on_fit: Callable[[Key], None] | None = None, shared: SharedFits | None = None) -> None:
        self._values: dict[Key, Any] = {}
        self._lock = threading.RLock()
        self._recording: list[set[Key]] = []
        self.on_fit = on_fit
        self.shared = shared
        self.computed = 0  # values gained in this process, computed or shared (restored ones not counted)
        self.taken = 0  # of them, values another engine had computed (taken from `shared`)

    def get(self, key: Key, compute: Callable[[], T]) -> T:
        """The value under `key`, computed by `compute()` on first use (under the lock: once per key)."""
        with self._lock:
            for used in self._recording:
                used.add(key)
            if key not in self._values:
                if self.on_fit is not None:
                    self.on_fit(key)
                found, value = self.shared.get(key) if self.shared is not None else (False, None)
                if found:
                    self.taken += 1
                else:
                    value = compute()
                    if self.shared is not None:
                        self.shared.put(key, value)
                self._values[key] = value
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
