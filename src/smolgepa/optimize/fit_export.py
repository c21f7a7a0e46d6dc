"""The best candidate's reading fit, saved beside the run's `program.json` (`smolgepa.lm.fit_file`), so
that `smolgepa predict` and `smolgepa.load` start without reading the training split again.

The student's engine already holds that fit (the best candidate was evaluated); one answer under the
best instruction, straight to the engine (no response or run cache in between), tells which of the
engine's fits are the best candidate's, and only those are written.
"""

from __future__ import annotations

import logging
from pathlib import Path

from smolgepa.lm.async_engine import async_engine_for
from smolgepa.lm.fit_file import fit_path, fits_of, header_for, write_fits
from smolgepa.lm.student import Student
from smolgepa.tasks.model import Task

log = logging.getLogger(__name__)


def save_best_fit(task: Task, instruction: str, run_dir: Path, student: Student) -> Path | None:
    """Write the fit of `instruction`'s reading to `run_dir`/program.fit.npz; None (nothing written) when
    the reading fits nothing (free, constrained, scored, channel) or the student keeps no fits (a server)."""
    import dspy

    from smolgepa.adapter.plain_text import PlainTextAdapter
    from smolgepa.adapter.program import make_program

    engine = student.engine()
    fits = fits_of(engine)
    train = task.split("train")
    if fits is None or not train:
        return None
    lm = student.lm().copy(engine=engine, async_engine=async_engine_for(engine))
    with fits.recording() as used, dspy.context(lm=lm, adapter=PlainTextAdapter()):
        make_program(task, instruction)(input=train[0].input)
    if not used:
        return None
    path = fit_path(run_dir)
    write_fits(path, header_for(engine, instruction), fits.snapshot(used))
    log.info("saved the reading fit of the best candidate to %s", path)
    return path
