"""`smolgepa report DIR`: the Markdown and self-contained HTML report of a run or study directory."""

from __future__ import annotations

import argparse
import json


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `report` subcommand."""
    report = commands.add_parser(
        "report", help="write the Markdown and self-contained HTML report of a run or study directory"
    )
    report.add_argument("directory", metavar="RUN_OR_STUDY_DIR", help="a run directory or a study directory")
    report.add_argument("--html", help="HTML file to write (default DIR/report.html when neither --html nor --md)")
    report.add_argument("--md", help="Markdown file to write, plots beside it in STEM-plots/ "
                        "(default DIR/report.md when neither --html nor --md)")
    report.add_argument("--json", action="store_true", help="print the written paths as JSON")
    report.set_defaults(func=cmd_report)


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
