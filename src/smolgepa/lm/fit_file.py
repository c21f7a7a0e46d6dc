"""What a reading fitted, saved beside a program: `program.fit.npz` in a run directory (beside its
`program.json`), `NAME.fit.npz` beside a `NAME.json` elsewhere.

The file is a numpy archive without pickle: `meta` (JSON bytes: a `FitHeader` and the encoded
`FitMemory` snapshot, `readings.fit_codec`) and the arrays it refers to. The header says what the fit
holds for: the model (`response_cache.engine_identity`: the GGUF file's sha256 and the llama-cpp-python
version), the reading settings that decide answers (`engine_extras`) and the instruction. `read_fits`
gives the saved values only when all three match, else the one reason they cannot serve.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from smolgepa.jsonfiles import atomic_stream
from smolgepa.lm.readings.fit_memory import FitMemory, Key

FIT_FILE = "program.fit.npz"
FIT_SCHEMA = 1


@dataclass(frozen=True)
class FitHeader:
    """What a saved fit holds for: the model's identity, the reading settings and the instruction."""

    model: str
    reading: dict[str, Any]
    instruction: str
    schema_version: int = FIT_SCHEMA

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FitHeader:
        return cls(str(data["model"]), dict(data["reading"]), str(data["instruction"]),
                   int(data.get("schema_version", 0)))

    def mismatch(self, saved: FitHeader) -> str:
        """Why a fit saved under `saved` cannot serve this header ("" when it can)."""
        if saved.schema_version != self.schema_version:
            return f"the saved fit has schema {saved.schema_version}, this smolgepa reads {self.schema_version}"
        if saved.model != self.model:
            return f"the saved fit is for another model file ({_short(saved.model)}; this one is {_short(self.model)})"
        if saved.reading != self.reading:
            changed = sorted(k for k in {*saved.reading, *self.reading} if saved.reading.get(k) != self.reading.get(k))
            return f"the saved fit is for other reading settings ({', '.join(changed)} changed)"
        if saved.instruction != self.instruction:
            return "the saved fit is for another prompt (the instruction changed)"
        return ""


def fit_path(source: str | Path) -> Path:
    """Where the fit of a run directory or a program file is saved."""
    where = Path(source)
    return where / FIT_FILE if where.is_dir() else where.with_name(f"{where.stem}.fit.npz")


def fits_of(engine: Any) -> FitMemory | None:
    """The fit memory of an engine or of the engine its wrappers (caches, taps) hold; None without one."""
    fits = getattr(innermost_engine(engine), "fits", None)
    return fits if isinstance(fits, FitMemory) else None


def header_for(engine: Any, instruction: str) -> FitHeader:
    """The header of a fit made by `engine` (or the engine its wrappers hold) under `instruction`."""
    from smolgepa.lm.response_cache import engine_extras, engine_identity

    inner = innermost_engine(engine)
    return FitHeader(engine_identity(inner), json.loads(json.dumps(engine_extras(inner), default=str)), instruction)


def write_fits(path: Path, header: FitHeader, values: dict[Key, Any]) -> None:
    """Save `values` (a `FitMemory.snapshot`) under `header`, atomically (temporary file, then rename)."""
    from smolgepa.lm.readings.fit_codec import encode

    arrays: dict[str, np.ndarray] = {}
    tree = encode(values, arrays)
    meta = json.dumps({"header": header.to_json(), "values": tree}, ensure_ascii=False)
    with atomic_stream(path, binary=True) as stream:
        np.savez(stream, meta=np.frombuffer(meta.encode("utf-8"), dtype=np.uint8), **arrays)


def read_fits(path: Path, header: FitHeader) -> tuple[dict[Key, Any] | None, str]:
    """The values saved at `path` if they were fitted under `header`, else None and why not."""
    from smolgepa.lm.readings.fit_codec import decode

    if not path.is_file():
        return None, f"no saved fit ({path.name})"
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(bytes(archive["meta"]).decode("utf-8"))
            reason = header.mismatch(FitHeader.from_json(meta["header"]))
            if reason:
                return None, reason
            values = decode(meta["values"], {name: archive[name] for name in archive.files if name != "meta"})
    except Exception as exc:  # noqa: BLE001 - a damaged archive raises many kinds (zip, JSON, KeyError, ...)
        return None, f"the saved fit {path.name} cannot be read ({type(exc).__name__}: {str(exc)[:80]})"
    if not isinstance(values, dict):
        return None, f"the saved fit {path.name} holds no fit"
    return values, ""


def innermost_engine(engine: Any) -> Any:
    """The engine inside any wrappers (their `inner`)."""
    while hasattr(engine, "__dict__") and vars(engine).get("inner") is not None:
        engine = vars(engine)["inner"]
    return engine


def _short(identity: str) -> str:
    """A model identity with its sha256 cut to 12 characters, for one line."""
    head, _, rest = identity.partition("sha256:")
    return f"{head}sha256:{rest[:12]}…{rest[64:]}" if rest else identity
