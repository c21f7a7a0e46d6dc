"""Where smolgepa keeps its caches on disk (responses, converted models)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "SMOLGEPA_CACHE_DIR"


def cache_dir() -> Path:
    """Where smolgepa keeps caches (responses, converted models); not created here."""
    explicit = os.environ.get(CACHE_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "smolgepa"
