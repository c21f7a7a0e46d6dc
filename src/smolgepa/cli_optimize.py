"""`smolgepa optimize` and `smolgepa show`: parse, call the library, print."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from typing import Any

from smolgepa.errors import SmolgepaError

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
    "seed": "seed",
    "minibatch_size": "minibatch_size",
    "run_dir": "run_dir",
    "candidate_selection": "candidate_selection",
    "threads": "threads",
    "render": "render",
    "max_tokens": "student_max_tokens",
    "decode": "decode",
    "knn_k": "knn_k",
    "reflection_timeout": "reflection_timeout",
    "reflection_max_tokens": "reflection_max_tokens",
    "reflection_temperature": "reflection_temperature",
    "reflection_key_env": "reflection_key_env",
    "timeout": "student_timeout",
    "retries": "student_retries",
    "api_key_env": "student_api_key_env",
}


def register(subparsers: Any) -> None:
    """Add the `optimize` and `show` subcommands to the `smolgepa` parser."""
    parser = subparsers.add_parser("optimize", help="run GEPA on a task for a student; record everything in a run dir")
    add = parser.add_argument
    add("--task", help="built-in task name or path to a task YAML file (not needed with --resume)")
    add("--student", help="embedded (default), gguf:PATH, lmstudio:MODEL, openai:MODEL@URL, ...")
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
    add("--readings", action="store_const", const=True,
        help="built-in proposers may also change how the answer is read: a 'Reading:' line in the candidate "
             "(knn, channel, calibrated scores, ensemble); embedded student with a scoring --decode")
    add("--seed", type=int, help="random seed (default 0)")
    add("--minibatch-size", type=int, help="training examples per reflection round (default 3)")
    add("--candidate-selection", choices=["pareto", "current_best"], help="which candidate to improve next")
    add("--run-dir", help="where to record the run (default runs/TASK-TIMESTAMP)")
    add("--resume", action="store_true", help="continue the run in --run-dir without repeating finished work")
    add("--threads", type=int, help="examples answered at once; for a server student, requests in flight (default 1)")
    add("--render", choices=["plain", "annotated", "summary"],
        help="rendering of trace inputs (summary: a few lines of counted evidence)")
    add("--max-tokens", type=int, help="completion token limit for the student")
    from smolgepa.cli import add_decode_arguments

    add_decode_arguments(parser, default=None)  # --decode, --calibrate [train], --knn-k
    add("--reflection-timeout", type=float, help="seconds before a reflection call is given up (default 300)")
    add("--reflection-max-tokens", type=int, help="answer token limit for reflection models (default 2048)")
    add("--reflection-temperature", type=float, help="reflection model temperature (default 0.7)")
    add("--reflection-key-env", help="environment variable holding the reflection API key")
    from smolgepa.cli import add_server_arguments

    add_server_arguments(parser)  # --timeout, --retries, --api-key-env (saved in the run; may change on --resume)
    add("--quiet", action="store_true", help="no progress lines on stderr")
    add("--json", action="store_true", help="print one JSON object (the run summary)")
    parser.set_defaults(func=cmd_optimize)

    show = subparsers.add_parser("show", help="print the tables of a run directory (finished or not)")
    show.add_argument("run_dir", help="a run directory written by `smolgepa optimize`")
    show.add_argument("--json", action="store_true", help="print the run summary as JSON")
    show.set_defaults(func=cmd_show)


def config_from_args(args: argparse.Namespace) -> Any:
    """The run configuration: the saved one when resuming, with the flags given on top."""
    from smolgepa.optimize import OptimizeConfig, load_saved_config

    given = {field: getattr(args, flag) for flag, field in FLAGS.items() if getattr(args, flag) is not None}
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

    config = config_from_args(args)
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    result = optimize(config, progress=progress)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print(result.tables())


def cmd_show(args: argparse.Namespace) -> None:
    from smolgepa.optimize import show

    result = show(args.run_dir)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print(result.tables())


if __name__ == "__main__":  # python -m smolgepa.cli_optimize ... (before the CLI wires it)
    from smolgepa.cli import main

    sys.exit(main())
