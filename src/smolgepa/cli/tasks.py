"""`smolgepa tasks`: the built-in tasks with label counts per split."""

from __future__ import annotations

import argparse

from smolgepa.cli.common import print_json


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `tasks` subcommand."""
    parser = commands.add_parser("tasks", help="list built-in tasks with label counts per split")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=cmd_tasks)


def cmd_tasks(args: argparse.Namespace) -> None:
    from smolgepa.evaluation.display import table
    from smolgepa.tasks import builtin_task_names, load_task

    rows, data = [], []
    for name in builtin_task_names():
        task = load_task(name)
        counts = task.label_counts()
        data.append({"name": name, "labels": list(task.labels), "counts": counts, "input_format": task.input_format})
        per_split = [" ".join(f"{label}={count}" for label, count in counts[split].items()) for split in counts]
        rows.append([name, task.input_format, *per_split])
    if args.json:
        print_json(data)
    else:
        print(table(["task", "input", "train", "val", "test"], rows))
