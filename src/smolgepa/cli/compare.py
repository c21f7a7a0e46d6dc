"""`smolgepa compare`: DSPy's own few-shot optimizers on the same student, data and adapter as GEPA."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from smolgepa.cli.common import command_progress, print_json
from smolgepa.cli.eval import add_task_flags
from smolgepa.cli.student_flags import add_student_flags, student_options

if TYPE_CHECKING:
    from smolgepa.evaluation.dspy_compare import MethodResult

# smolgepa.evaluation.dspy_compare.METHODS, written out so that building the parser does not import DSPy.
DEFAULT_METHODS = "labeled,bootstrap_rs,knn"


def render_results(task: str, student: str, decode: str, results: Sequence[MethodResult], cache: bool = True) -> str:
    """The comparison table, then one benchmark line per method. Seconds are compile plus test answers;
    with the response cache on, answers seen before cost nothing (time with --no-cache)."""
    from smolgepa.evaluation.dspy_compare import benchmark_line
    from smolgepa.evaluation.display import table

    rows = []
    for result in results:
        report = result.report
        low, high = report.ci95
        min_recall = result.min_recall
        rows.append([
            result.method,
            f"{100 * report.accuracy:.1f}%",
            report.n,
            f"{100 * low:.1f}-{100 * high:.1f}%",
            "-" if min_recall is None else f"{100 * min_recall:.1f}%",
            f"{result.seconds:.1f}",
            f"{result.mean_demo_turns:.1f}",
        ])
    cached = "on" if cache else "off"
    header = f"task {task} | student {student} | split test | decode {decode} | response cache {cached}"
    lines = [header, table(["method", "test acc", "n", "95% CI", "min recall", "seconds", "demos"], rows), ""]
    lines += [benchmark_line(task, result) for result in results]
    return "\n".join(lines)


def cmd_compare(args: argparse.Namespace) -> None:
    from smolgepa.evaluation.dspy_compare import CompareConfig, compare, config_json, parse_methods
    from smolgepa.lm import make_lm
    from smolgepa.tasks import load_task

    config = CompareConfig(
        methods=parse_methods(args.methods),
        seed=args.seed,
        max_labeled_demos=args.max_labeled_demos,
        max_bootstrapped_demos=args.max_bootstrapped_demos,
        num_candidate_programs=args.num_candidate_programs,
        knn_demos=args.knn_demos,
        threads=args.threads,
    )
    task = load_task(args.task, render=args.render)
    lm = make_lm(args.student, student_options(args, list(task.labels)))

    shown = command_progress(args)

    def announce(result: MethodResult) -> None:
        shown.say(f"{result.method}: {result.report.accuracy_text()} in {result.seconds:.0f} s")

    results = compare(
        task, lm, config, student=args.student,
        progress=lambda name: shown.counter(f"{name} on test"),
        on_result=announce,
    )
    decode = results[0].report.decode_text
    if args.json:
        print_json({
            "task": task.name,
            "student": args.student,
            "split": "test",
            "decode": decode,
            "config": config_json(config),
            "results": [result.to_json() for result in results],
        })
    else:
        print(render_results(task.name, args.student, decode, results, cache=not args.no_cache))


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `compare` subcommand."""
    parser = commands.add_parser(
        "compare",
        help="DSPy's few-shot optimizers (LabeledFewShot, BootstrapFewShotWithRandomSearch, KNNFewShot) "
        "on the same student, evaluated on the test split",
    )
    add_task_flags(parser)
    parser.add_argument("--methods", default=DEFAULT_METHODS,
                        help=f"comma-separated optimizers to run (default {DEFAULT_METHODS}); the seed "
                        "program is always evaluated too")
    parser.add_argument("--seed", type=int, default=0,
                        help="shuffles the training examples handed to the optimizers (default 0)")
    parser.add_argument("--max-labeled-demos", type=int, default=4, metavar="N",
                        help="demos per program: LabeledFewShot's k and each bootstrap candidate's total (default 4)")
    parser.add_argument("--max-bootstrapped-demos", type=int, default=2, metavar="N",
                        help="most demos taken from the student's own correct answers (default 2)")
    parser.add_argument("--num-candidate-programs", type=int, default=4, metavar="N",
                        help="bootstrap_rs: shuffled bootstrap candidates besides its three fixed ones (default 4)")
    parser.add_argument("--knn-demos", type=int, default=3, metavar="K",
                        help="knn: nearest training examples (TF-IDF cosine) given as demos to each input (default 3)")
    add_student_flags(parser)
    parser.set_defaults(func=cmd_compare)
