"""`smolgepa study FILE` and `smolgepa report DIR`: parse, call the library, print."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from smolgepa.errors import SmolgepaError


def register(subparsers: Any) -> None:
    """Add the `study` and `report` subcommands to the `smolgepa` parser."""
    study = subparsers.add_parser(
        "study", help="run a grid of tasks x students x seeds (each cell a run directory), then write a report"
    )
    study.add_argument("file", help="a study YAML file (see examples/)")
    study.add_argument("--out", help="study directory (default: the file's out:, else studies/NAME); "
                       "running again resumes: finished cells are skipped")
    study.add_argument("--no-report", action="store_true", help="run the cells only")
    study.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    study.add_argument("--json", action="store_true", help="print one JSON object (cells, statuses, report paths)")
    study.set_defaults(func=cmd_study)

    report = subparsers.add_parser(
        "report", help="write the Markdown and self-contained HTML report of a run or study directory"
    )
    report.add_argument("directory", metavar="RUN_OR_STUDY_DIR", help="a run directory or a study directory")
    report.add_argument("--html", help="HTML file to write (default DIR/report.html when neither --html nor --md)")
    report.add_argument("--md", help="Markdown file to write, plots beside it in STEM-plots/ "
                        "(default DIR/report.md when neither --html nor --md)")
    report.add_argument("--json", action="store_true", help="print the written paths as JSON")
    report.set_defaults(func=cmd_report)


def cmd_study(args: argparse.Namespace) -> None:
    from smolgepa.study import load_study, run_study

    study = load_study(args.file)
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    result = run_study(study, args.out, progress=progress, report=not args.no_report)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
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


def cmd_report(args: argparse.Namespace) -> None:
    from smolgepa.report import write_report

    files = write_report(args.directory, html=args.html, markdown=args.md)
    if args.json:
        print(json.dumps({"html": str(files.html) if files.html else None,
                          "markdown": str(files.markdown) if files.markdown else None}))
        return
    if files.html:
        print(f"HTML report: {files.html}")
    if files.markdown:
        print(f"Markdown report: {files.markdown}")


if __name__ == "__main__":  # python -m smolgepa.cli_study ...
    from smolgepa.cli import main

    sys.exit(main())
