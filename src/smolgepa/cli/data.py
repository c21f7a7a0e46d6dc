"""`smolgepa data`: `audit` lists the train and val examples whose label is likely wrong (confident learning
over out-of-fold label probabilities; a verifier model's verdict on each with `--verifier`), and writes a
corrected copy with `--write`; `label` labels new inputs with a verifier model into a new task."""

from __future__ import annotations

import argparse
from pathlib import Path

from smolgepa.cli.common import add_quiet_flag, command_progress, print_json, read_instruction
from smolgepa.cli.student_flags import add_student_flags, student_options
from smolgepa.cli.verifier_flags import add_verifier_flags, verifier_from_args

SOURCE_HELP = ("where the out-of-fold label probabilities come from: reading (the student's --reading, "
               "default hidden) or tfidf (a TF-IDF logistic regression, no language model)")
AUDIT_VERIFIER_HELP = ("a verifier model's verdict on each suspect (agree, or another label) with a one-line "
                       "reason: any --reflection model spec (llamacpp:URL, openai:MODEL@URL, litellm:MODEL, ...)")


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `data` command and its verbs."""
    parser = commands.add_parser("data", help="data you can trust: audit a task's labels, label new inputs")
    verbs = parser.add_subparsers(dest="verb", required=True)
    audit = verbs.add_parser("audit", help="rank train and val examples whose label is likely wrong")
    audit.add_argument("--task", required=True, help="built-in task name or path to a task YAML file")
    audit.add_argument("--source", choices=["reading", "tfidf"], default="reading", help=SOURCE_HELP)
    audit.add_argument("--instruction", help="instruction text, or @FILE (default: the task's seed instruction)")
    audit.add_argument("--write", metavar="FILE", help="write a corrected copy of the task: FILE (.yaml) and its "
                                                       ".jsonl beside it (see --fix); never overwrites")
    audit.add_argument("--fix", choices=["drop", "relabel"], default="drop",
                       help="what --write does with the suspects: drop (default) leaves the train suspects out and "
                            "keeps val as given; relabel gives every suspect the suggested (or verifier's) label")
    audit.add_argument("--refit", type=int, default=None, metavar="N",
                       help="with the hidden reading (embedded): pool train and val and refit N times without the "
                            "10%% most suspect (default 2; 0: the reading's own answers, fitted on train)")
    audit.add_argument("--limit", type=int, default=40, help="suspects printed (default 40; --json lists all)")
    audit.add_argument("--json", action="store_true", help="print one JSON object (no progress)")
    add_verifier_flags(audit, help_text=AUDIT_VERIFIER_HELP)
    add_quiet_flag(audit)
    add_student_flags(audit)
    audit.set_defaults(func=cmd_audit, decode="hidden")
    label = verbs.add_parser("label", help="label new inputs with a verifier model, into a new task")
    label.add_argument("file", metavar="FILE", help='JSONL of inputs: {"id": ..., "text": ...} (or the task\'s input field)')
    label.add_argument("--task", required=True, help="the task whose labels to use (built-in name or task YAML)")
    label.add_argument("--write", metavar="FILE", required=True,
                       help="the new task: FILE (.yaml) and its .jsonl beside it; never overwrites")
    label.add_argument("--min-agreement", type=float, metavar="X",
                       help="refuse to label when the verifier agrees with the task's val labels less often (0-1)")
    label.add_argument("--json", action="store_true", help="print one JSON object (no progress)")
    add_verifier_flags(label, required=True)
    add_quiet_flag(label)
    label.set_defaults(func=cmd_label)


def cmd_audit(args: argparse.Namespace) -> None:
    from smolgepa.data.audit import audit_labels, audit_text
    from smolgepa.tasks import load_task

    task = load_task(args.task)
    if args.write:  # refuse before the work, not after it
        from smolgepa.data.corrected import corrected_paths, refuse_existing

        refuse_existing(*corrected_paths(Path(args.write)))
    verifier = verifier_from_args(args) if args.verifier else None  # a bad spec fails before the work
    source = ProbabilitySource(task, args)
    cache = source.cache()
    kept = cache.load() if cache is not None else None
    if verifier is not None:
        if cache is not None:  # verdicts already given are read back by a re-run
            from smolgepa.jsonfiles import Redactor
            from smolgepa.optimize.cache import JsonlCache

            verifier.cache = JsonlCache(cache.verifier_path, Redactor(key_envs=(args.verifier_key_env,)))
        if kept is None:
            verifier.check_answers()  # a verifier that is down stops here, before minutes of reading
    probabilities = kept if kept is not None else source.compute()
    if cache is not None and kept is None:
        cache.save(probabilities)
    audit = audit_labels(task.name, probabilities)
    if verifier is not None:
        from smolgepa.data.verdicts import verify_suspects

        audit = verify_suspects(audit, task, verifier, command_progress(args).counter("verifier", unit="suspect"))
    if args.write:
        from smolgepa.data.corrected import write_corrected

        by = f", verifier {audit.verifier}" if audit.verifier else ""
        corrections, dropped = audit.corrections(), set()
        if args.fix == "drop":  # measured: dropping recovers accuracy, relabelling did not (docs/data.md)
            splits = {example.id: example.split for example in task.examples}
            dropped, corrections = {i for i in corrections if splits.get(i) == "train"}, {}
            done = f"{len(dropped)} train suspects left out, val kept as given"
        else:
            done = f"{len(corrections)} labels replaced"
        note = f"smolgepa data audit ({audit.source}{by}): {done}"
        written = write_corrected(task, corrections, Path(args.write), note, dropped)
    if args.json:
        print_json(audit.to_json())
        return
    if kept is not None and cache is not None:
        reused = f" and {verifier.tally.cached} verifier verdicts" if verifier is not None and verifier.tally.cached else ""
        print(f"reused the out-of-fold probabilities{reused} of an earlier audit ({cache.path}; --no-cache "
              "computes them again)")
    print(audit_text(audit, args.limit))
    if args.write:
        print(f"wrote {written[0]} and {written[1]} ({done})")


class ProbabilitySource:
    """The out-of-fold probabilities `--source` names: their cache key, and computing them."""

    def __init__(self, task, args: argparse.Namespace) -> None:  # noqa: ANN001 - Task
        self.task, self.args = task, args
        self.student = None
        self.instruction = read_instruction(args.instruction) if args.source == "reading" else None
        self._rounds: int | None = None

    def reading_student(self):  # noqa: ANN201 - Student
        from smolgepa.lm import train_pairs
        from smolgepa.lm.student import Student

        if self.student is None:
            options = student_options(self.args, list(self.task.labels), train_pairs(self.task))
            self.student = Student(self.args.student, options)
        return self.student

    def refit_rounds(self) -> int:
        """How many times the hidden reading is refitted without the suspects (0: the reading as it answers)."""
        if self._rounds is None:
            self._rounds = self._decide_refit_rounds()
        return self._rounds

    def _decide_refit_rounds(self) -> int:
        from smolgepa.data.refit import REFIT_ROUNDS
        from smolgepa.errors import SmolgepaError

        rounds = REFIT_ROUNDS if self.args.refit is None else self.args.refit
        if rounds < 0:
            raise SmolgepaError(f"--refit {rounds}: give a number of rounds, 0 or more.")
        if self.args.source != "reading" or self.args.decode != "hidden" or self.args.calibrate is not None:
            return 0
        engine = self.reading_student().engine()
        return rounds if callable(getattr(engine, "hidden_features", None)) else 0

    def cache(self):  # noqa: ANN201 - AuditCache | None
        """Where these probabilities (and a verifier's verdicts on their suspects) are kept; None with --no-cache."""
        if getattr(self.args, "no_cache", False):
            return None
        from smolgepa.data.audit_cache import AuditCache, audit_key
        from smolgepa.data.fold_probs import audited_examples
        from smolgepa.lm.cache_home import cache_dir

        examples = audited_examples(self.task)
        if self.args.source == "tfidf":
            key = audit_key("tfidf", examples)
        else:
            student = self.reading_student()
            key = audit_key(self.args.decode, examples, student=student.identity, extras=student.key_extras(),
                            scoring=student.options.scoring_fields(), max_tokens=student.options.max_tokens,
                            instruction=self.instruction, refit=self.refit_rounds())
        return AuditCache(cache_dir() / "audits", key)

    def compute(self):  # noqa: ANN201 - LabelProbabilities
        from smolgepa.data.fold_probs import reading_probabilities, tfidf_probabilities

        if self.args.source == "tfidf":
            return tfidf_probabilities(self.task)
        from smolgepa.adapter.program import make_program
        from smolgepa.evaluation.evaluate import predict

        program = make_program(self.task, self.instruction)
        progress = command_progress(self.args).counter(f"audit {self.task.name}")
        rounds = self.refit_rounds()
        if rounds:
            return self.refitted(program, rounds, progress)
        lm = self.reading_student().lm()
        return reading_probabilities(self.task, lambda examples: predict(program, lm, examples, threads=self.args.threads,
                                                                         progress=progress), self.args.decode)


    def refitted(self, program, rounds: int, progress):  # noqa: ANN001, ANN201 - Program, progress -> LabelProbabilities
        """The hidden states of every audited example, then the pooled fit refitted without the suspects."""
        from smolgepa.data.fold_probs import audited_examples, from_rows
        from smolgepa.data.refit import hidden_rows, refitted_probabilities

        examples = audited_examples(self.task)
        engine = self.reading_student().engine()
        rows = hidden_rows(engine.hidden_features, program.signature, [e.input for e in examples], progress)
        probs = refitted_probabilities(rows, [e.label for e in examples], list(self.task.labels), rounds)
        return from_rows(f"hidden, train+val pooled, refitted {rounds}x without the suspects", self.task, examples,
                         probs)


def cmd_label(args: argparse.Namespace) -> None:
    from smolgepa.data.corrected import corrected_paths, refuse_existing
    from smolgepa.data.labelling import check_agreement, label_inputs, measure_agreement, read_unlabelled, write_labelled
    from smolgepa.errors import SmolgepaError
    from smolgepa.jsonfiles import Redactor
    from smolgepa.optimize.cache import JsonlCache
    from smolgepa.tasks import load_task

    if args.min_agreement is not None and not 0.0 <= args.min_agreement <= 1.0:
        raise SmolgepaError(f"--min-agreement {args.min_agreement:g}: give a fraction between 0 and 1 (e.g. 0.8).")
    task = load_task(args.task)
    refuse_existing(*corrected_paths(Path(args.write)))  # before any call
    inputs = read_unlabelled(Path(args.file), task)
    verifier = verifier_from_args(args)
    partial = partial_path(Path(args.write))  # every answer, kept as it comes: a re-run asks none of them again
    verifier.cache = JsonlCache(partial, Redactor(key_envs=(args.verifier_key_env,)))
    progress = command_progress(args)
    agreement = measure_agreement(task, verifier, progress.counter(f"verifier on {task.name} val"))
    line = f"verifier {verifier.spec} agrees with {task.name}'s val labels: {agreement.text}, {agreement.junk} junk"
    if not args.json:
        print(line, flush=True)  # before the check below, which may refuse to label
    check_agreement(agreement, args.min_agreement, verifier.spec, kept=partial)
    labelled = label_inputs(task, inputs, verifier, progress.counter("labelling", unit="input"))
    if verifier.tally.junk_line() and not args.json:
        print(verifier.tally.junk_line(), flush=True)  # also when no input got a label and nothing is written
    if verifier.tally.cached and not args.json:
        print(f"resumed: {verifier.tally.cached} of {verifier.tally.calls} verifier answers reused from {partial} "
              "(an earlier run of this command that stopped)", flush=True)
    note = f"smolgepa data label, verifier {verifier.spec} (val agreement {agreement.text})"
    written = write_labelled(task, labelled, Path(args.write), note)
    partial.unlink(missing_ok=True)  # written: nothing left to resume
    left_out = [item.id for item, reply in labelled if reply.label is None]
    if args.json:
        print_json({"agreement": agreement.to_json(), "labelled": len(labelled) - len(left_out), "left_out": left_out,
                    "written": [str(path) for path in written], "verifier": {"spec": verifier.spec,
                                                                            **verifier.tally.to_json()}})
        return
    print(f"labelled {len(labelled) - len(left_out)} of {len(labelled)} inputs"
          + (f" ({len(left_out)} junk replies left out: {', '.join(left_out[:10])}"
             + (", ..." if len(left_out) > 10 else "") + ")" if left_out else ""))
    print(f"wrote {written[0]} and {written[1]}")


def partial_path(write: Path) -> Path:
    """Where `data label --write FILE` keeps the verifier's answers until FILE is written (`new.yaml` ->
    `new.partial.jsonl`): a run that stops (the verifier down, the command killed) is resumed by running it again."""
    return write.with_name(f"{write.stem}.partial.jsonl")
