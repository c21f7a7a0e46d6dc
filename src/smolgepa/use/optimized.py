"""What an optimization produced, read back for use: the task, the best candidate and the student settings.

A run directory supplies all three: `config.json` names the task (and its rendering) and the student
settings, `summary.json` the best candidate (instruction, examples, `Reading:` and `Label words:` lines).
A `program.json` inside a run directory takes the task and settings from that run and the candidate
from the file; a `program.json` elsewhere needs the task named (`task=`), and the student settings
default to `StudentSettings()` (embedded, free decoding).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.student_settings import StudentSettings
from smolgepa.tasks.model import Task


@dataclass(frozen=True)
class Optimized:
    """A candidate ready to use: the task it answers, the candidate's text and how to run the student."""

    task: Task
    instruction: str
    settings: StudentSettings
    source: str  # the run directory or program.json it was read from ("": none, e.g. a task's seed instruction)


def read_optimized(path: str | Path, task: str | Path | None = None, **changes: Any) -> Optimized:
    """The best candidate of a run directory, or the program of a `program.json`; `task` (a built-in name
    or task YAML) is needed for a program.json outside a run directory and overrides the run's task.
    `changes` are StudentSettings fields that replace the run's (`student="llamacpp:URL"`, `threads=4`)."""
    from smolgepa.tasks import load_task

    where = Path(path)
    if not where.exists():
        raise SmolgepaError(f"{where} does not exist: pass a run directory written by `smolgepa optimize` "
                            "or its program.json.")
    run_dir = where if where.is_dir() else where.parent
    has_run = (run_dir / "config.json").is_file()
    if where.is_dir() and not has_run:
        raise SmolgepaError(f"{where} is not a smolgepa run directory (it has no config.json).")
    if has_run:
        loaded, settings = _run_task_and_settings(run_dir, task)
    elif task is None:
        raise SmolgepaError(f"{where} is not inside a run directory, so it does not say which task it answers: "
                            "pass the task (--task NAME or a task YAML file).")
    else:
        loaded, settings = load_task(task), StudentSettings()
    instruction = _best_instruction(run_dir) if where.is_dir() else _program_instruction(where, loaded)
    unknown = sorted(set(changes) - set(StudentSettings.__dataclass_fields__))
    if unknown:
        raise SmolgepaError(f"Unknown student settings: {', '.join(unknown)}. "
                            f"Known: {', '.join(StudentSettings.__dataclass_fields__)}.")
    return Optimized(loaded, instruction, replace(settings, **changes), str(where))


def _run_task_and_settings(run_dir: Path, task: str | Path | None) -> tuple[Task, StudentSettings]:
    """The run's task (rendered as the run rendered it) and student settings, from config.json."""
    from smolgepa.optimize.config import load_saved_config
    from smolgepa.tasks import load_task

    config = load_saved_config(run_dir)
    return load_task(task if task is not None else config.task, render=config.render), config.student_settings()


def _best_instruction(run_dir: Path) -> str:
    """The best candidate so far of a run (finished or not)."""
    from smolgepa.runrecord import read_summary

    best = read_summary(run_dir).best
    if best is None or not best.instruction.strip():
        raise SmolgepaError(f"{run_dir} has no evaluated candidate yet: wait for the seed evaluation, "
                            "or continue the run with `smolgepa optimize --resume --run-dir`.")
    return best.instruction


def _program_instruction(path: Path, task: Task) -> str:
    """The instruction of a DSPy program saved by `smolgepa optimize` (`make_program(task).load(path)`)."""
    from smolgepa.adapter.program import make_program

    program = make_program(task)
    try:
        program.load(str(path))
    except Exception as exc:  # noqa: BLE001 - DSPy raises many kinds for a file that is not its program
        raise SmolgepaError(f"{path} is not a DSPy program saved by smolgepa ({type(exc).__name__}: {exc}).") from None
    return str(program.signature.instructions)
