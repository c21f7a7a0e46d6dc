"""A real `smolgepa optimize` (embedded student, offline proposer, tiny budget) killed with SIGKILL at
33 seeded random moments: a third of the kills land half-way through a JSONL append (student cache or
events), a third half-way through an atomic write (summary.json, config.json, the exported instruction
and program), and a third at random times from outside. The kills come in chains of three on one run
directory: a fresh run is killed, its `--resume` is killed, that resume's `--resume` is killed, and a
last `--resume` must reach the tables of the uninterrupted run without having repeated a finished
student call in any of them. So every kill is followed by a resume, and two kills in three land in a
resumed run; a chain does the run's work about once, where a kill resumed to the end each time did it
once per kill.

The in-write kills use the test-only hook `SMOLGEPA_TEST_KILL_AT=POINT:N` (smolgepa.killpoints).
The closing line `kills: K, resumes equal: K` is printed even without `pytest -s` (in one process; under
scripts/test's two workers the session's reliability line carries the same counts): a kill counts as
resumed equal when its chain's last resume reached the uninterrupted run's tables."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
CHAIN = 3  # kills per run directory
SEED = 20261201
KINDS = ("append", "atomic", "time")
# A resume makes at least these atomic writes (the summary at the end, the best instruction, the program).
RESUME_ATOMIC_WRITES = 3
# Two chains at a time: each run's interpreter start, imports and model load (single-threaded, a large
# share of a short run) overlap the other's decoding. The moments are drawn before any runs.
PARALLEL = 2


@dataclass(frozen=True)
class Moment:
    """Where in a run to kill it: `kind`, and `share` of the way through what is left to do (the share
    of the appends or atomic writes, or of the student calls then `delay` seconds, for `time`)."""

    kind: str
    share: float
    delay: float


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def appends(run_dir: Path) -> int:
    return lines(run_dir / "events.jsonl") + lines(run_dir / "cache" / "student.jsonl")


def student_calls(run_dir: Path) -> int:
    return lines(run_dir / "cache" / "student.jsonl")


def atomic_writes(run_dir: Path) -> int:
    """How many atomic writes a whole run makes: config, the summary after the seed, after each iteration
    and at the end, the best instruction and the program."""
    iterations = len(json.loads((run_dir / "summary.json").read_text())["iterations"])
    return 1 + (1 + iterations + 1) + 2


def command(run_dir: Path, resume: bool) -> list[str]:
    if resume:
        return [*SMOLGEPA, "optimize", "--resume", "--run-dir", str(run_dir), "--quiet"]
    return [*SMOLGEPA, *ARGS, "--run-dir", str(run_dir)]


def kill_from_outside(run_dir: Path, resume: bool, calls: int, delay: float) -> subprocess.Popen[bytes]:
    """Start (or resume) a run and SIGKILL it `delay` seconds after its student cache holds `calls` records."""
    process = subprocess.Popen(command(run_dir, resume), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + TIMEOUT
    while student_calls(run_dir) < calls and process.poll() is None:
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.01)
    time.sleep(delay)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return process


def killed_run(run_dir: Path, moment: Moment, whole: Path, resume: bool) -> bool:
    """Run (`resume`: resume) `run_dir` until killed at `moment`; True when killed. A fresh run always is
    (one that ended first is tried again, earlier); a resume may end first (False)."""
    def point(left: int) -> int:
        return min(int(moment.share * left), left - 1) if left > 0 else 0

    if moment.kind == "time":
        done = student_calls(run_dir) if resume else 0
        calls, delay = done + point(student_calls(whole) - done), moment.delay
        while kill_from_outside(run_dir, resume, calls, delay).returncode != -signal.SIGKILL:
            if resume:
                return False
            subprocess.run(["rm", "-rf", str(run_dir)], check=True)
            calls, delay = max(calls - 5, 0), 0.0
        return True
    if moment.kind == "append":
        left = appends(whole) - (appends(run_dir) if resume else 0)
    else:
        left = RESUME_ATOMIC_WRITES if resume else atomic_writes(whole)
    count = 1 + point(left)
    env = {**os.environ, ENV: f"{moment.kind}:{count}"}
    result = subprocess.run(command(run_dir, resume), env=env, capture_output=True, timeout=TIMEOUT)
    if resume and result.returncode == 0:
        return False
    assert result.returncode == -signal.SIGKILL, f"{moment.kind}:{count} was never reached: {result.stderr[-2000:]!r}"
    return True


def refuses_without_config(run_dir: Path) -> None:
    """A run killed before its config.json was written has nothing to resume, and `--resume` says so."""
    resumed = subprocess.run([*SMOLGEPA, "optimize", "--resume", "--run-dir", str(run_dir), "--quiet"],
                             capture_output=True, text=True, timeout=TIMEOUT)
    assert resumed.returncode == 2 and "config.json does not exist" in resumed.stderr, resumed.stderr[-2000:]


def check_resume(run_dir: Path, expected: str) -> bool:
    """Resume to the end; True when it reaches the whole run's tables and no student call was made twice."""
    before = {r["key"] for r in read_jsonl(run_dir / "cache" / "student.jsonl")} if run_dir.exists() else set()
    if not (run_dir / "config.json").exists():  # killed before the config was written: it starts again
        refuses_without_config(run_dir)
        subprocess.run(command(run_dir, resume=False), check=True, capture_output=True, timeout=TIMEOUT)
        return run_tables(run_dir) == expected
    resumed = subprocess.run([*command(run_dir, resume=True), "--json"], capture_output=True, text=True,
                             timeout=TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    keys = [r["key"] for r in read_jsonl(run_dir / "cache" / "student.jsonl")]
    calls = json.loads(resumed.stdout)["calls"]["student"]
    repeated = len(keys) != len(set(keys)) or calls["calls"] - calls["cached"] != len(set(keys) - before)
    numbers = [e["iteration"] for e in read_jsonl(run_dir / "events.jsonl") if e["event"] == "iteration"]
    leftovers = list(run_dir.rglob("*.tmp"))
    return not repeated and numbers == sorted(set(numbers)) and not leftovers and run_tables(run_dir) == expected


def test_sigkill_at_random_moments_then_resume_reaches_the_same_tables(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    whole = tmp_path / "whole"
    subprocess.run(command(whole, resume=False), check=True, capture_output=True, timeout=TIMEOUT)
    expected = run_tables(whole)
    rng = random.Random(SEED)
    moments = [Moment(KINDS[number % len(KINDS)], rng.random(), rng.uniform(0.0, 0.3)) for number in range(KILLS)]

    def kill_chain(numbers: list[int], name: str) -> list[int]:
        """Kill a run at each of `numbers`' moments in turn (the first in a fresh run, each next one in the
        resume of the last), then resume it to the end: the kills whose chain reached the whole run's tables.
        A resume that ends before its moment ends the chain; its kill and the rest start a new one."""
        run_dir = tmp_path / name
        for position, number in enumerate(numbers):
            resume = position > 0 and (run_dir / "config.json").exists()
            if position > 0 and not resume:
                refuses_without_config(run_dir)
            if not killed_run(run_dir, moments[number], whole, resume):
                done = numbers[:position] if check_resume(run_dir, expected) else []
                return done + kill_chain(numbers[position:], f"{name}+")
        return numbers if check_resume(run_dir, expected) else []

    chains = [list(range(first, min(first + CHAIN, KILLS))) for first in range(0, KILLS, CHAIN)]
    with ThreadPoolExecutor(PARALLEL) as pool:
        resumed_equal = [number for equal in pool.map(lambda chain: kill_chain(chain, f"chain-{chain[0]}"), chains)
                         for number in equal]
    equal = len(resumed_equal)
    unequal = [f"kill {number} ({moments[number].kind})" for number in range(KILLS) if number not in resumed_equal]
    tally.add("kills", KILLS)
    tally.add("resumes equal", equal)
    with capsys.disabled():
        print(f"\nkills: {KILLS}, resumes equal: {equal}")
    assert not unequal, f"kills whose resumes differ from the uninterrupted run: {unequal}"
