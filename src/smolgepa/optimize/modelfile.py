"""Which model file answered a run: recorded in config.json, checked when the run is resumed."""

from __future__ import annotations

import json
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.optimize.rundir import RunDir

KEY = "model_file"


def started_format(run_dir: RunDir) -> str | None:
    """The format of the re-encoded copy a run started with (`Q8_0`, `BF16`), so that its resume answers
    from the same format on a CPU whose probe would choose another; None for any other file."""
    from smolgepa.lm.local.reencode import CANDIDATES

    saved = json.loads(run_dir.config_file.read_text(encoding="utf-8")).get(KEY) or {}
    return saved.get("format") if saved.get("format") in CANDIDATES else None


def check_model_file_record(run_dir: RunDir, current: dict[str, Any] | None, resume: bool) -> dict[str, Any] | None:
    """Record `current` (path, format, size, sha256 of the GGUF file that answers; None for a server
    student) in config.json, or, on resume, refuse a file other than the one the run started with.
    A run saved before files were recorded gets the current one recorded. Returns the file in force."""
    saved_config = json.loads(run_dir.config_file.read_text(encoding="utf-8"))
    saved = saved_config.get(KEY)
    if resume and saved and current and saved.get("sha256") != current.get("sha256"):
        raise SmolgepaError(
            f"Cannot resume {run_dir.path}: it was answered by {saved.get('path')} ({saved.get('format')}, sha256 "
            f"{str(saved.get('sha256'))[:12]}), this run would use {current['path']} ({current['format']}, sha256 "
            f"{current['sha256'][:12]}); answers would mix two models. Start a new run directory."
        )
    if current and not saved:
        extra = {key: value for key, value in saved_config.items() if key not in ("schema_version", "tool", "config")}
        run_dir.write_config(saved_config["config"], {**extra, KEY: current})
    return saved or current
