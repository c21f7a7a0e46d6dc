"""`smolgepa optimize`: run GEPA on a task for a student, recording everything in a run directory."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import TYPE_CHECKING

from smolgepa.cli.common import print_json, command_progress
from smolgepa.cli.eval import RENDER_HELP
from smolgepa.cli.student_flags import add_student_flags
from smolgepa.cli.verifier_flags import add_verifier_flags
from smolgepa.errors import SmolgepaError

if TYPE_CHECKING:
    from smolgepa.optimize import OptimizeConfig

# CLI flag -> OptimizeConfig field; every flag defaults to None ("not given"), so that --resume can
# tell the settings a user changed from the ones saved in the run directory.
FLAGS: dict[str, str] = {
    "task": "task",
    "student": "student",
    "reflection": "reflection",
    "reflection_template": "reflection_template",
    "budget": "budget",
    "max_proposals": "max_proposals",
    "patience": "patience",
    "max_instruction_tokens": "max_instruction_tokens",
    "eval_every_proposal": "eval_every_proposal",
    "readings": "readings",
    "label_words": "label_words",
    "text_moves": "text_moves",
    "seed": "seed",
    "minibatch_size": "minibatch_size",
    "run_dir": "run_dir",
    "candidate_selection": "candidate_selection",
    "threads": "threads",
    "render": "render",
    "max_tokens": "student_max_tokens",
    "decode": "decode",
    "knn_k": "knn_k",
    "exact_model": "exact_model",
    "fast_model": "fast_model",
    "model_format": "model_format",
    "reflection_timeout": "reflection_timeout",
    "reflection_max_tokens": "reflection_max_tokens",
    "reflection_temperature": "reflection_temperature",
    "reflection_key_env": "reflection_key_env",
    "timeout": "student_timeout",
    "retries": "student_retries",
    "backoff": "student_backoff",
    "api_key_env": "student_api_key_env",
    "verifier": "verifier",
    "verifier_timeout": "verifier_timeout",
    "verifier_max_tokens": "verifier_max_tokens",
    "verifier_key_env": "verifier_key_env",
}
VERIFIER_HELP = ("a verifier model that says, for each wrong answer on the minibatch, why the expected label is "
                 "right, in the feedback reflection reads: any --reflection model spec (llamacpp:URL, litellm:MODEL, ...)")


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `optimize` subcommand."""
    parser = commands.add_parser("optimize", help="run GEPA on a task for a student; record everything in a run dir")
    add = parser.add_argument
    add("--task", help="built-in task name or path to a task YAML file (not needed with --resume)")
    add("--reflection", help='reflection model: lmstudio:MODEL, openai:MODEL@URL, litellm:MODEL, cmd:"COMMAND ...", '
        "embedded, fewshot or rules (built-in proposers that need no LLM; the default is rules for "
        "agent-trace tasks, fewshot for text tasks)")
    add("--reflection-template", choices=["tiny", "gepa"], help="reflection prompt: tiny (default) or GEPA's stock one")
    add("--budget", type=int, help="metric calls (scored student answers) to spend (default 120)")
    add("--max-proposals", type=int, help="stop after this many proposals")
    add("--patience", type=int, help="stop after this many proposals without a validation improvement")
    add("--max-instruction-tokens", type=int, help="reject proposals longer than this, in student tokens (default 300)")
    add("--eval-every-proposal", action="store_const", const=True,
        help="evaluate rejected proposals on validation too (they count against the budget)")
    add("--readings", nargs="?", const=True, metavar="NAMES",
        help="built-in proposers may also change how the answer is read: a 'Reading:' line in the candidate "
             "(hidden, probe, stack, knn, channel, calibrated scores), each screened on the training split "
             "first; NAMES (comma-separated) offers only those; embedded student with a scoring --decode")
    add("--label-words", action="store_const", const=True,
        help="built-in proposers may also change the words the student is shown and scored on for each "
             "label: a 'Label words:' line in the candidate, searched on the train split; embedded student "
             "with a scoring --decode")
    add("--text-moves", choices=["minibatch", "evidence"],
        help="how a new instruction, examples or rules are accepted: minibatch (GEPA's rule, default) or "
             "evidence (the paired test on the training sample and validation that structural moves get)")
    add("--seed", type=int, help="random seed (default 0)")
    add("--minibatch-size", type=int, help="training examples per reflection round (default 3)")
    add("--candidate-selection", choices=["pareto", "current_best"], help="which candidate to improve next")
    add("--run-dir", help="where to record the run (default runs/TASK-TIMESTAMP)")
    add("--resume", action="store_true", help="continue the run in --run-dir without repeating finished work")
    add("--render", choices=["plain", "annotated", "summary"], help=RENDER_HELP)
    add_student_flags(parser, unset=True, response_cache=False)  # saved in the run; only the server flags may
    # change on --resume
    add("--reflection-timeout", type=float, help="seconds before a reflection call is given up (default 300)")
    add("--reflection-max-tokens", type=int, help="answer token limit for reflection models (default 2048)")
    add("--reflection-temperature", type=float, help="reflection model temperature (default 0.7)")
    add("--reflection-key-env", help="environment variable holding the reflection API key")
    add_verifier_flags(parser, help_text=VERIFIER_HELP, unset=True)
    add("--quiet", action="store_true", help="no progress on stderr (a bar on a terminal, plain lines otherwise)")
    add("--json", action="store_true", help="print one JSON object (the run summary)")
    parser.set_defaults(func=cmd_optimize)


def config_from_args(args: argparse.Namespace) -> OptimizeConfig:
    """The run configuration: the saved one when resuming, with the flags given on top."""
    from smolgepa.optimize import OptimizeConfig, load_saved_config

    given = {field: getattr(args, flag) for flag, field in FLAGS.items() if getattr(args, flag) is not None}
    if isinstance(given.get("readings"), str):  # --readings NAMES
        given.update(readings=True, reading_choices=tuple(n.strip() for n in given["readings"].split(",") if n.strip()))
    if args.calibrate is not None:  # --calibrate [content-free|train]
        given.update(calibrate=True, calibration=args.calibrate)
    if args.resume:
        if not args.run_dir:
            raise SmolgepaError("--resume needs --run-dir: the directory of the run to continue.")
        saved = load_saved_config(args.run_dir)
        known = {f.name for f in fields(OptimizeConfig)}
        return saved.with_changes(**{k: v for k, v in given.items() if k in known}, resume=True)
    if "task" not in given:
        raise SmolgepaError("optimize needs --task (a built-in task name or a task YAML file), or --resume.")
    return OptimizeConfig(**given)


def cmd_optimize(args: argparse.Namespace) -> None:
    from smolgepa.optimize import optimize

    result = optimize(config_from_args(args), progress=command_progress(args))
    if args.json:
        print_json(result.to_json())
    else:
        print(result.tables())
