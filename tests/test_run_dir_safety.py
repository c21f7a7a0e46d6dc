"""A run directory meets torn files, foreign files and a second process (real `smolgepa optimize`
subprocesses on the embedded student with the offline proposer, real files, real locks)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smolgepa.jsonfiles import read_jsonl
from smolgepa.optimize import OptimizeConfig
from support.resumable_run import ARGS, SMOLGEPA, TIMEOUT
from support.run_tables import run_tables

HOLD_LOCK = """
import sys, time
from smolgepa.locks import RunLock
lock = RunLock(sys.argv[1]); lock.acquire(); print("held", flush=True); time.sleep(600)
"""


def resume(run_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SMOLGEPA, "optimize", "--resume", "--run-dir", str(run_dir), "--quiet", "--json"],
                          capture_output=True, text=True, timeout=TIMEOUT)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smolgepa: error: "), result.stderr[-2000:]
    return lines[0]


def cut_last_line(path: Path, keep_fraction: float = 0.5) -> dict:
    """Cut the last record of a JSONL file part-way, as a process killed mid-write leaves it; returns that record."""
    data = path.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    last = json.loads(data[start:])
    path.write_bytes(data[: start + int((len(data) - start) * keep_fraction)])
    return last


@pytest.mark.slow
def test_torn_last_lines_are_dropped_with_one_warning_and_redone(finished_run: Path, tmp_path: Path) -> None:
    torn = tmp_path / "torn"
    shutil.copytree(finished_run, torn)
    lost_call = cut_last_line(torn / "cache" / "student.jsonl")
    lost_event = cut_last_line(torn / "events.jsonl")

    result = resume(torn)
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if "dropped a partial last line" in line]
    assert len(warnings) == 2 and "student.jsonl" in warnings[0] + warnings[1] and "events.jsonl" in "".join(warnings)
    calls = json.loads(result.stdout)["calls"]["student"]
    assert calls["calls"] - calls["cached"] == 1  # only the torn call was made again
    records = read_jsonl(torn / "cache" / "student.jsonl")
    assert records[-1]["key"] == lost_call["key"] and records[-1]["text"] == lost_call["text"]
    assert len(records) == len({r["key"] for r in records})
    assert read_jsonl(torn / "events.jsonl")[-1]["event"] == lost_event["event"] == "run_finished"
    assert run_tables(torn) == run_tables(finished_run)


def test_a_run_directory_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "future"
    run_dir.mkdir()
    config = OptimizeConfig(task="sentiment", run_dir=str(run_dir)).to_json()
    (run_dir / "config.json").write_text(json.dumps({"schema_version": 99, "tool": "smolgepa", "config": config}))
    line = one_error_line(resume(run_dir))
    assert "schema_version 99" in line and "reads version 1" in line and "config.json" in line


@pytest.mark.parametrize("content", ['{"name": "mlflow-run", "schema_version": 1}', '{"tool": "other", "config": {}}',
                                     "[1, 2]", "not json"])
def test_a_directory_of_another_tool_is_refused(tmp_path: Path, content: str) -> None:
    run_dir = tmp_path / "foreign"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(content)
    line = one_error_line(resume(run_dir))
    assert str(run_dir) in line and ("not written by smolgepa" in line or "not a readable smolgepa" in line)


@pytest.mark.slow
def test_a_second_process_is_refused_and_a_killed_holder_leaves_no_stale_lock(finished_run: Path,
                                                                                tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        events_before = (run_dir / "events.jsonl").read_bytes()
        line = one_error_line(resume(run_dir))
        assert f"pid {holder.pid}" in line and str(run_dir) in line and "--resume" in line
        assert (run_dir / "events.jsonl").read_bytes() == events_before  # the refused process wrote nothing
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    result = resume(run_dir)  # the kernel dropped the killed holder's lock
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["status"] == "finished"


@pytest.mark.slow
def test_two_optimize_processes_on_one_run_directory(finished_run: Path, tmp_path: Path) -> None:
    """A real running optimize holds its directory: a resume started beside it is refused at once."""
    run_dir = tmp_path / "busy"
    first = subprocess.Popen([*SMOLGEPA, *ARGS, "--budget", "60", "--run-dir", str(run_dir)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (run_dir / "events.jsonl").exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert first.poll() is None, "the first run ended before the second started"
        line = one_error_line(resume(run_dir))
        assert f"pid {first.pid}" in line
        assert first.poll() is None  # the refusal did not disturb the first run
    finally:
        first.kill()
        first.wait()


@pytest.mark.slow
def test_a_run_whose_directory_is_replaced_stops_and_writes_nothing_into_the_new_one(finished_run: Path,
                                                                                   tmp_path: Path) -> None:
    """A real optimize whose directory is moved away and replaced by another run's (as a study installs
    a worker's copy of a cell) stops with one error line and leaves the new directory as it found it."""
    run_dir = tmp_path / "replaced"
    first = subprocess.Popen([*SMOLGEPA, *ARGS, "--budget", "60", "--run-dir", str(run_dir)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (run_dir / "events.jsonl").exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert first.poll() is None, "the run ended before its directory was replaced"
        os.rename(run_dir, tmp_path / "moved-away")
        shutil.copytree(finished_run, run_dir)
        before = {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
        _, stderr = first.communicate(timeout=TIMEOUT)
    finally:
        first.kill()
        first.wait()
    line = one_error_line(subprocess.CompletedProcess(first.args, first.returncode, "", stderr))
    assert str(run_dir) in line and "removed or replaced" in line and f"pid {first.pid}" in line
    after = {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert after == before
