"""`smolgepa show`: the tables of a run directory, finished or not."""

from __future__ import annotations

import argparse

from smolgepa.cli.common import print_json


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `show` subcommand."""
    parser = commands.add_parser("show", help="print the tables of a run directory (finished or not)")
    parser.add_argument("run_dir", help="a run directory written by `smolgepa optimize`")
    parser.add_argument("--json", action="store_true", help="print the run summary as JSON")
    parser.set_defaults(func=cmd_show)


def cmd_show(args: argparse.Namespace) -> None:
    from smolgepa.optimize import show

    result = show(args.run_dir)
    if args.json:
        print_json(result.to_json())
    else:
        print(result.tables())
