"""`smolgepa baseline`: detectors without a language model on a trace task, reported like `eval`.

Methods: `rules`, the published agent-stuck detector rules; `evidence`, logistic regression on the
counted evidence figures; `decision-list`, the counting rules the `rules` proposer writes, applied
mechanically. The last two are fitted on the train split only.
"""

from __future__ import annotations

import argparse

from smolgepa.evaluation.baselines import METHODS, fitted_report, rule_report
from smolgepa.cli.common import print_json


def cmd_baseline(args: argparse.Namespace) -> None:
    from smolgepa.evaluation.display import render_report

    method = args.method
    report = rule_report(args.task, args.split) if method == "rules" else fitted_report(args.task, args.split, method)
    print_json(report.to_json()) if args.json else print(render_report(report))


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `baseline` subcommand."""
    parser = commands.add_parser("baseline", help="detectors without a language model on a trace task")
    parser.add_argument("--task", required=True, help="a trace task: built-in name or YAML path")
    parser.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    parser.add_argument("--method", default="rules", choices=METHODS,
                        help="rules: published stuck-detector rules (default); evidence: logistic regression on "
                        "the evidence figures; decision-list: counting rules fitted on train")
    parser.add_argument("--json", action="store_true", help="print one JSON object (same keys as eval)")
    parser.set_defaults(func=cmd_baseline)
