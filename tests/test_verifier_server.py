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
from support.proxy import FaultPlan
from support.run_tables import run_tables

import smolgepa.tasks
from smolgepa.optimize.rundir import read_jsonl

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
DATA = Path(smolgepa.tasks.__file__).parent / "data"
REFLECTOR = Path(__file__).parent / "scripts" / "reflector.py"


def run(*args: str, timeout: float = 900, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI with `args` (`cache`: its own SMOLGEPA_CACHE_DIR, where an audit keeps what it computed)."""
    env = {**os.environ, "SMOLGEPA_CACHE_DIR": str(cache)} if cache is not None else None
    return subprocess.run([*SMOLGEPA, *args], capture_output=True, text=True, timeout=timeout, env=env)


# Replies of a label word and a few words: the 135M repeats the prompt to its token limit, and these tests
# are about the requests and the bookkeeping, not the reasons (the default, 64, is for a real verifier).
REPLY_TOKENS = 24


def verifier_flags(spec: str) -> list[str]:
    """`--verifier SPEC` with this module's reply length."""
    return ["--verifier", spec, "--verifier-max-tokens", str(REPLY_TOKENS)]


def extended_inputs(path: Path, n: int, start: int = 0) -> Path:
    """`n` texts of sentiment-extended as unlabelled inputs ({"id", "text"})."""
    rows = [json.loads(line) for line in (DATA / "sentiment-extended.jsonl").read_text().splitlines() if line.strip()]
    path.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in rows[start: start + n]))
    return path


def chat_bodies(proxy, since: int = 0) -> list[dict]:  # noqa: ANN001 - support.proxy.Proxy
    return [b for b in proxy.bodies(since) if isinstance(b, dict) and "messages" in b]


@pytest.mark.slow
def test_audit_gives_each_suspect_a_verdict_and_a_reason(make_proxy, tmp_path: Path) -> None:  # noqa: ANN001
    proxy = make_proxy()
    out = run("data", "audit", "--task", "sentiment", "--source", "tfidf", "--json",
              *verifier_flags(f"llamacpp:{proxy.base_url}"), cache=tmp_path / "cache")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    suspects = data["suspects"]
    assert suspects
    for suspect in suspects:
        assert suspect["verdict"] in ("agree", "relabel", "junk") and isinstance(suspect["reason"], str)
        assert (suspect["verifier_label"] is None) == (suspect["verdict"] == "junk")
        assert suspect["verdict"] != "agree" or suspect["verifier_label"] == suspect["label"]
    assert data["verifier"]["junk"] == sum(s["verdict"] == "junk" for s in suspects)
    check, *bodies = chat_bodies(proxy)  # one short question before the probabilities are computed
    assert "ready" in check["messages"][-1]["content"]
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
    out = run("data", "label", "--task", str(task), *verifier_flags(f"llamacpp:{llama_server.base_url}"),
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
    out = run("data", "label", "--task", "sentiment", *verifier_flags(verifier), "--write", str(tmp_path / "new.yaml"),
              "--json", str(inputs))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    agreement = result["agreement"]
    assert agreement["n"] == 6 and 0 <= agreement["ci95"][0] <= agreement["rate"] <= agreement["ci95"][1] <= 1
    assert result["labelled"] + len(result["left_out"]) == 14
    assert len(chat_bodies(proxy)) == 6 + 14 == result["verifier"]["calls"]
    assert {body["max_tokens"] for body in chat_bodies(proxy)} == {REPLY_TOKENS}  # --verifier-max-tokens
    assert not (tmp_path / "new.partial.jsonl").exists()  # the answers kept until the task was written
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
    again = run("data", "label", "--task", "sentiment", *verifier_flags(verifier), "--write", str(tmp_path / "new.yaml"),
                str(inputs))
    assert again.returncode == 2 and "already exists" in again.stderr and proxy.mark() == mark  # before any call
    refused = run("data", "label", "--task", "sentiment", *verifier_flags(verifier), "--write",
                  str(tmp_path / "strict.yaml"), "--min-agreement", "1", "--quiet", str(inputs))
    if agreement["rate"] < 1:
        assert refused.returncode == 2, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and "below --min-agreement 1" in refused.stderr
        assert "/6, 95% CI" in refused.stderr  # n and the Wilson interval
        assert not (tmp_path / "strict.yaml").exists()
        assert len(chat_bodies(proxy, mark)) == 6  # val only: nothing was labelled
        assert str(tmp_path / "strict.partial.jsonl") in refused.stderr  # the val answers are kept, and said so
        mark = proxy.mark()
        lowered = run("data", "label", "--task", "sentiment", *verifier_flags(verifier), "--write",
                      str(tmp_path / "strict.yaml"), "--min-agreement", "0", "--quiet", str(inputs))
        assert lowered.returncode == 0, lowered.stderr
        assert len(chat_bodies(proxy, mark)) == 14  # the inputs only: no val question asked again


def test_a_verifier_never_up_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    inputs = extended_inputs(tmp_path / "in.jsonl", 3)
    started = time.monotonic()
    out = run("data", "label", "--task", "sentiment", *verifier_flags(f"llamacpp:{url}"), "--write",
              str(tmp_path / "out.yaml"), str(inputs), timeout=120)
    assert out.returncode == 2 and time.monotonic() - started < 30
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "verifier server" in lines[0] and url in lines[0] and "--verifier" in lines[0]

    opt = run("optimize", "--task", "sentiment", "--budget", "12", "--max-tokens", "8", "--quiet",
              "--run-dir", str(tmp_path / "run"), *verifier_flags(f"llamacpp:{url}"))
    assert opt.returncode == 2, opt.stderr
    lines = opt.stderr.strip().splitlines()
    assert len(lines) == 1, opt.stderr
    assert "verifier server" in lines[0] and "--verifier" in lines[0] and "--resume" in lines[0]


def flipped_sentiment(directory: Path, flips: int = 4) -> Path:
    """`sentiment` with the labels of its first `flips` train examples turned round: suspects to find."""
    rows = [json.loads(line) for line in (DATA / "sentiment.jsonl").read_text().splitlines() if line.strip()]
    turn = {"positive": "negative", "negative": "neutral", "neutral": "positive"}
    for row in [r for r in rows if r.get("split") == "train"][:flips]:
        row["label"] = turn[row["label"]]
    (directory / "flipped.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = directory / "flipped.yaml"
    path.write_text((DATA / "sentiment.yaml").read_text().replace("name: sentiment", "name: flipped")
                    .replace("data: sentiment.jsonl", "data: flipped.jsonl"))
    return path


def test_an_audit_asks_the_verifier_before_reading_and_keeps_what_it_computed(make_proxy, tmp_path: Path) -> None:  # noqa: ANN001
    cache = tmp_path / "cache"
    down = f"http://127.0.0.1:{free_port()}/v1"
    task = flipped_sentiment(tmp_path)
    args = ["data", "audit", "--task", str(task), "--max-tokens", "8"]  # the hidden reading: the 135M reads
    started = time.monotonic()
    out = run(*args, *verifier_flags(f"llamacpp:{down}"), cache=cache, timeout=120)
    assert out.returncode == 2 and time.monotonic() - started < 60, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "verifier server" in lines[0] and down in lines[0], out.stderr
    assert not list(cache.glob("audits/*.json"))  # stopped before reading: nothing was computed to lose

    proxy = make_proxy(FaultPlan(separate_repeats=True))  # a question asked again is answered as the first time
    verifier = f"llamacpp:{proxy.base_url}"
    first = run(*args, *verifier_flags(verifier), "--limit", "100", cache=cache)
    assert first.returncode == 0, first.stderr
    assert "reused" not in first.stdout
    [kept] = cache.glob("audits/*.json")
    verdicts = read_jsonl(kept.with_suffix(".verifier.jsonl"))
    asked = chat_bodies(proxy)
    assert len(asked) == 1 + len(verdicts) and verdicts  # the check, then one question a suspect
    kept.with_suffix(".verifier.jsonl").write_text("".join(json.dumps(r) + "\n" for r in verdicts[:-1]))

    mark = proxy.mark()  # a re-run (as after a verifier that died on the last suspect): reads nothing again
    again = run(*args, *verifier_flags(verifier), "--limit", "100", cache=cache)
    assert again.returncode == 0, again.stderr
    reused = f"reused the out-of-fold probabilities and {len(verdicts) - 1} verifier verdicts of an earlier audit"
    assert reused in again.stdout
    assert again.stdout.splitlines()[1:] == first.stdout.splitlines()  # the same audit, the same verdicts
    [last] = chat_bodies(proxy, mark)  # only the verdict not kept was asked, and no check
    assert last == asked[-1]
    fresh = run(*args, *verifier_flags(verifier), "--limit", "100", "--no-cache", cache=cache)
    assert fresh.returncode == 0 and "reused" not in fresh.stdout and fresh.stdout == first.stdout


def test_label_keeps_each_answer_and_a_rerun_asks_none_of_them_again(embedded_path: Path, tmp_path: Path) -> None:
    from support.proxy import Proxy

    inputs = extended_inputs(tmp_path / "in.jsonl", 10)
    write, partial = tmp_path / "out.yaml", tmp_path / "out.partial.jsonl"
    with LlamaServer(embedded_path, tmp_path / "server.log", n_ctx=2048) as server:
        proxy = Proxy(server.root_url).start()
        try:
            args = ["data", "label", "--task", "sentiment", *verifier_flags(f"llamacpp:{proxy.base_url}"),
                    "--write", str(write), str(inputs)]
            process = subprocess.Popen([*SMOLGEPA, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.monotonic() + 300
                while len(read_jsonl(partial)) < 6 + 4:  # val agreement, then 4 inputs labelled
                    assert process.poll() is None, process.communicate()
                    assert time.monotonic() < deadline, "no answer was kept"
                    time.sleep(0.05)
                port = server.port
                server.stop()  # the verifier dies mid-labelling
                time.sleep(1.0)
                assert process.poll() is None  # waiting for it, with its retries: stopped by hand
            finally:
                process.kill()
                process.communicate()
            kept = read_jsonl(partial)
            assert 6 + 4 <= len(kept) < 6 + 10 and not write.exists()
            server.start(port)
            mark = proxy.mark()
            again = run(*args)
            assert again.returncode == 0, again.stderr
            assert f"resumed: {len(kept)} of 16 verifier answers reused from {partial}" in again.stdout
            prompts = [b["messages"][-1]["content"] for b in chat_bodies(proxy, mark)]
            assert len(prompts) == 16 - len(kept) == len(set(prompts))  # the rest, each once
            assert not set(prompts) & {r["prompt"] for r in kept}  # none of the kept answers asked again
        finally:
            proxy.stop()
    assert re.search(r"labelled \d+ of 10 inputs", again.stdout) and not partial.exists()  # written: nothing to resume
    ids = [json.loads(line)["id"] for line in inputs.read_text().splitlines()]
    assert {r["id"] for r in read_jsonl(tmp_path / "out.jsonl")} <= set(ids)


@pytest.mark.slow
def test_a_verifier_that_restarts_is_waited_for(embedded_path: Path, tmp_path: Path) -> None:
    inputs = extended_inputs(tmp_path / "in.jsonl", 8)
    with LlamaServer(embedded_path, tmp_path / "server.log", n_ctx=2048) as server:
        process = subprocess.Popen(
            [*SMOLGEPA, "data", "label", "--task", "sentiment", *verifier_flags(f"llamacpp:{server.base_url}"),
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
    # The verifier is the real server; the reflection a stand-in that answers each prompt the same way every
    # time (the loop's bookkeeping is under test here, not what a 135M proposes from a 1,200-token prompt).
    # The student reads scores: a free answer can change with what the student's KV cache held before
    # (a resumed process starts empty), and the stand-in would turn one changed answer into another proposal.
    reflection = f"cmd:{sys.executable} {REFLECTOR} vary"
    args = ["optimize", "--task", "sentiment", "--budget", "30", "--decode", "scored", "--seed", "3", "--quiet",
            *verifier_flags(url), "--reflection", reflection]
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
