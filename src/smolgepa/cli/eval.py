"""`smolgepa eval`: a student on a task split, with accuracy, interval, confusions and diagnostics."""

from __future__ import annotations

import argparse

from smolgepa.cli.common import add_quiet_flag, command_progress, print_json, read_instruction
from smolgepa.cli.student_flags import add_student_flags, student_options

RENDER_HELP = "rendering of trace inputs (summary: a few lines of counted evidence)"
INSTRUCTION_HELP = "instruction text, or @FILE (default: the task's seed instruction)"


def add_task_flags(parser: argparse.ArgumentParser, required: bool = True,
                   json_help: str = "print one JSON object (no progress)") -> None:
    """`--task`, `--render`, `--json` and `--quiet`, for commands that run a student on one task."""
    parser.add_argument("--task", required=required, help="built-in task name or path to a task YAML file")
    parser.add_argument("--render", choices=["plain", "annotated", "summary"], help=RENDER_HELP)
    parser.add_argument("--json", action="store_true", help=json_help)
    add_quiet_flag(parser)


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `eval` subcommand."""
    parser = commands.add_parser("eval", help="evaluate a student on a task split")
    add_task_flags(parser)
    parser.add_argument("--split", default="val", choices=["train", "val", "test", "all"])
    parser.add_argument("--instruction", help=INSTRUCTION_HELP)
    add_student_flags(parser)
    parser.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> None:
    from smolgepa.evaluation.display import render_report
    from smolgepa.evaluation.evaluate import evaluate
    from smolgepa.lm import make_lm, train_pairs
    from smolgepa.tasks import load_task

    task = load_task(args.task, render=args.render)
    lm = make_lm(args.student, student_options(args, list(task.labels), train_pairs(task)))
    report = evaluate(
        task,
        lm,
        task.split(args.split),
        read_instruction(args.instruction),
        student=args.student,
        split=args.split,
        threads=args.threads,
        progress=command_progress(args).counter(f"eval {task.name} {args.split}"),
    )
    if args.json:
        print_json(report.to_json())
    else:
        print(render_report(report))
