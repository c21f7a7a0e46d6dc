"""The progress display: a live bar with rate and ETA in a real terminal (tmux), plain lines in a pipe,
nothing with --quiet or --json."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smolgepa.progress import Progress, as_progress, clock, count_line, stderr_progress
from smolgepa.runrecord import read_summary

ROOT = Path(__file__).resolve().parents[1]
SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
# tqdm's bar: `desc:  40%|████      | 48/120 [00:10<00:15,  3.20ex/s, note]`: count, elapsed<ETA, rate.
BAR = r"{desc}:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+) \[\d\d:\d\d<\d\d:\d\d,\s+[\d.]+{unit}/s(?:, (.*?))?\]"


def test_lines_mode_writes_counts_with_rate_and_eta_and_the_last_count() -> None:
    stream = io.StringIO()
    progress = Progress("lines", stream, interval=0.0)
    progress.start("eval", 4)
    progress.advance()
    progress.update(4, note="done")
    progress.say("a whole line")
    lines = stream.getvalue().splitlines()
    assert re.fullmatch(r"eval: 1/4 \(25%\), [\d.]+/s, ETA \d+:\d\d", lines[0])
    assert re.fullmatch(r"eval: 4/4 \(100%\), [\d.]+/s, done", lines[1])
    assert lines[2] == "a whole line"
    quiet = io.StringIO()
    progress = Progress("lines", quiet, interval=3600.0)
    progress.start("eval", 10)
    progress.advance()
    assert quiet.getvalue() == ""  # at most one count line per interval, but always the last one
    progress.update(10)
    assert quiet.getvalue().startswith("eval: 10/10 (100%)")


def test_quiet_shows_nothing_but_warnings_and_a_line_callback_gets_whole_lines_only() -> None:
    stream = io.StringIO()
    progress = stderr_progress(quiet=True, stream=stream)
    progress.start("eval", 2)
    progress.update(2)
    progress.say("hidden")
    progress.warn("smolgepa: skipped line 2")
    assert stream.getvalue() == "smolgepa: skipped line 2\n"
    lines: list[str] = []
    shown = as_progress(lines.append)
    shown.start("optimizing", 10)
    shown.update(10, note="best val 50.0%")
    shown.prefixed("[1/2] cell: ").say("iteration 1: accepted")
    assert lines == ["[1/2] cell: iteration 1: accepted"]


def test_count_line_and_clock() -> None:
    assert count_line("predict", 3, None, 2.0) == "predict: 3, 1.50/s"
    assert count_line("eval", 30, 120, 10.0, "x") == "eval: 30/120 (25%), 3.00/s, ETA 0:30, x"
    assert clock(3723) == "1:02:03" and clock(59.6) == "1:00"


def test_a_pipe_gets_plain_lines_and_json_or_quiet_get_none() -> None:
    plain = subprocess.run([*SMOLGEPA, "eval", "--task", "sentiment"], capture_output=True, text=True, timeout=600)
    assert plain.returncode == 0, plain.stderr
    assert re.search(r"^eval sentiment val: 6/6 \(100%\), [\d.]+/s$", plain.stderr, re.MULTILINE), plain.stderr
    assert "\r" not in plain.stderr and "|" not in plain.stderr  # no bar drawn into a pipe
    for flag in ("--json", "--quiet"):
        silent = subprocess.run([*SMOLGEPA, "eval", "--task", "sentiment", flag], capture_output=True, text=True,
                                timeout=600)
        assert silent.returncode == 0 and "eval sentiment" not in silent.stderr, silent.stderr


class Tmux:
    """A tmux server of its own, one 200x50 window running a shell script; its pane read with capture-pane."""

    def __init__(self, name: str, script: str) -> None:
        self.base = ["tmux", "-L", f"smolgepa-test-{os.getpid()}-{name}"]
        environment = {"PYTHONPATH": str(ROOT / "src"), "SMOLGEPA_CACHE_DIR": os.environ["SMOLGEPA_CACHE_DIR"]}
        exports = "".join(f"export {key}='{value}'; " for key, value in environment.items())
        command = f"{exports}cd '{ROOT}'; {script}; echo SCRIPT-DONE; sleep 600"
        subprocess.run([*self.base, "new-session", "-d", "-x", "200", "-y", "50", "-s", "t", "bash", "-c", command],
                       check=True, timeout=30)

    def pane(self) -> str:
        return subprocess.run([*self.base, "capture-pane", "-p", "-t", "t", "-S", "-200"], capture_output=True,
                              text=True, timeout=30).stdout

    def watch(self, until: str, timeout: float) -> list[str]:
        """Every capture of the pane (every 0.2 s) until `until` appears in it."""
        captures: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            captures.append(self.pane())
            if until in captures[-1]:
                return captures
            time.sleep(0.2)
        raise AssertionError(f"{until!r} did not appear in {timeout} s; the pane shows:\n{captures[-1]}")

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def tmux() -> type[Tmux]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed: the terminal test needs a real terminal")
    return Tmux


def bar_counts(captures: list[str], desc: str, unit: str) -> list[tuple[int, int, str]]:
    """(done, total, note) of every bar seen in the captures."""
    found = []
    for capture in captures:
        found += [(int(m[0]), int(m[1]), m[2]) for m in re.findall(BAR.format(desc=desc, unit=unit), capture)]
    return found


def test_eval_shows_a_live_bar_with_rate_and_eta_in_a_terminal(tmux: type[Tmux]) -> None:
    session = tmux("eval", f"'{sys.executable}' -m smolgepa eval --task sentiment-extended --split val --no-cache")
    try:
        captures = session.watch(until="/120 [", timeout=300)
        deadline = time.monotonic() + 300
        while not any(0 < done < total for done, total, _ in bar_counts(captures, "eval sentiment-extended val", "ex")):
            assert time.monotonic() < deadline, captures[-1]
            if "SCRIPT-DONE" in captures[-1]:  # the eval ended: the assertions below say what was seen
                break
            captures.append(session.pane())
            time.sleep(0.2)
    finally:
        session.close()
    counts = bar_counts(captures, "eval sentiment-extended val", "ex")
    assert counts and all(total == 120 for _, total, _ in counts)
    assert any(0 < done < 120 for done, _, _ in counts), "the bar was never seen part way"


@pytest.mark.slow
def test_optimize_and_predict_show_budget_best_val_and_fate_in_a_terminal(tmux: type[Tmux], tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(f'{{"id": {i}, "text": "Review number {i}: it works."}}\n' for i in range(4)))
    script = (f"'{sys.executable}' -m smolgepa optimize --task sentiment --decode scored --budget 30 "
              f"--run-dir '{run_dir}' > /dev/null; '{sys.executable}' -m smolgepa predict '{run_dir}' '{inputs}' "
              "> /dev/null")
    session = tmux("optimize", script)
    try:
        captures = session.watch(until="SCRIPT-DONE", timeout=900)
    finally:
        session.close()
    final = captures[-1]
    optimizing = bar_counts([final], "optimizing", "call")
    assert optimizing, final
    done, total, note = optimizing[-1]
    used = read_summary(run_dir).counts.metric_calls
    assert done == used > 0 and total == max(30, used)  # the budget used, at the end (GEPA may pass it)
    assert re.fullmatch(r"best val \d+\.\d%, last proposal (accepted|rejected|failed|duplicate|skipped|"
                        r"too_long|invalid|exhausted)", note or ""), note
    assert re.search(r"^iteration 1: \w+", final, re.MULTILINE)  # each iteration's line, written above the bar
    assert bar_counts([final], "predict", "line")[-1][:2] == (4, 4)
