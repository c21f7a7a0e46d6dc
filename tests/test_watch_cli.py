"""`smolgepa watch` through the command line, with the real embedded SmolLM2-135M: a real writer process
appends an agent's steps to a file while `watch` follows it; one update per step, a marked line where
the state changes, one message per bad line, a line still being written waited for, Ctrl-C a clean
stop; `--json` and `--once`, and a run directory's saved reading fit."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from smolgepa.tasks import load_task

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
LABELS = set(load_task("agent_monitor").labels)
POLL = "0.05"
# Appends each JSON-encoded text it reads on stdin to the file, then says so.
WRITER = ("import json, sys\n"
          "for line in sys.stdin:\n"
          "    with open(sys.argv[1], 'a', encoding='utf-8') as handle:\n"
          "        handle.write(json.loads(line))\n"
          "    print('written', flush=True)\n")


class Process:
    """A running process whose stdout and stderr lines are collected as they come."""

    def __init__(self, command: list[str]) -> None:
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=lambda s=stream, k=sink: k.extend(line.rstrip("\n") for line in s),
                             daemon=True).start()

    def wait_for(self, done: Callable[[], bool], what: str, timeout: float = 300) -> None:
        """Poll until `done()` holds; fail with everything printed so far after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline or self.proc.poll() is not None and not done():
                time.sleep(0.2)  # the reader threads catch up with a process that just ended
                if done():
                    return
                self.stop()
                pytest.fail(f"{what}: not seen within {timeout}s\nstdout:\n" + "\n".join(self.out)
                            + "\nstderr:\n" + "\n".join(self.err))
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Writer(Process):
    """The agent's logger: a process appending text to the trace file."""

    def __init__(self, path: Path) -> None:
        super().__init__([sys.executable, "-c", WRITER, str(path)])

    def append(self, text: str) -> None:
        count = len(self.out)
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(text) + "\n")
        self.proc.stdin.flush()
        self.wait_for(lambda: len(self.out) > count, "the writer's append", timeout=30)


def line(value: object) -> str:
    return json.dumps(value) + "\n"


def am09() -> tuple[str, list[dict]]:
    """A built-in trace whose state the seed instruction reads as changing (musing, then a tool call)."""
    trace = next(e.raw for e in load_task("agent_monitor").examples if e.id == "am-09").to_dict()
    return trace["task"], trace["turns"]


def watch(*args: str) -> Process:
    return Process([*SMOLGEPA, "watch", *args, "--poll", POLL])


def updates_of(out: list[str]) -> list[str]:
    return [text for text in out if text.startswith("step ")]


@pytest.mark.slow
def test_watch_prints_each_step_marks_state_changes_skips_bad_lines_and_stops_on_ctrl_c(
        tmp_path: Path, embedded_spec: str) -> None:
    path = tmp_path / "agent.jsonl"
    task, turns = am09()
    monitor = watch(str(path), "--task", "agent_monitor", "--decode", "scored", "--student", embedded_spec, "--no-cache")
    writer = Writer(path)
    try:
        monitor.wait_for(lambda: any("does not exist yet" in text for text in monitor.err), "the waiting note")
        writer.append(line({"task": task}) + line(turns[0]))
        monitor.wait_for(lambda: len(updates_of(monitor.out)) == 1, "the first update")
        for number, turn in enumerate(turns[1:4], start=2):
            writer.append(line(turn))
            monitor.wait_for(lambda n=number: len(updates_of(monitor.out)) == n, f"update {number}")
        writer.append("{not json\n" + line({"role": "assistant", "thought": "x"}))  # lines 6 and 7: bad
        half = line(turns[4])
        writer.append(half[:20])  # the call, cut mid-line: the writer is still writing it
        bad = lambda: [text for text in monitor.err if "skipped" in text]  # noqa: E731
        monitor.wait_for(lambda: len(bad()) == 2, "the two bad lines' messages")
        time.sleep(10 * float(POLL))  # ten polls: the cut line must not be read, nor refused
        assert len(updates_of(monitor.out)) == 4 and len(bad()) == 2
        writer.append(half[20:] + line(turns[5]))
        monitor.wait_for(lambda: len(updates_of(monitor.out)) == 5, "the update after the cut line was finished")
        monitor.proc.send_signal(signal.SIGINT)
        assert monitor.proc.wait(timeout=60) == 0
        monitor.wait_for(lambda: bool(monitor.out) and monitor.out[-1].startswith("stopped"), "the last line")
    finally:
        monitor.stop()
        writer.stop()
    errors = bad()
    assert errors[0].startswith(f"smolgepa: {path}:6: malformed JSON") and errors[0].endswith(
        "Write each line as one JSON object ending with a newline.")
    assert errors[1] == (f"smolgepa: {path}:7: unknown key(s) 'thought' in an assistant message; allowed: content, "
                         "role. The line is skipped.")
    assert not any(":8:" in text for text in monitor.err)  # the cut line, once whole, was read
    updates = updates_of(monitor.out)
    parsed = [text.split() for text in updates]  # step N turns M LABEL p=0.xx
    assert [(p[1], p[3]) for p in parsed] == [("1", "1"), ("2", "2"), ("3", "3"), ("4", "4"), ("5", "6")]
    labels = [p[4] for p in parsed]
    assert set(labels) <= LABELS and all(p[5].startswith("p=") and 0 < float(p[5][2:]) <= 1 for p in parsed)
    assert len(set(labels)) > 1, f"the trace's state never changed: {labels}"
    # a marked line right after each update whose state differs from the one before, and nowhere else
    expected = []
    for k, (update, fields) in enumerate(zip(updates, parsed)):
        expected.append(update)
        if k and labels[k] != labels[k - 1]:
            expected.append(f"*** state changed at step {fields[1]}: {labels[k - 1]} -> {labels[k]} ({fields[5]})")
    assert monitor.out[:-1] == expected
    assert monitor.out[-1] == f"stopped after 5 updates: {labels[-1]} ({parsed[-1][5]}) at step 5"


def test_watch_json_follows_a_chat_transcript_one_message_a_line(tmp_path: Path, embedded_spec: str) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text(line({"role": "system", "content": "You are a coding agent."})
                    + line({"role": "user", "content": "Fix the failing date test in utils."}), encoding="utf-8")
    monitor = watch(str(path), "--from", "openai-chat", "--json", "--task", "agent_monitor", "--decode", "scored",
                    "--student", embedded_spec, "--no-cache")
    writer = Writer(path)
    calls = [("read_file", {"path": "utils.py"}, "def parse(d): return d"),
             ("run_tests", {}, "FAILED test_dates.py::test_parse - AssertionError"),
             ("run_tests", {}, "FAILED test_dates.py::test_parse - AssertionError")]
    try:
        monitor.wait_for(lambda: any("holds no trace yet" in text for text in monitor.err), "the waiting note")
        for number, (tool, args, output) in enumerate(calls, start=1):
            call = {"role": "assistant", "content": "", "tool_calls": [
                {"id": f"c{number}", "type": "function", "function": {"name": tool, "arguments": json.dumps(args)}}]}
            writer.append(line(call) + line({"role": "tool", "tool_call_id": f"c{number}", "content": output}))
            monitor.wait_for(lambda n=number: len(monitor.out) == n, f"update {number}")
        monitor.proc.send_signal(signal.SIGTERM)  # a supervisor's stop: the same clean end as Ctrl-C
        assert monitor.proc.wait(timeout=60) == 0
        monitor.wait_for(lambda: len(monitor.out) == 4, "the stop object")
    finally:
        monitor.stop()
        writer.stop()
    *updates, stopped = [json.loads(text) for text in monitor.out]
    assert [(u["update"], u["step"], u["turns"], u["line"]) for u in updates] == [
        (1, 1, 2, 4), (2, 2, 4, 6), (3, 3, 6, 8)]
    for before, update in zip([None, *updates], updates):
        assert update["event"] == "update" and update["label"] in LABELS
        assert set(update["scores"]) == LABELS and update["p"] == update["scores"][update["label"]]
        assert update["previous"] == (before["label"] if before else None)
        assert update["changed"] == (before is not None and before["label"] != update["label"])
        assert update["seconds"] > 0
    assert stopped == {"event": "stopped", "updates": 3, "step": 3, "label": updates[-1]["label"],
                       "p": updates[-1]["p"]}
    assert not any("skipped" in text for text in monitor.err)


@pytest.fixture(scope="module")
def hidden_run(tmp_path_factory: pytest.TempPathFactory, embedded_spec: str) -> Path:
    """A short run on agent_monitor read with `hidden`; its best candidate's reading fit is saved beside it."""
    run_dir = tmp_path_factory.mktemp("watch") / "run"
    made = subprocess.run([*SMOLGEPA, "optimize", "--task", "agent_monitor", "--student", embedded_spec, "--decode",
                           "hidden", "--budget", "8", "--max-proposals", "1", "--run-dir", str(run_dir), "--quiet"],
                          capture_output=True, text=True, timeout=1200)
    assert made.returncode == 0, made.stderr
    assert (run_dir / "program.fit.npz").is_file()
    return run_dir


@pytest.mark.slow
def test_watch_once_reads_to_the_end_with_a_runs_saved_fit(tmp_path: Path, hidden_run: Path) -> None:
    task, turns = am09()
    path = tmp_path / "agent.jsonl"
    path.write_text(line({"task": task}) + "".join(line(turn) for turn in turns[:4]) + "[1]\n"
                    + line(turns[4]) + line(turns[5])[:-1], encoding="utf-8")  # the last line lacks its newline
    human = subprocess.run([*SMOLGEPA, "watch", str(path), "--run", str(hidden_run), "--once"],
                           capture_output=True, text=True, timeout=600)
    assert human.returncode == 0, human.stderr
    (update,) = human.stdout.splitlines()  # one update: the trace at the end of the file
    step, steps, _, turn_count, label, chance = update.split()
    assert (step, steps, turn_count, label in LABELS, chance.startswith("p=")) == ("step", "5", "6", True, True)
    assert "fitting the reading" not in human.stderr  # the run's saved fit served: nothing read again
    (problem,) = human.stderr.strip().splitlines()
    assert problem.startswith(f"smolgepa: {path}:6: a line must be a JSON object.") and problem.endswith("skipped.")
    with path.open("a", encoding="utf-8") as handle:
        handle.write('\n{"role": "tool", "name": "python", "out')  # cut off: the writer stopped mid-line
    machine = subprocess.run([*SMOLGEPA, "watch", str(path), "--run", str(hidden_run), "--once", "--json"],
                             capture_output=True, text=True, timeout=600)
    assert machine.returncode == 0, machine.stderr
    (data,) = [json.loads(text) for text in machine.stdout.splitlines()]
    assert (data["event"], data["update"], data["step"], data["turns"], data["line"]) == ("update", 1, 5, 6, 9)
    assert data["label"] == label and f"p={data['p']:.2f}" == chance and data["changed"] is False
    assert f"{path}:9: the last line is cut off" in machine.stderr
    assert machine.stderr.count("skipped") == 2  # line 6 and the cut-off line, one message each


@pytest.mark.slow
def test_watch_needs_a_monitor_and_keeps_a_runs_rendering(tmp_path: Path, hidden_run: Path) -> None:
    path = tmp_path / "agent.jsonl"
    path.write_text("", encoding="utf-8")
    for args, message in [((), "watch needs a monitor: --run RUN_DIR"),
                          (("--run", str(hidden_run), "--render", "summary"), "--render goes with --task"),
                          (("--task", "sentiment"), "classifies text, not agent traces")]:
        done = subprocess.run([*SMOLGEPA, "watch", str(path), "--once", *args], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, done.stderr
    empty = subprocess.run([*SMOLGEPA, "watch", str(path), "--once", "--run", str(hidden_run)], capture_output=True,
                           text=True, timeout=300)
    assert empty.returncode == 2 and "holds no trace yet" in empty.stderr
