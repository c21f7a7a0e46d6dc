"""`smolgepa watch FILE (--run RUN_DIR | --task T)`: the state of an agent's trace file as it grows."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import TYPE_CHECKING, Any

from smolgepa.cli.common import read_instruction
from smolgepa.cli.eval import INSTRUCTION_HELP, add_task_flags
from smolgepa.cli.student_flags import add_student_flags, given_student_settings
from smolgepa.errors import SmolgepaError

if TYPE_CHECKING:
    from collections.abc import Callable

    from smolgepa.use.classifier import Classifier
    from smolgepa.use.trace_monitor import MonitorUpdate

# smolgepa.traces.trace_feed.LINE_FORMATS, written out so that building the parser stays light.
WATCH_FORMATS = ("openai-chat", "anthropic")
CHANGE_MARK = "***"


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `watch` subcommand."""
    parser = commands.add_parser("watch", help="follow an agent's growing trace file and print its state at each step")
    parser.add_argument("file", help="the trace JSONL file the agent appends to (a request line, then one turn a line)")
    parser.add_argument("--run", metavar="RUN_DIR", help="a run directory written by `smolgepa optimize` (or its "
                        "program.json): its best candidate, reading and saved reading fit")
    add_task_flags(parser, required=False, json_help="print one JSON object per update (and one when stopped)")
    parser.add_argument("--instruction", help=INSTRUCTION_HELP + "; with --task only")
    parser.add_argument("--from", dest="log_format", choices=WATCH_FORMATS,
                        help="the file is a chat transcript, one message a line (or a whole conversation a line)")
    parser.add_argument("--once", action="store_true", help="read the file to its end, print the state and exit")
    parser.add_argument("--poll", type=float, default=0.5, metavar="SECONDS",
                        help="how often to look for new lines (default 0.5)")
    add_student_flags(parser, unset=True)  # with --run: the run's settings, the flags given replace them
    parser.set_defaults(func=cmd_watch)


def cmd_watch(args: argparse.Namespace) -> None:
    from smolgepa.use.trace_monitor import TraceMonitor, watch_file

    note = (lambda line: None) if args.quiet else _say
    classifier = _classifier(args, note)
    monitor = TraceMonitor(classifier, on_note=note)
    show = _print_json if args.json else _print_update
    if not args.once:
        monitor_name = args.run or f"the task {classifier.task.name}"
        note(f"smolgepa: watching {args.file} with {monitor_name} ({classifier.task.render} rendering); Ctrl-C stops.")
    stop = _StopRequest()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)  # a supervisor's stop ends the watch as Ctrl-C does
    try:
        watch_file(args.file, monitor, show, _say, log_format=args.log_format, once=args.once,
                   poll=max(0.01, args.poll), on_note=note, stop=lambda: stop.requested)
        if stop.requested:
            _stopped(monitor.last, args.json)
    except KeyboardInterrupt:
        _stopped(monitor.last, args.json)
    finally:
        classifier.close()


class _StopRequest:
    """The handler of Ctrl-C and SIGTERM: the first asks the watch to stop between two reads (an
    interrupt raised inside a model call or a held lock could leave the student unable to close); a
    second one stops at once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


def _classifier(args: argparse.Namespace, note: Callable[[str], None]) -> Classifier:
    """The run's best candidate, or the task's (seed or given) instruction with the student flags."""
    from smolgepa.student_settings import StudentSettings
    from smolgepa.tasks import load_task
    from smolgepa.use.classifier import Classifier, load
    from smolgepa.use.optimized import Optimized

    settings = given_student_settings(args)
    if args.run is not None:
        if args.render or args.instruction:
            flag = "--render" if args.render else "--instruction"
            raise SmolgepaError(f"{flag} goes with --task: a run directory reads traces with its own rendering and "
                                "instruction. Drop the flag, or pass --task instead of --run.")
        return load(args.run, args.task, on_note=note, **settings)
    if args.task is None:
        raise SmolgepaError("watch needs a monitor: --run RUN_DIR (an optimized candidate) or --task TASK "
                            "(the task's seed instruction, or --instruction) with the student flags.")
    from smolgepa.adapter.program import seed_instruction

    task = load_task(args.task, render=args.render)
    instruction = read_instruction(args.instruction) or seed_instruction(task)
    return Classifier(Optimized(task, instruction, StudentSettings(**settings), ""), on_note=note)


def _print_update(update: MonitorUpdate) -> None:
    chance = f"  p={update.probability:.2f}" if update.probability is not None else ""
    print(f"step {update.steps:<3} turns {update.turns:<3} {update.label or '(no label)':<17}{chance}".rstrip(),
          flush=True)
    if update.changed:
        chance = f" (p={update.probability:.2f})" if update.probability is not None else ""
        print(f"{CHANGE_MARK} state changed at step {update.steps}: {update.previous or '(no label)'} -> "
              f"{update.label or '(no label)'}{chance}", flush=True)


def _print_json(update: MonitorUpdate) -> None:
    print(json.dumps(update.to_json(), ensure_ascii=False), flush=True)


def _stopped(last: MonitorUpdate | None, as_json: bool) -> None:
    """The last line after Ctrl-C: how many updates, and the state the trace was left in."""
    if as_json:
        data = {"event": "stopped", "updates": last.number if last else 0}
        if last is not None:
            data.update(step=last.steps, label=last.label, p=last.probability)
        print(json.dumps(data), flush=True)
        return
    if last is None:
        print("stopped: no trace read yet", flush=True)
        return
    chance = f" (p={last.probability:.2f})" if last.probability is not None else ""
    print(f"stopped after {last.number} update{'s' * (last.number != 1)}: {last.label or '(no label)'}{chance} "
          f"at step {last.steps}", flush=True)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
