"""A real `smolgepa optimize` killed with SIGKILL mid-run, then resumed, ends exactly like a run
that was never interrupted, and repeats no finished student call."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from smolgepa.optimize.rundir import read_jsonl
from support.resumable_run import ARGS, SMOLGEPA
from support.run_tables import run_tables

TIMEOUT = 1500


def iteration_events(run_dir: Path) -> list[dict]:
    return [e for e in read_jsonl(run_dir / "events.jsonl") if e["event"] == "iteration"]


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(finished_run: Path, tmp_path: Path) -> None:
    whole, killed = finished_run, tmp_path / "killed"

    process = subprocess.Popen([*SMOLGEPA, *ARGS, "--run-dir", str(killed)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + TIMEOUT
    while len(iteration_events(killed)) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, "the run finished before it could be killed; raise the budget"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = len(iteration_events(killed))
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["status"] == "running"  # a SIGKILL leaves no chance to say more
    cached_before = len(read_jsonl(killed / "cache" / "student.jsonl"))

    resumed = subprocess.run([*SMOLGEPA, "optimize", "--resume", "--run-dir", str(killed), "--quiet", "--json"],
                             check=True, timeout=TIMEOUT, capture_output=True, text=True)
    result = json.loads(resumed.stdout)
    assert result["status"] == "finished"
    assert result["calls"]["student"]["cached"] >= cached_before  # finished calls came from the cache

    assert run_tables(killed) == run_tables(whole)
    numbers = [e["iteration"] for e in iteration_events(killed)]
    assert numbers == sorted(set(numbers)) and len(numbers) > killed_at  # no iteration recorded twice
    keys = [r["key"] for r in read_jsonl(killed / "cache" / "student.jsonl")]
    assert len(keys) == len(set(keys))  # no student call was made twice
    events = [e["event"] for e in read_jsonl(killed / "events.jsonl")]
    assert events.count("run_started") == 1 and events.count("resumed") == 1 and events[-1] == "run_finished"


def test_resume_refuses_changed_settings(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    from smolgepa.optimize import OptimizeConfig

    (run_dir / "config.json").write_text(
        json.dumps({"schema_version": 1, "config": OptimizeConfig(task="sentiment", run_dir=str(run_dir)).to_json()})
    )
    out = subprocess.run([*SMOLGEPA, "optimize", "--resume", "--run-dir", str(run_dir), "--seed", "9"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "seed: saved 0, requested 9" in out.stderr and "start a new run directory" in out.stderr


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_records_no_cut_short_iteration_and_resumes(tmp_path: Path, sig: int) -> None:
    run_dir = tmp_path / "run"
    process = subprocess.Popen([*SMOLGEPA, *ARGS, "--run-dir", str(run_dir)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + TIMEOUT
    while len(iteration_events(run_dir)) < 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # well inside the next iteration (each takes several seconds)
    assert process.poll() is None, "the run finished before it could be interrupted; raise the budget"
    os.kill(process.pid, sig)
    assert process.wait(timeout=120) == 130
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert not [e for e in iteration_events(run_dir) if e.get("reason") == "the proposer returned nothing"]

    moved = tmp_path / "moved"
    run_dir.rename(moved)  # a run directory may be moved before it is resumed
    resumed = subprocess.run([*SMOLGEPA, "optimize", "--resume", "--run-dir", str(moved), "--quiet", "--json"],
                             timeout=TIMEOUT, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "finished"
    numbers = [e["iteration"] for e in iteration_events(moved)]
    assert numbers == sorted(set(numbers))
