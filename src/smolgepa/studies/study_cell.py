"""One study cell away from the study directory: packed as bytes, run on a worker, installed back.

A worker needs no shared filesystem. The driver sends the cell's configuration and, for an
interrupted cell, its partial run directory as a tar blob (`pack`); the worker unpacks it into a
temporary directory, runs (or resumes) the cell there and sends the whole run directory back the
same way. The driver checks the blob and installs it into the study directory atomically
(`install`): the cell is either the old one or the new one, never half of each.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from smolgepa.errors import SmolgepaError
from smolgepa.jsonfiles import write_text_atomic
from smolgepa.optimize.config import OptimizeConfig


def pack(run_dir: Path) -> bytes:
    """The run directory's files as a gzipped tar (names relative to the directory)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(run_dir.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=path.relative_to(run_dir).as_posix(), recursive=False)
    return buffer.getvalue()


def unpack(blob: bytes, into: Path, where: str) -> None:
    """Extract a `pack` blob into the empty directory `into`; a member that would land outside it,
    or anything but plain files and folders, is refused."""
    into.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SmolgepaError(
            f"The run directory sent back for {where} is damaged ({type(exc).__name__}: {exc}). "
            "Run the study again: the cell is retried from its last good state."
        ) from None


def check_run_dir(run_dir: Path, where: str) -> None:
    """A run directory came back whole: config.json and summary.json are there and parse."""
    for name in ("config.json", "summary.json"):
        try:
            json.loads((run_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SmolgepaError(
                f"The run directory sent back for {where} has no readable {name} ({exc}). "
                "Run the study again: the cell is retried from its last good state."
            ) from None


RECORDS_NAMING_THE_RUN_DIR = ("config.json", "summary.json", "events.jsonl")


def _relocate(staging: Path, worker_dir: str, run_dir: Path) -> None:
    """Name the final path where the records name the worker's temporary directory, so that they
    read as a local run's would."""
    old, new = json.dumps(worker_dir)[1:-1], json.dumps(str(run_dir))[1:-1]
    for name in RECORDS_NAMING_THE_RUN_DIR:
        path = staging / name
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if old in text:
                write_text_atomic(path, text.replace(old, new))


def install(blob: bytes, worker_dir: str, run_dir: Path) -> None:
    """Check a run directory sent back by a worker (which ran it at `worker_dir`) and put it at
    `run_dir` atomically (temporary directory beside it, then renames); a bad blob leaves `run_dir`
    as it was."""
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.incoming-", dir=run_dir.parent))
    try:
        unpack(blob, staging, f"cell {run_dir.name}")
        check_run_dir(staging, f"cell {run_dir.name}")
        _relocate(staging, worker_dir, run_dir)
        old = run_dir.with_name(f".{run_dir.name}.replaced")
        if old.exists():
            shutil.rmtree(old)
        if run_dir.exists():
            os.rename(run_dir, old)
        os.rename(staging, run_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def recover(run_dir: Path) -> None:
    """Undo an install cut short between its two renames (the old cell is put back)."""
    old = run_dir.with_name(f".{run_dir.name}.replaced")
    if old.exists() and not run_dir.exists():
        os.rename(old, run_dir)


def run_cell(config: OptimizeConfig, name: str, partial: bytes | None) -> Iterator[tuple[str, object]]:
    """The worker's side (a Ray task): yields `("node", where)` when it starts, then
    `("done", (status, blob, path it ran at))`. `partial` is the interrupted run directory to resume."""
    from smolgepa.optimize import optimize

    yield "node", _where()
    with tempfile.TemporaryDirectory(prefix="smolgepa-cell-") as scratch:
        run_dir = Path(scratch) / name
        if partial is not None:
            unpack(partial, run_dir, f"cell {name}")
        result = optimize(config.with_changes(run_dir=str(run_dir), resume=partial is not None))
        yield "done", (str(result.summary.get("status", "?")), pack(run_dir), str(run_dir))


def _where() -> str:
    """This worker, for progress lines: host, Ray node (short id) and process id."""
    try:
        import ray

        node = " node " + ray.get_runtime_context().get_node_id()[:8]
    except (ImportError, RuntimeError, AttributeError):
        node = ""
    return f"{socket.gethostname()}{node} pid {os.getpid()}"
