"""`smolgepa study FILE --ray [ADDRESS]`: every unfinished cell as a Ray task.

Ray wraps a study cell, never the inside of a run: each task runs one cell's `optimize` on
whichever node Ray picks (`study_cell.run_cell`), in a temporary directory of its own, and sends
the run directory back as bytes; the driver installs it into the study directory atomically. An
interrupted cell's partial run directory travels with its task, so it is resumed as
`smolgepa optimize --resume` would. A worker or node lost mid-cell means the cell is sent again
(at most `retries` times) from its last state in the study directory; a cell that fails with an
error of its own is recorded as failed with that error. The other cells go on either way, and the
report is written from the study directory exactly as for a local run.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.progress import Progress, as_progress
from smolgepa.studies.study_run import (
    CellResult,
    LineCallback,
    StudyResult,
    cell_state,
    finish_study,
    open_study_dir,
    record_cells,
)
from smolgepa.studies.study_file import Study
from smolgepa.studies.study_cell import install, pack, recover, run_cell

INSTALL_HINT = "--ray needs Ray: pip install 'smolgepa[ray]' (or pip install --require-hashes -r requirements-ray.lock)."
CONNECT_TIMEOUT = 10.0  # seconds to reach the head node's port
DEFAULT_RETRIES = 2  # sends after the first, per cell, when its worker or node is lost


@dataclass
class _Job:
    """One cell on its way through the cluster."""

    number: int
    name: str
    run_dir: Path
    config: Any
    partial: Any  # the object ref of the partial run directory, or None
    sends: int = 0
    node: str = ""


def import_ray() -> Any:
    """The `ray` module, or a one-line error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise SmolgepaError(INSTALL_HINT) from None
    return ray


def _check_reachable(address: str) -> None:
    """Refuse at once a `HOST:PORT` where nothing listens (Ray itself would wait for minutes)."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # `auto`, `ray://...`: left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise SmolgepaError(
            f"Nothing answers at the Ray address {address} ({exc.strerror or exc}). Start the head node there "
            "with `ray start --head --port=PORT`, or leave ADDRESS out (--ray) for a local Ray instance."
        ) from None


def connect(ray: Any, address: str | None) -> None:
    """Join the cluster at `address` (as `ray.init` takes it), or start a local Ray instance."""
    if address:
        _check_reachable(address)
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": "WARNING", "ignore_reinit_error": True}
    try:
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(include_dashboard=False, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise SmolgepaError(
            f"Cannot connect to {where}: {exc}. Start one with `ray start --head` and pass its address "
            "(e.g. --ray 127.0.0.1:6379), or leave ADDRESS out for a local instance."
        ) from None


def run_study_ray(study: Study, out: str | Path | None = None, address: str | None = None,
                  progress: Progress | LineCallback | None = None, report: bool = True,
                  retries: int = DEFAULT_RETRIES) -> StudyResult:
    """Run the study's unfinished cells as Ray tasks, then write its report (see the module doc)."""
    ray = import_ray()
    say = as_progress(progress).say
    directory = open_study_dir(study, out)
    errors: dict[str, str | None] = {}
    record_cells(directory, study, errors)
    connect(ray, address)
    try:
        results = _Scheduler(ray, study, directory, say, retries, errors).run()
    finally:
        ray.shutdown()
    return finish_study(directory, results, report, say)


class _Scheduler:
    """Sends the cells, follows their tasks and installs what comes back."""

    def __init__(self, ray: Any, study: Study, directory: Path, say: LineCallback, retries: int,
                 errors: dict[str, str | None]) -> None:
        self.ray, self.study, self.directory, self.say = ray, study, directory, say
        self.retries, self.errors = retries, errors
        self.remote = ray.remote(num_returns="streaming", max_retries=0)(run_cell)
        self.results: dict[str, CellResult] = {}
        self.pending: dict[Any, _Job] = {}

    def label(self, job: _Job) -> str:
        return f"[{job.number}/{len(self.study.cells)}] {job.name}"

    def run(self) -> list[CellResult]:
        for number, cell in enumerate(self.study.cells, start=1):
            run_dir = self.directory / "cells" / cell.name
            recover(run_dir)
            state = cell_state(run_dir, cell)
            job = _Job(number, cell.name, run_dir, cell.config, None)
            if state == "finished":
                self.say(f"{self.label(job)}: finished earlier, skipped")
                self.results[cell.name] = CellResult(cell.name, "skipped")
                continue
            if state != "new":
                job.partial = self.ray.put(pack(run_dir))
            self.say(f"{self.label(job)}: queued ({'resuming' if state != 'new' else 'new'})")
            self.send(job)
        while self.pending:
            ready, _ = self.ray.wait(list(self.pending), num_returns=1)
            for task in ready:
                self.receive(task, self.pending.pop(task))
        return [self.results[cell.name] for cell in self.study.cells]

    def send(self, job: _Job) -> None:
        job.sends += 1
        job.node = ""
        self.pending[self.remote.remote(job.config, job.name, job.partial)] = job

    def receive(self, task: Any, job: _Job) -> None:
        """Take the task's next message: where it started, or its run directory, or its failure."""
        exceptions = self.ray.exceptions
        try:
            kind, value = self.ray.get(next(task))
        except StopIteration:
            return self.fail(job, "the worker ended without sending the run directory back")
        except exceptions.RayTaskError as exc:
            cause = exc.cause
            reason = str(cause) if isinstance(cause, SmolgepaError) else f"{type(cause).__name__}: {cause}"
            return self.fail(job, reason)
        except exceptions.RayError as exc:
            return self.lost(job, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        if kind == "node":
            job.node = str(value)
            self.pending[task] = job
            self.say(f"{self.label(job)}: running on {job.node}")
            return self.tally()
        status, blob, worker_dir = value
        try:
            install(blob, worker_dir, job.run_dir)
        except SmolgepaError as exc:
            return self.lost(job, str(exc))
        self.errors[job.name] = None
        record_cells(self.directory, self.study, self.errors)
        self.results[job.name] = CellResult(job.name, status)
        self.say(f"{self.label(job)}: {status} (on {job.node})")
        return self.tally()

    def lost(self, job: _Job, reason: str) -> None:
        """The worker or node went away (or sent a damaged directory): send the cell again, or give up."""
        if job.sends <= self.retries:
            self.say(f"{self.label(job)}: lost on {job.node or 'its worker'} ({reason}); "
                     f"sending it again ({job.sends}/{self.retries})")
            self.send(job)
            return self.tally()
        self.fail(job, f"lost {job.sends} times, last: {reason}")

    def fail(self, job: _Job, reason: str) -> None:
        self.errors[job.name] = reason
        record_cells(self.directory, self.study, self.errors)
        self.results[job.name] = CellResult(job.name, "failed", reason)
        self.say(f"{self.label(job)}: failed: {reason}")
        self.tally()

    def tally(self) -> None:
        """One line: cells done, running (with their nodes), waiting and failed."""
        values = self.results.values()
        done = sum(1 for r in values if not r.error)
        failed = sum(1 for r in values if r.error)
        running = [j for j in self.pending.values() if j.node]
        waiting = len(self.pending) - len(running)
        where = ", ".join(f"{j.name} on {j.node}" for j in running)
        self.say(f"cells: {done} done, {len(running)} running, {waiting} waiting, {failed} failed"
                 + (f" ({where})" if where else ""))
