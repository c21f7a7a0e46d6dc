"""`smolgepa study FILE`: run a grid of tasks x students x seeds, then write its report."""

from __future__ import annotations

import argparse

from smolgepa.cli.common import print_json, command_progress
from smolgepa.errors import SmolgepaError


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `study` subcommand."""
    study = commands.add_parser(
        "study", help="run a grid of tasks x students x seeds (each cell a run directory), then write a report"
    )
    study.add_argument("file", help="a study YAML file (see examples/)")
    study.add_argument("--out", help="study directory (default: the file's out:, else studies/NAME); "
                       "running again resumes: finished cells are skipped")
    study.add_argument("--no-report", action="store_true", help="run the cells only")
    study.add_argument("--quiet", action="store_true", help="no progress on stderr (a bar on a terminal, plain lines otherwise)")
    study.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                       help="run each unfinished cell as a Ray task: on the cluster at ADDRESS (as ray.init takes "
                       "it, e.g. 127.0.0.1:6379 or auto), else on a local Ray instance; needs smolgepa[ray]")
    study.add_argument("--json", action="store_true", help="print one JSON object (cells, statuses, report paths)")
    study.set_defaults(func=cmd_study)


def cmd_study(args: argparse.Namespace) -> None:
    from smolgepa.studies.study_file import load_study
    from smolgepa.studies.study_run import run_study

    study = load_study(args.file)
    if args.ray is not None:
        from smolgepa.studies.study_ray import run_study_ray

        result = run_study_ray(study, args.out, args.ray or None, progress=command_progress(args),
                               report=not args.no_report)
    else:
        result = run_study(study, args.out, progress=command_progress(args), report=not args.no_report)
    if args.json:
        print_json(result.to_json())
    else:
        for cell in result.cells:
            print(f"{cell.name}: {cell.status}" + (f" ({cell.error})" if cell.error else ""))
        if result.html:
            print(f"HTML report: {result.html}")
            print(f"Markdown report: {result.markdown}")
    if result.failed:
        raise SmolgepaError(
            f"{len(result.failed)} of {len(result.cells)} cells failed (listed above). Fix the cause and run "
            f"`smolgepa study {args.file}" + (f" --out {args.out}" if args.out else "") + "` again: "
            "finished cells are skipped."
        )
