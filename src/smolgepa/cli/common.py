"""Helpers every command uses: reading `--instruction @FILE`, printing JSON and progress lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from smolgepa.errors import SmolgepaError


def read_instruction(value: str | None) -> str | None:
    """`--instruction TEXT` or `--instruction @FILE`."""
    if value is None or not value.startswith("@"):
        return value
    path = Path(value[1:])
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SmolgepaError(f"Cannot read the instruction file {path}: {exc.strerror}.") from None


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def stderr_lines(quiet: bool) -> Callable[[str], None] | None:
    """Progress lines on stderr, or None with `--quiet`."""
    return None if quiet else (lambda line: print(line, file=sys.stderr, flush=True))
