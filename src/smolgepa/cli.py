"""The `smolgepa` command line: thin commands over the library."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from smolgepa.errors import SmolgepaError, find_user_error

if TYPE_CHECKING:
    from smolgepa.lm import StudentOptions


def read_instruction(value: str | None) -> str | None:
    """`--instruction TEXT` or `--instruction @FILE`."""
    if value is None or not value.startswith("@"):
        return value
    path = Path(value[1:])
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SmolgepaError(f"Cannot read the instruction file {path}: {exc.strerror}.") from None


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def cmd_tasks(args: argparse.Namespace) -> None:
    from smolgepa.display import table
    from smolgepa.tasks import builtin_task_names, load_task

    rows, data = [], []
    for name in builtin_task_names():
        task = load_task(name)
        counts = task.label_counts()
        data.append({"name": name, "labels": list(task.labels), "counts": counts, "input_format": task.input_format})
        per_split = [" ".join(f"{label}={count}" for label, count in counts[split].items()) for split in counts]
        rows.append([name, task.input_format, *per_split])
    if args.json:
        print_json(data)
    else:
        print(table(["task", "input", "train", "val", "test"], rows))


def add_student_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help="built-in task name or path to a task YAML file")
    parser.add_argument("--student", default="embedded", help="embedded, gguf:PATH, lmstudio:MODEL, ... (default embedded)")
    parser.add_argument("--render", choices=["plain", "annotated", "summary"],
        help="rendering of trace inputs (summary: a few lines of counted evidence)")
    parser.add_argument("--max-tokens", type=int, default=None, help="completion token limit for the student")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


DECODE_HELP = (
    "free: parse a label from the text; constrained: output restricted to the labels; "
    "scored: the label with the highest log-likelihood; embedded student only: "
    "channel: the label under which the input text is most likely (Min et al. 2022); "
    "knn: the vote of the nearest training examples' answer distributions (Xu et al. 2023); "
    "ensemble: scored, averaged over one-demo prompts (default free)"
)
CALIBRATE_HELP = (
    "--calibrate: with scored, contextual calibration from content-free inputs (Zhao et al. 2021); "
    "--calibrate train: with scored, channel or ensemble, per-label offsets fitted on the train split"
)
KNN_K_HELP = "with --decode knn: neighbours that vote (default 12)"


def add_decode_arguments(parser: argparse.ArgumentParser, default: str | None = "free") -> None:
    """`--decode`, `--calibrate [train]` and `--knn-k` (see smolgepa.lm.decode); `default` None
    leaves them unset (optimize tells given flags from saved ones)."""
    from smolgepa.lm.decode import DECODE_MODES

    parser.add_argument("--decode", choices=list(DECODE_MODES), default=default, help=DECODE_HELP)
    parser.add_argument("--calibrate", nargs="?", const="content-free", choices=["content-free", "train"],
                        default=None, help=CALIBRATE_HELP)
    parser.add_argument("--knn-k", type=int, default=None, metavar="K", help=KNN_K_HELP)


def decode_settings(args: argparse.Namespace) -> dict[str, object]:
    """`calibrate`, `calibration` and `knn_k` from the decode flags (only those given)."""
    settings: dict[str, object] = {}
    calibrate = getattr(args, "calibrate", None)
    if calibrate is not None:
        settings.update(calibrate=True, calibration=calibrate)
    if getattr(args, "knn_k", None) is not None:
        settings["knn_k"] = args.knn_k
    return settings


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """`--timeout`, `--retries` and `--api-key-env` for a student behind a server (default None: not
    given). Concurrency is `--threads`; see smolgepa.lm.student.server_overrides."""
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="server students: seconds to wait for one answer before retrying (default 120)")
    parser.add_argument("--retries", type=int, default=None, metavar="N",
                        help="server students: retries of a failed request, with backoff (default 8)")
    parser.add_argument("--api-key-env", default=None, metavar="NAME",
                        help="server students: environment variable holding the API key (the key is never saved)")


def server_options(args: argparse.Namespace) -> dict[str, object]:
    """ServerSettings overrides from `--timeout`, `--retries`, `--api-key-env` and `--threads`."""
    from smolgepa.lm.student import server_overrides

    return server_overrides(
        args.student,
        timeout=getattr(args, "timeout", None),
        retries=getattr(args, "retries", None),
        api_key_env=getattr(args, "api_key_env", None),
        concurrency=getattr(args, "threads", None),
    )


def student_options(
    args: argparse.Namespace, labels: Sequence[str], train_examples: Sequence[tuple[str, str]] = ()
) -> StudentOptions:
    """StudentOptions from `--max-tokens`, `--decode`, `--calibrate`, `--knn-k` and the server flags;
    `train_examples` feed knn, ensemble and `--calibrate train`."""
    from smolgepa.lm import StudentOptions

    extra = {} if getattr(args, "max_tokens", None) is None else {"max_tokens": args.max_tokens}
    return StudentOptions(
        decode=getattr(args, "decode", "free"),
        labels=tuple(labels),
        cache_enabled=not getattr(args, "no_cache", False),
        fast_model=bool(getattr(args, "fast_model", False)),
        server=server_options(args),
        train_examples=tuple(train_examples),
        **decode_settings(args),
        **extra,
    )


def cmd_eval(args: argparse.Namespace) -> None:
    from smolgepa.display import render_report
    from smolgepa.evaluation import evaluate, stderr_progress
    from smolgepa.lm import make_lm
    from smolgepa.tasks import load_task

    task = load_task(args.task, render=args.render)
    examples = task.split(args.split)
    from smolgepa.lm.student import train_pairs

    lm = make_lm(args.student, student_options(args, list(task.labels), train_pairs(task)))
    report = evaluate(
        task,
        lm,
        examples,
        read_instruction(args.instruction),
        student=args.student,
        split=args.split,
        threads=args.threads,
        progress=None if args.json else stderr_progress(),
    )
    if args.json:
        print_json(report.to_json())
    else:
        print(render_report(report))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smolgepa", description="GEPA prompt optimization for tiny local LMs.")
    commands = parser.add_subparsers(dest="command", required=True)

    tasks = commands.add_parser("tasks", help="list built-in tasks with label counts per split")
    tasks.add_argument("--json", action="store_true")
    tasks.set_defaults(func=cmd_tasks)

    evaluate = commands.add_parser("eval", help="evaluate a student on a task split")
    add_student_arguments(evaluate)
    evaluate.add_argument("--split", default="val", choices=["train", "val", "test", "all"])
    evaluate.add_argument("--instruction", help="instruction text, or @FILE (default: the task's seed instruction)")
    evaluate.add_argument("--threads", type=int, default=1,
                          help="examples answered at once; for a server student, requests in flight (default 1)")
    add_server_arguments(evaluate)
    add_decode_arguments(evaluate)
    evaluate.add_argument("--no-cache", action="store_true",
                          help="bypass the disk response cache ($SMOLGEPA_CACHE_DIR or ~/.cache/smolgepa)")
    evaluate.add_argument("--fast-model", action="store_true",
                          help="use a Q8_0 copy of a GGUF student (faster prefill; answers can differ slightly)")
    evaluate.set_defaults(func=cmd_eval)

    for register in _plugin_registrations():
        register(commands)
    return parser


def _plugin_registrations() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Subcommands defined next to the library code they drive."""
    registrations = []
    modules = ("smolgepa.cli_optimize", "smolgepa.cli_baseline", "smolgepa.cli_study", "smolgepa.cli_compare")
    for module_name in modules:
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        registrations.append(module.register)
    return registrations


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    # Label answers are short by design; DSPy's "response was truncated" warning is noise here.
    logging.getLogger("dspy.clients.lm").setLevel(logging.ERROR)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("smolgepa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        user_error = find_user_error(exc)
        if user_error is None or os.environ.get("SMOLGEPA_DEBUG"):
            raise
        print(f"smolgepa: error: {user_error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
