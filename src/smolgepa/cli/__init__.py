"""The `smolgepa` command line: thin commands over the library, one module per command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from smolgepa.cli import baseline, compare, data, optimize, predict, report, show, study, tasks, traces, watch
from smolgepa.cli import eval as eval_command
from smolgepa.cli.common import print_json, read_instruction
from smolgepa.cli.student_flags import add_student_flags, student_options, student_settings
from smolgepa.errors import find_user_error

__all__ = ["COMMANDS", "add_student_flags", "build_parser", "main", "print_json", "read_instruction",
           "student_options", "student_settings"]

# In the order `smolgepa --help` lists them.
COMMANDS = (tasks, eval_command, optimize, show, predict, traces, baseline, study, report, compare, data, watch)


def build_parser() -> argparse.ArgumentParser:
    """The `smolgepa` parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="smolgepa", description="GEPA prompt optimization for tiny local LMs.")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    # Label answers are short by design; DSPy's "response was truncated" warning is noise here.
    logging.getLogger("dspy.clients.lm").setLevel(logging.ERROR)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("smolgepa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        user_error = find_user_error(exc)
        if user_error is None or os.environ.get("SMOLGEPA_DEBUG"):
            raise
        print(f"smolgepa: error: {user_error}", file=sys.stderr)
        return 2
    return 0
