"""A real `smolgepa optimize` (embedded student, offline proposer, tiny budget) killed with SIGKILL at
33 seeded random moments, each followed by `--resume`: a third of the kills land half-way through a
JSONL append (student cache or events), a third half-way through an atomic write (summary.json,
config.json, the exported instruction and program), and a third at random times from outside. Every
resume must reach the tables of the uninterrupted run without repeating a finished student call.

The in-write kills use the test-only hook `SMOLGEPA_TEST_KILL_AT=POINT:N` (smolgepa.killpoints).
The closing line `kills: K, resumes equal: K` is printed even without `pytest -s` (in one process; under
scripts/test's two workers the session's reliability line carries the same counts)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support import tally

from smolgepa.jsonfiles import read_jsonl
from smolgepa.killpoints import ENV
from support.run_tables import run_tables

pytestmark = pytest.mark.slow

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
# `scored`, as the main job reads answers: one forward pass per call, half the time of `free` decoding.
ARGS = ["optimize", "--task", "sentiment", "--budget", "20", "--decode", "scored", "--seed", "3", "--quiet"]
TIMEOUT = 900
KILLS = 33
SEED = 20261201
KINDS = ("append", "atomic", "time")
# Two moments at a time: each one's interpreter start, imports and model load (single-threaded, a
# large share of a short run) overlap the other's decoding. The moments are drawn before any runs.
PARALLEL = 2


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def atomic_writes(run_dir: Path) -> int:
    """How many atomic writes a whole run makes: config, the summary after the seed, after each iteration
    and at the end, the best instruction and the program."""
    iterations = len(json.loads((run_dir / "summary.json").read_text())["iterations"])
    return 1 + (1 + iterations + 1) + 2


def kill_from_outside(run_dir: Path, calls: int, delay: float) -> subprocess.Popen[bytes]:
    """Start a run and SIGKILL it `delay` seconds after its student cache holds `calls` records."""
    process = subprocess.Popen([*SMOLGEPA, *ARGS, "--run-dir", str(run_dir)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + TIMEOUT
    while lines(run_dir / "cache" / "student.jsonl") < calls and process.poll() is None:
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.01)
    time.sleep(delay)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return process


def draw_moment(kind: str, rng: random.Random, whole: Path) -> tuple[int, float]:
    """Where to kill a run of `kind`: (cache records to wait for, then seconds) for `time`, else
    (the how-manyth append or atomic write to die in, 0)."""
    if kind == "time":
        return rng.randrange(lines(whole / "cache" / "student.jsonl")), rng.uniform(0.0, 0.3)
    appends = lines(whole / "events.jsonl") + lines(whole / "cache" / "student.jsonl")
    return rng.randint(1, appends if kind == "append" else atomic_writes(whole)), 0.0


def killed_run(run_dir: Path, kind: str, moment: tuple[int, float]) -> None:
    """Run until killed at `moment` of `kind`; a run that ended first is tried again, earlier."""
    if kind == "time":
        calls, delay = moment
        while kill_from_outside(run_dir, calls, delay).returncode != -signal.SIGKILL:
            subprocess.run(["rm", "-rf", str(run_dir)], check=True)
            calls, delay = max(calls - 5, 0), 0.0
        return
    count = moment[0]
    env = {**os.environ, ENV: f"{kind}:{count}"}
    result = subprocess.run([*SMOLGEPA, *ARGS, "--run-dir", str(run_dir)], env=env, capture_output=True,
                            timeout=TIMEOUT)
    assert result.returncode == -signal.SIGKILL, f"{kind}:{count} was never reached: {result.stderr[-2000:]!r}"


def check_resume(run_dir: Path, expected: str) -> bool:
    """Resume; True when it ends with the whole run's tables and repeated no finished student call."""
    before = {r["key"] for r in read_jsonl(run_dir / "cache" / "student.jsonl")} if run_dir.exists() else set()
    resumed = subprocess.run([*SMOLGEPA, "optimize", "--resume", "--run-dir", str(run_dir), "--quiet", "--json"],
                             capture_output=True, text=True, timeout=TIMEOUT)
    if not (run_dir / "config.json").exists():  # killed before the config was written: nothing to resume
        assert resumed.returncode == 2 and "config.json does not exist" in resumed.stderr, resumed.stderr[-2000:]
        subprocess.run([*SMOLGEPA, *ARGS, "--run-dir", str(run_dir)], check=True, capture_output=True,
                       timeout=TIMEOUT)
        return run_tables(run_dir) == expected
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    keys = [r["key"] for r in read_jsonl(run_dir / "cache" / "student.jsonl")]
    calls = json.loads(resumed.stdout)["calls"]["student"]
    repeated = len(keys) != len(set(keys)) or calls["calls"] - calls["cached"] != len(set(keys) - before)
    numbers = [e["iteration"] for e in read_jsonl(run_dir / "events.jsonl") if e["event"] == "iteration"]
    leftovers = list(run_dir.rglob("*.tmp"))
    return not repeated and numbers == sorted(set(numbers)) and not leftovers and run_tables(run_dir) == expected


def test_sigkill_at_random_moments_then_resume_reaches_the_same_tables(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    whole = tmp_path / "whole"
    subprocess.run([*SMOLGEPA, *ARGS, "--run-dir", str(whole)], check=True, capture_output=True, timeout=TIMEOUT)
    expected = run_tables(whole)
    rng = random.Random(SEED)
    kinds = [KINDS[number % len(KINDS)] for number in range(KILLS)]
    moments = [draw_moment(kind, rng, whole) for kind in kinds]  # the draws of the sequential version

    def kill_and_resume(number: int) -> bool:
        run_dir = tmp_path / f"killed-{number}"
        killed_run(run_dir, kinds[number], moments[number])
        return check_resume(run_dir, expected)

    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(kill_and_resume, range(KILLS)))
    equal = sum(results)
    unequal = [f"killed-{number} ({kinds[number]})" for number, same in enumerate(results) if not same]
    tally.add("kills", KILLS)
    tally.add("resumes equal", equal)
    with capsys.disabled():
        print(f"\nkills: {KILLS}, resumes equal: {equal}")
    assert not unequal, f"resumes that differ from the uninterrupted run: {unequal}"
