"""smolgepa: DSPy's GEPA prompt optimizer for tiny local language models."""

import os

# The one place OMP_WAIT_POLICY is set. llama.cpp's OpenMP threads spin while waiting by default; when
# other programs share the cores (tests, servers, a second evaluation) that made one completion go
# from ~1 s to 45-80 s on a 2-core machine (measured). libgomp reads the variable once, when
# llama_cpp's libraries load; every smolgepa module is imported after this package, so it is set
# before smolgepa first imports llama_cpp. A value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from typing import TYPE_CHECKING, Any  # noqa: E402

from smolgepa.errors import SmolgepaError  # noqa: E402

if TYPE_CHECKING:
    from pathlib import Path

    from smolgepa.use.classifier import Classifier

__version__ = "0.1.0"
__all__ = ["PlainTextAdapter", "PlainTextProposer", "SmolgepaError", "__version__", "gepa", "load", "make_lm"]

# The DSPy-facing names, imported on first use: `import smolgepa` stays light (no DSPy, no model).
_LAZY = {
    "PlainTextAdapter": "smolgepa.adapter.plain_text",
    "PlainTextProposer": "smolgepa.optimize.plain_proposer",
    "gepa": "smolgepa.optimize.program_gepa",
    "make_lm": "smolgepa.lm.student",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'smolgepa' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)


def load(path: "str | Path", task: "str | Path | None" = None, **settings: Any) -> "Classifier":
    """A classifier from a run directory or program.json: `load(RUN_DIR)("text")` is the label
    (`smolgepa.use.classifier`). Nothing is imported or loaded until this is called."""
    from smolgepa.use.classifier import load as load_classifier

    return load_classifier(path, task, **settings)
