"""Helpers every command uses: reading `--instruction @FILE`, printing JSON, `--quiet` and the progress display."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from smolgepa.errors import SmolgepaError

if TYPE_CHECKING:
    from smolgepa.progress import Progress


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


def add_quiet_flag(parser: argparse.ArgumentParser) -> None:
    """`--quiet`: no progress on stderr (a bar on a terminal, plain lines otherwise)."""
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def command_progress(args: argparse.Namespace) -> Progress:
    """The progress display of a command: none with `--quiet` or `--json` (smolgepa.progress)."""
    from smolgepa.progress import stderr_progress

    return stderr_progress(quiet=bool(getattr(args, "quiet", False) or getattr(args, "json", False)))
