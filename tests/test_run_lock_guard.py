"""The run lock's guard against a directory removed or replaced under the process holding it (real files)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from smolgepa.errors import RunDirReplacedError
from smolgepa.jsonfiles import JsonlAppender, Redactor, read_jsonl
from smolgepa.optimize.rundir import RunDir
from smolgepa.locks import RunLock


def test_the_guard_passes_while_the_directory_is_the_one_locked(tmp_path: Path) -> None:
    with RunLock(tmp_path) as lock:
        lock.check()
        appender = JsonlAppender(tmp_path / "events.jsonl", Redactor(), lock.check)
        appender.append({"event": "one"})
    assert read_jsonl(tmp_path / "events.jsonl") == [{"event": "one"}]


@pytest.mark.parametrize("how", ["removed", "re-made", "swapped by rename"])
def test_a_write_into_a_replaced_directory_is_refused_and_writes_nothing(tmp_path: Path, how: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    run_dir = RunDir(run)
    other = RunLock(tmp_path / "other")  # another run's lock, for the swap
    with RunLock(run) as lock:
        run_dir.guard = lock.check
        appender = JsonlAppender(run_dir.events_file, run_dir.redact, run_dir.guard)
        appender.append({"event": "before"})
        if how == "removed":
            shutil.rmtree(run)
        elif how == "re-made":
            shutil.rmtree(run)
            run.mkdir()
        else:
            os.rename(run, tmp_path / "old")
            (tmp_path / "other").mkdir()
            other.acquire()
            os.rename(tmp_path / "other", run)
        found = sorted(p.name for p in run.iterdir()) if run.exists() else None
        with pytest.raises(RunDirReplacedError, match="removed or replaced") as refused:
            appender.append({"event": "after"})
        assert str(run) in str(refused.value) and f"pid {os.getpid()}" in str(refused.value)
        for write in (lambda: run_dir.write_summary({"status": "running"}),
                      lambda: run_dir.write_text(run_dir.best_instruction_file, "x\n"),
                      lambda: run_dir.write_config({}, {})):
            with pytest.raises(RunDirReplacedError):
                write()
        assert (sorted(p.name for p in run.iterdir()) if run.exists() else None) == found
    other.release()


def test_a_directory_nobody_holds_has_no_guard(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path / "free")
    run_dir.prepare(resume=False)
    run_dir.write_summary({"status": "running"})
    assert run_dir.read_summary()["status"] == "running"
