"""`smolgepa predict RUN_DIR|program.json [FILE.jsonl|-]`: the optimized candidate on new inputs, JSONL in and out."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO, Any

from smolgepa.cli.common import add_quiet_flag, command_progress
from smolgepa.cli.student_flags import add_student_flags, given_student_settings
from smolgepa.errors import SmolgepaError


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `predict` subcommand."""
    parser = commands.add_parser("predict", help="answer new inputs (JSONL) with the best candidate of a run")
    parser.add_argument("source", help="a run directory written by `smolgepa optimize`, or a program.json")
    parser.add_argument("input", nargs="?", default="-",
                        help='JSONL input, one {"id": ..., "text": ...} (or the task\'s input field, or a trace) '
                             "per line; - or nothing: standard input")
    parser.add_argument("--task", help="the task a program.json outside a run directory answers "
                        "(default: the run's)")
    add_student_flags(parser, unset=True)  # default: the run's settings; the flags given replace them
    add_quiet_flag(parser)
    parser.set_defaults(func=cmd_predict)


def cmd_predict(args: argparse.Namespace) -> None:
    from smolgepa.use.classifier import load
    from smolgepa.use.predict_stream import predict_lines

    progress = command_progress(args)
    classifier = load(args.source, args.task, on_note=progress.say, **given_student_settings(args))
    total = _count_lines(args.input) if args.input != "-" else None
    progress.start("predict", total, unit="line")
    stream = _open_input(args.input)
    try:
        counts = predict_lines(
            classifier, stream, _write_line, threads=classifier.optimized.settings.threads or 1,
            on_error=lambda message: progress.warn(f"smolgepa: skipped {message}"), on_answer=progress.advance,
        )
    finally:
        progress.close()
        if stream is not sys.stdin:
            stream.close()
        classifier.close()
    if counts.failed:
        raise SmolgepaError(f"{counts.failed} of {counts.answered + counts.failed} input lines could not be "
                            "answered (their output lines hold the error); fix them and run those again.")


def _write_line(output: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(output, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _open_input(name: str) -> IO[str]:
    if name == "-":
        return sys.stdin
    try:
        return Path(name).open(encoding="utf-8-sig", newline="\n")
    except OSError as exc:
        raise SmolgepaError(f"Cannot read the input file {name}: {exc.strerror}.") from None


def _count_lines(name: str) -> int | None:
    """Non-blank lines of the input file (the progress bar's total), None if it cannot be read."""
    try:
        with Path(name).open(encoding="utf-8-sig", errors="replace") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return None
