"""`smolgepa data audit`: the train and val examples whose label is likely wrong (confident learning
over out-of-fold label probabilities), and a corrected copy of the task with `--write`."""

from __future__ import annotations

import argparse
from pathlib import Path

from smolgepa.cli.common import add_quiet_flag, command_progress, print_json, read_instruction
from smolgepa.cli.student_flags import add_student_flags, student_options

SOURCE_HELP = ("where the out-of-fold label probabilities come from: reading (the student's --reading, "
               "default hidden) or tfidf (a TF-IDF logistic regression, no language model)")


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `data` command and its verbs."""
    parser = commands.add_parser("data", help="data you can trust: audit a task's labels")
    verbs = parser.add_subparsers(dest="verb", required=True)
    audit = verbs.add_parser("audit", help="rank train and val examples whose label is likely wrong")
    audit.add_argument("--task", required=True, help="built-in task name or path to a task YAML file")
    audit.add_argument("--source", choices=["reading", "tfidf"], default="reading", help=SOURCE_HELP)
    audit.add_argument("--instruction", help="instruction text, or @FILE (default: the task's seed instruction)")
    audit.add_argument("--write", metavar="FILE", help="write a corrected copy of the task: FILE (.yaml) and its "
                                                       ".jsonl beside it, suspects relabelled; never overwrites")
    audit.add_argument("--limit", type=int, default=40, help="suspects printed (default 40; --json lists all)")
    audit.add_argument("--json", action="store_true", help="print one JSON object (no progress)")
    add_quiet_flag(audit)
    add_student_flags(audit)
    audit.set_defaults(func=cmd_audit, decode="hidden")


def cmd_audit(args: argparse.Namespace) -> None:
    from smolgepa.data.audit import audit_labels, audit_text
    from smolgepa.tasks import load_task

    task = load_task(args.task)
    if args.write:  # refuse before the work, not after it
        from smolgepa.data.corrected import corrected_paths, refuse_existing

        refuse_existing(*corrected_paths(Path(args.write)))
    audit = audit_labels(task.name, probabilities(task, args))
    if args.write:
        from smolgepa.data.corrected import write_corrected

        note = f"smolgepa data audit ({audit.source}): {len(audit.suspects)} suspects relabelled"
        written = write_corrected(task, audit.corrections(), Path(args.write), note)
    if args.json:
        print_json(audit.to_json())
    else:
        print(audit_text(audit, args.limit))
        if args.write:
            print(f"wrote {written[0]} and {written[1]} ({len(audit.suspects)} labels replaced)")


def probabilities(task, args: argparse.Namespace):  # noqa: ANN001, ANN201 - Task -> LabelProbabilities
    """The out-of-fold probabilities `--source` names."""
    from smolgepa.data.fold_probs import reading_probabilities, tfidf_probabilities

    if args.source == "tfidf":
        return tfidf_probabilities(task)
    from smolgepa.adapter.program import make_program
    from smolgepa.evaluation.evaluate import predict
    from smolgepa.lm import make_lm, train_pairs

    lm = make_lm(args.student, student_options(args, list(task.labels), train_pairs(task)))
    program = make_program(task, read_instruction(args.instruction))
    progress = command_progress(args).counter(f"audit {task.name}")
    return reading_probabilities(task, lambda examples: predict(program, lm, examples, threads=args.threads,
                                                                progress=progress), args.decode)
