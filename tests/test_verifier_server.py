"""The verifier model against a real llama.cpp server (the embedded SmolLM2-135M behind
`python -m llama_cpp.server`): its quality is not the point, the requests and the bookkeeping are.

`data audit --verifier` gives every suspect a verdict and a reason; `data label` measures agreement on val,
labels new inputs into a task `optimize` runs on, refuses below `--min-agreement`, counts junk replies
(no label, a label outside the set) without losing the labelled ones, and waits for a server that restarts;
a verifier never up is one line; `optimize --verifier` records the verifier's answers and a run killed and
resumed asks no question twice and ends with the same tables as a run never interrupted.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.llama_server import LlamaServer, chat_posts, close_for_a_while, free_port
from support.run_tables import run_tables

import smolgepa.tasks
from smolgepa.optimize.rundir import read_jsonl

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
DATA = Path(smolgepa.tasks.__file__).parent / "data"


def run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SMOLGEPA, *args], capture_output=True, text=True, timeout=timeout)


def extended_inputs(path: Path, n: int, start: int = 0) -> Path:
    """`n` texts of sentiment-extended as unlabelled inputs ({"id", "text"})."""
    rows = [json.loads(line) for line in (DATA / "sentiment-extended.jsonl").read_text().splitlines() if line.strip()]
    path.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in rows[start: start + n]))
    return path


def chat_bodies(proxy, since: int = 0) -> list[dict]:  # noqa: ANN001 - support.proxy.Proxy
    return [b for b in proxy.bodies(since) if isinstance(b, dict) and "messages" in b]


@pytest.mark.slow
def test_audit_gives_each_suspect_a_verdict_and_a_reason(make_proxy) -> None:  # noqa: ANN001
    proxy = make_proxy()
    out = run("data", "audit", "--task", "sentiment", "--source", "tfidf", "--json",
              "--verifier", f"llamacpp:{proxy.base_url}")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    suspects = data["suspects"]
    assert suspects
    for suspect in suspects:
        assert suspect["verdict"] in ("agree", "relabel", "junk") and isinstance(suspect["reason"], str)
        assert (suspect["verifier_label"] is None) == (suspect["verdict"] == "junk")
        assert suspect["verdict"] != "agree" or suspect["verifier_label"] == suspect["label"]
    assert data["verifier"]["junk"] == sum(s["verdict"] == "junk" for s in suspects)
    bodies = chat_bodies(proxy)
    assert len(bodies) == len(suspects) == data["verifier"]["calls"]  # one plain-text question each
    for body, suspect in zip(bodies, suspects):
        assert "response_format" not in body  # never JSON mode
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
        assert f"The text was labelled '{suspect['label']}'" in body["messages"][1]["content"]


def posneg_task(directory: Path) -> Path:
    """Positive and negative sentiment under the labels `pos` and `neg` (a model tends to answer `positive`)."""
    rows = [json.loads(line) for line in (DATA / "sentiment.jsonl").read_text().splitlines() if line.strip()]
    names = {"positive": "pos", "negative": "neg"}
    kept = [dict(r, label=names[r["label"]]) for r in rows if r["label"] in names]
    (directory / "posneg.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    path = directory / "posneg.yaml"
    path.write_text("name: posneg\ndescription: 'Sentiment of a short text: positive or negative.'\n"
                    "labels:\n  pos: good\n  neg: bad\ndata: posneg.jsonl\n")
    return path


def test_labels_outside_the_set_and_unreadable_replies_are_junk(llama_server, tmp_path: Path) -> None:  # noqa: ANN001
    task = posneg_task(tmp_path)
    inputs = extended_inputs(tmp_path / "in.jsonl", 8)
    out = run("data", "label", "--task", str(task), "--verifier", f"llamacpp:{llama_server.base_url}",
              "--write", str(tmp_path / "out.yaml"), "--quiet", str(inputs))
    lines = out.stdout.splitlines()
    junk = [line for line in lines if line.startswith("Verifier junk:")]
    assert len(junk) == 1, out.stdout + out.stderr  # one line per run
    outside = int(re.search(r"(\d+) with a label outside the task's set", junk[0]).group(1))
    assert outside >= 1 and "'positive'" in junk[0]  # `positive` is not a label of this task
    assert "Traceback" not in out.stderr
    if out.returncode == 0:  # the inputs that got a label are written, the junk ones left out
        labelled = int(re.search(r"labelled (\d+) of 8 inputs", out.stdout).group(1))
        rows = read_jsonl(tmp_path / "out.jsonl")
        assert len(rows) == labelled and {r["label"] for r in rows} <= {"pos", "neg"}
    else:  # not one label: nothing to write, said in one line
        assert out.returncode == 2 and "gave no label for any of the 8 inputs" in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_label_measures_agreement_writes_a_task_and_optimize_runs_on_it(make_proxy, tmp_path: Path) -> None:  # noqa: ANN001
    proxy = make_proxy()
    verifier = f"llamacpp:{proxy.base_url}"
    inputs = extended_inputs(tmp_path / "in.jsonl", 14)
    out = run("data", "label", "--task", "sentiment", "--verifier", verifier, "--write", str(tmp_path / "new.yaml"),
              "--json", str(inputs))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    agreement = result["agreement"]
    assert agreement["n"] == 6 and 0 <= agreement["ci95"][0] <= agreement["rate"] <= agreement["ci95"][1] <= 1
    assert result["labelled"] + len(result["left_out"]) == 14
    assert len(chat_bodies(proxy)) == 6 + 14 == result["verifier"]["calls"]
    rows = read_jsonl(tmp_path / "new.jsonl")
    assert len(rows) == result["labelled"] and all(r["label"] in ("positive", "negative", "neutral") for r in rows)
    assert not {r["id"] for r in rows} & set(result["left_out"])

    shown = run("eval", "--task", str(tmp_path / "new.yaml"), "--split", "all", "--json", "--max-tokens", "8")
    assert shown.returncode == 0, shown.stderr
    opt = run("optimize", "--task", str(tmp_path / "new.yaml"), "--budget", "6", "--max-tokens", "8", "--quiet",
              "--json", "--run-dir", str(tmp_path / "run"))
    assert opt.returncode == 0, opt.stderr
    assert json.loads(opt.stdout)["status"] == "finished"

    mark = proxy.mark()
    again = run("data", "label", "--task", "sentiment", "--verifier", verifier, "--write", str(tmp_path / "new.yaml"),
                str(inputs))
    assert again.returncode == 2 and "already exists" in again.stderr and proxy.mark() == mark  # before any call
    refused = run("data", "label", "--task", "sentiment", "--verifier", verifier, "--write",
                  str(tmp_path / "strict.yaml"), "--min-agreement", "1", "--quiet", str(inputs))
    if agreement["rate"] < 1:
        assert refused.returncode == 2, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and "below --min-agreement 1" in refused.stderr
        assert "/6, 95% CI" in refused.stderr  # n and the Wilson interval
        assert not (tmp_path / "strict.yaml").exists()
        assert len(chat_bodies(proxy, mark)) == 6  # val only: nothing was labelled


def test_a_verifier_never_up_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    inputs = extended_inputs(tmp_path / "in.jsonl", 3)
    started = time.monotonic()
    out = run("data", "label", "--task", "sentiment", "--verifier", f"llamacpp:{url}", "--write",
              str(tmp_path / "out.yaml"), str(inputs), timeout=120)
    assert out.returncode == 2 and time.monotonic() - started < 30
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "verifier server" in lines[0] and url in lines[0] and "--verifier" in lines[0]

    opt = run("optimize", "--task", "sentiment", "--budget", "12", "--max-tokens", "8", "--quiet",
              "--run-dir", str(tmp_path / "run"), "--verifier", f"llamacpp:{url}")
    assert opt.returncode == 2, opt.stderr
    lines = opt.stderr.strip().splitlines()
    assert len(lines) == 1, opt.stderr
    assert "verifier server" in lines[0] and "--verifier" in lines[0] and "--resume" in lines[0]


@pytest.mark.slow
def test_a_verifier_that_restarts_is_waited_for(embedded_path: Path, tmp_path: Path) -> None:
    inputs = extended_inputs(tmp_path / "in.jsonl", 8)
    with LlamaServer(embedded_path, tmp_path / "server.log", n_ctx=2048) as server:
        process = subprocess.Popen(
            [*SMOLGEPA, "data", "label", "--task", "sentiment", "--verifier", f"llamacpp:{server.base_url}",
             "--write", str(tmp_path / "out.yaml"), "--json", str(inputs)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            close_for_a_while(server, process, 3)
            out, err = process.communicate(timeout=600)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert chat_posts(server) >= 6 + 8  # every question asked, some after the restart
    assert process.returncode == 0, err[-3000:]
    result = json.loads(out)
    assert result["agreement"]["n"] == 6 and result["labelled"] + len(result["left_out"]) == 8


def iteration_events(run_dir: Path) -> list[dict]:
    return [e for e in read_jsonl(run_dir / "events.jsonl") if e["event"] == "iteration"]


@pytest.mark.slow
def test_optimize_with_a_verifier_resumes_exactly(llama_server, tmp_path: Path) -> None:  # noqa: ANN001
    url = f"llamacpp:{llama_server.base_url}"
    args = ["optimize", "--task", "sentiment", "--budget", "30", "--max-tokens", "8", "--seed", "3", "--quiet",
            "--verifier", url, "--reflection", url, "--reflection-max-tokens", "48", "--reflection-temperature", "0"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    first = run(*args, "--json", "--run-dir", str(whole))
    assert first.returncode == 0, first.stderr
    calls = json.loads(first.stdout)["calls"]["verifier"]
    asked = read_jsonl(whole / "cache" / "verifier.jsonl")
    assert calls["calls"] >= 1 and len(asked) == calls["calls"] - calls["cached"]  # a repeated failure: asked once
    # each failure's explanation reached the reflection prompt, when the verifier named the gold label
    prompts = [r["prompt"] for r in read_jsonl(whole / "cache" / "reflection.jsonl")]
    for record in asked:
        gold = re.search(r"The right label is '(\w+)'", record["prompt"]).group(1)
        from smolgepa.verifier.verifier_replies import read_reply

        reply = read_reply(record["text"], ["positive", "negative", "neutral"])
        if reply.label == gold and reply.reason:
            assert any(f"Why '{gold}' is right, says a verifier model: {reply.reason}" in p for p in prompts)

    process = subprocess.Popen([*SMOLGEPA, *args, "--run-dir", str(killed)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 900
    while len(iteration_events(killed)) < 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, "the run finished before it could be killed; raise the budget"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = len(read_jsonl(killed / "cache" / "verifier.jsonl"))

    resumed = run("optimize", "--resume", "--run-dir", str(killed), "--quiet", "--json")
    assert resumed.returncode == 0, resumed.stderr
    again = json.loads(resumed.stdout)["calls"]["verifier"]
    after = read_jsonl(killed / "cache" / "verifier.jsonl")
    assert again["cached"] >= before  # the answers it had were read back, not asked again
    assert again["calls"] - again["cached"] == len(after) - before
    assert len({r["key"] for r in after}) == len(after)  # no question asked twice
    assert again["calls"] == calls["calls"] and again["junk"] == calls["junk"]
    assert run_tables(killed) == run_tables(whole)
