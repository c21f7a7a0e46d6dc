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
        entry = {"name": name, "labels": list(task.labels), "counts": counts, "input_format": task.input_format}
        if task.meta.get("provenance"):
            entry["source"] = task.meta["provenance"]
        data.append(entry)
        per_split = [" ".join(f"{label}={count}" for label, count in counts[split].items()) for split in counts]
        rows.append([name, task.input_format, *per_split])
    if args.json:
        print_json(data)
    else:
        print(table(["task", "input", "train", "val", "test"], rows))
        sourced = [entry for entry in data if "source" in entry]
        if sourced:
            print("\nPublic data (details in the provenance file beside each task's data):")
            for entry in sourced:
                source = entry["source"]
                where = f"{source.get('repository', '?')} @ {source.get('commit', '?')[:12]}"
                print(f"  {entry['name']}: {source.get('dataset', '?')}; {where}; licence {source.get('licence', '?')}")
