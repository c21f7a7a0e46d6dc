"""Real `smolgepa eval` and `smolgepa optimize` runs through the seeded fault proxy lose no results.

The proxy (tests/support/proxy.py) sits in front of the real llama.cpp server and refuses
connections, answers 5xx and 429, stalls past the client's `--timeout`, cuts and corrupts bodies and
answers slowly. An optimize run through it is also killed with SIGKILL mid-run and `--resume`d.

"Results lost" counts every way a run could get an answer wrong: an example missing, duplicated or
out of order, or an answer that differs from a direct run without the proxy (which is what taking
an answer from a cut or corrupted body would give), plus an optimize run whose tables differ.
Answers can be compared because the proxy runs with `separate_repeats`: llama.cpp servers answer an
exact repeat of the previous prompt (a retry after a cut reply) from their prompt cache, evaluating
only its last token, which changes some greedy answers (see the proxy's docstring); the spacer
request makes the repeat evaluate as in a direct run. Without it, this comparison would measure the
server's rounding, not smolgepa.

The closing line `faults injected: N, runs completed: M, results lost: 0` is printed to the
terminal even without `pytest -s`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support import tally
from support.fault_runs import EVAL, OPTIMIZE, DirectRuns
from support.proxy import FAULT_KINDS, FaultPlan

from smolgepa.optimize.rundir import read_jsonl
from support.run_tables import run_tables

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
TIMEOUT = 600  # seconds, per CLI run: a hang fails the test instead of stalling the suite
PLAN = FaultPlan(
    seed=20261125,
    # Every kind once, each followed by a clean exchange (six faults in a row on one request would
    # spend half a minute in backoff), then at random.
    schedule=tuple(step for kind in (*FAULT_KINDS, "slow") for step in (kind, "pass")),
    rates={"refuse": 0.03, "error5xx": 0.05, "ratelimit": 0.04, "timeout": 0.01, "cut": 0.05, "corrupt": 0.05,
           "slow": 0.03},  # about one connection in four; a timeout costs the client 2 s, so it is rarer
    timeout_delay=2.5,  # past the client's --timeout below
    refuse_seconds=0.2,
    slow_delay=0.3,
    separate_repeats=True,
)
FLAGS = ["--timeout", "2", "--retries", "10", "--backoff", "0.05"]  # as a user would for a flaky local server
KEY_ENV = "SMOLGEPA_FI_STUDENT_AUTH"  # deliberately not a name the run directory's redactor guesses
SENTINEL = "sentinel-7f3a9c41-student-key"


SECONDS: list[float] = []  # wall time of each CLI run, printed with the summary


def run(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    started = time.monotonic()
    result = subprocess.run([*SMOLGEPA, *args], capture_output=True, text=True, timeout=TIMEOUT, env=env)
    SECONDS.append(round(time.monotonic() - started, 1))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def answers(report: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(e["id"], e["raw"], e["predicted"]) for e in report["examples"]]


def lost_answers(got: list[tuple[str, str, str | None]], want: list[tuple[str, str, str | None]]) -> int:
    """Examples whose answer is missing, extra, moved or different (0 when `got` equals `want`)."""
    extra_or_missing = abs(len(got) - len(want))
    return extra_or_missing + sum(g != w for g, w in zip(got, want))


def tables(run_dir: Path, student: str) -> str:
    """`smolgepa show` output without timings, the run directory and the student's URL."""
    return run_tables(run_dir).replace(student, "STUDENT")


def iterations(run_dir: Path) -> list[dict[str, Any]]:
    return [e for e in read_jsonl(run_dir / "events.jsonl") if e["event"] == "iteration"]


def files_containing(directory: Path, secret: str) -> list[str]:
    return [str(path) for path in directory.rglob("*") if path.is_file() and secret.encode() in path.read_bytes()]


@pytest.mark.slow
def test_cli_runs_through_faults_lose_nothing(direct_runs: DirectRuns, make_proxy, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    direct = direct_runs.student
    proxy = make_proxy(PLAN)
    faulty = f"llamacpp:{proxy.base_url}"
    lost = completed = 0

    # eval: every example answered once, in order, exactly as without faults; one request at a time,
    # then 3 in flight.
    expected = answers(json.loads(direct_runs.eval("free")))  # `free` is eval's default reading
    for threads in ("1", "3"):
        through = answers(run(*EVAL, "--student", faulty, "--threads", threads, *FLAGS))
        lost += lost_answers(through, expected)
        completed += 1
    assert proxy.max_inflight >= 2, "--threads 3 should put several requests in flight"

    # optimize: a clean run, and one through the faults that is killed mid-run and resumed.
    clean, killed = direct_runs.optimize(), tmp_path / "killed"
    env = {**os.environ, KEY_ENV: SENTINEL}
    mark = proxy.mark()
    process = subprocess.Popen(
        [*SMOLGEPA, *OPTIMIZE, "--student", faulty, "--run-dir", str(killed), *FLAGS, "--api-key-env", KEY_ENV],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not iterations(killed):
            assert process.poll() is None, "the run ended before it could be killed; raise the budget"
            assert time.monotonic() < deadline, "no iteration within the time limit"
            time.sleep(0.1)
    finally:
        process.kill()  # SIGKILL: no chance to write anything more
        process.wait(timeout=30)
    assert json.loads((killed / "summary.json").read_text())["status"] == "running"
    # Server settings may change on resume (they do not change answers); the key stays in the environment.
    result = run("optimize", "--resume", "--run-dir", str(killed), "--quiet", "--json", "--timeout", "3",
                 env=env)
    assert result["status"] == "finished"
    got, want = tables(killed, faulty), tables(clean, direct)
    lost += 0 if got == want else 1
    completed += 1

    line = proxy.summary(completed, lost)
    tally.add("faults injected", proxy.faults_injected)
    tally.add("results lost", lost)
    with capsys.disabled():
        print(f"\n{line}\nfault counts: {dict(sorted(proxy.injected.items()))}; spacer requests: {proxy.spacers}; "
              f"seconds per run: {SECONDS}")
    assert got == want, f"the resumed run's tables differ from the clean run's:\n{got}\n---\n{want}"
    assert lost == 0
    assert completed == 3
    assert all(proxy.injected[kind] >= 1 for kind in (*FAULT_KINDS, "slow"))
    assert proxy.faults_injected >= 12, "the plan injected too few faults to test anything"

    numbers = [e["iteration"] for e in iterations(killed)]
    assert numbers == sorted(set(numbers))  # no iteration recorded twice
    keys = [r["key"] for r in read_jsonl(killed / "cache" / "student.jsonl")]
    assert len(keys) == len(set(keys))  # no student answer recorded twice
    # The key reached the server as a header, never the run directory; its name is recorded.
    sent = [r.headers.get("authorization") for r in proxy.requests[mark:]]
    assert sent and all(header == f"Bearer {SENTINEL}" for header in sent)
    assert files_containing(killed, SENTINEL) == []
    config = json.loads((killed / "config.json").read_text())["config"]
    assert config["student_api_key_env"] == KEY_ENV and config["student_timeout"] == 2.0
    resumed = [e for e in read_jsonl(killed / "events.jsonl") if e["event"] == "resumed"]
    assert len(resumed) == 1 and resumed[0]["config"]["student_timeout"] == 3.0
