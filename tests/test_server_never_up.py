"""A server that was never up fails in one line within seconds; a server that answered and restarts is
waited for (`smolgepa.lm.servers.reach`), through the CLI and against a real llama.cpp server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.llama_server import LlamaServer, chat_posts, close_for_a_while, free_port

import smolgepa.tasks

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]


def run(*args: str, timeout: float = 600) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run([*SMOLGEPA, *args], capture_output=True, text=True, timeout=timeout)
    return result, time.monotonic() - started


def test_eval_against_a_port_with_no_server_is_one_line_within_five_seconds() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    result, seconds = run("eval", "--task", "sentiment", "--student", f"openai:x@{url}", timeout=60)
    assert result.returncode == 2, result.stderr
    assert seconds <= 5, seconds
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert url in lines[0] and "connection refused" in lines[0] and "--student" in lines[0]
    assert "start the server" in lines[0] and "Traceback" not in result.stderr


def test_an_unknown_host_is_one_line_within_five_seconds() -> None:
    result, seconds = run("eval", "--task", "sentiment", "--student", "llamacpp:http://no-such-host.invalid:8080/v1",
                          "--threads", "4", timeout=60)
    assert result.returncode == 2, result.stderr
    assert seconds <= 5, seconds
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown host" in lines[0] and "no-such-host.invalid" in lines[0], result.stderr


@pytest.mark.slow
def test_optimize_with_a_reflection_server_never_up_stops_with_its_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    result, _ = run("optimize", "--task", "sentiment", "--budget", "12", "--quiet", "--run-dir", str(tmp_path / "run"),
                    "--reflection", f"llamacpp:{url}", timeout=300)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "reflection server" in lines[0] and url in lines[0] and "--reflection" in lines[0]
    assert "--resume" in lines[0]  # what was finished is kept


def small_task(directory: Path, val: int = 30) -> Path:
    """`sentiment-extended` with `val` validation examples (a run long enough to restart a server in)."""
    data = Path(smolgepa.tasks.__file__).parent / "data"
    rows = [json.loads(line) for line in (data / "sentiment-extended.jsonl").read_text().splitlines() if line.strip()]
    kept = [r for r in rows if r["split"] == "val"][:val] + [r for r in rows if r["split"] != "val"][:12]
    (directory / "small.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    spec = (data / "sentiment-extended.yaml").read_text().replace("name: sentiment-extended", "name: small", 1)
    path = directory / "small.yaml"
    path.write_text(spec.replace("data: sentiment-extended.jsonl", "data: small.jsonl"))
    return path


@pytest.mark.slow
def test_a_server_that_answered_is_waited_for_through_a_restart(embedded_path: Path, tmp_path: Path) -> None:
    """The server answers the run's first requests, is stopped for longer than the never-up grace
    period, and started again on the same port: the run waits for it and finishes with every answer."""
    with LlamaServer(embedded_path, tmp_path / "server.log", n_ctx=2048) as server:
        before = chat_posts(server)
        process = subprocess.Popen(
            [*SMOLGEPA, "eval", "--json", "--task", str(small_task(tmp_path)), "--split", "val", "--no-cache",
             "--max-tokens", "8", "--student", f"llamacpp:{server.base_url}", "--backoff", "0.5"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            close_for_a_while(server, process, before + 3, seconds=3.0)  # twice a never-up server's grace
            out, err = process.communicate(timeout=600)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 0, err[-3000:]
    report = json.loads(out)
    assert report["n"] == 30 and len(report["examples"]) == 30
    assert "retry" in err and "Cannot reach" not in err  # it saw the outage and waited
