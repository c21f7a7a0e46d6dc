"""`smolgepa eval` against a real llama.cpp server gives the embedded student's predictions."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support.near_tie import NEAR_TIE_NATS, divergence_gap

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.lm.local.embedded import EmbeddedEngine
from smolgepa.adapter.program import make_program
from smolgepa.tasks import load_task

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]


def eval_json(*args: str) -> dict:
    result = subprocess.run([*SMOLGEPA, "eval", "--json", *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
@pytest.mark.numerics
def test_server_student_matches_embedded(recording_proxy, embedded_spec: str,  # noqa: ANN001 - fixture
                                         embedded_engine: EmbeddedEngine) -> None:
    mark = recording_proxy.mark()
    via_server = eval_json("--task", "sentiment", "--split", "val", "--student", f"llamacpp:{recording_proxy.base_url}")
    embedded = eval_json("--task", "sentiment", "--split", "val", "--student", embedded_spec)
    assert [e["id"] for e in via_server["examples"]] == [e["id"] for e in embedded["examples"]]
    # Same file, same code: the answers are the same except where the server's KV cache (other batch
    # splits) or another CPU's kernels tip a near tie; at the token where two answers part, the model's
    # choice must have been a coin toss (support/near_tie.py), never a confident one.
    task = load_task("sentiment")
    signature, adapter = make_program(task).signature, PlainTextAdapter()
    inputs = {e.id: e.input for e in task.split("val")}
    differing = [(e, s) for e, s in zip(embedded["examples"], via_server["examples"]) if e["raw"] != s["raw"]]
    for ours, theirs in differing:
        messages = adapter.format(signature, [], {"input": inputs[ours["id"]]})
        gap = divergence_gap(embedded_engine, messages, ours["raw"], theirs["raw"])
        assert gap < NEAR_TIE_NATS, (ours["id"], ours["raw"], theirs["raw"], gap)
    assert len(differing) <= len(embedded["examples"]) // 2, differing  # near ties are the exception
    bodies = recording_proxy.bodies(mark)
    chat = [body for body in bodies if isinstance(body, dict) and "messages" in body]
    assert len(chat) == via_server["n"]
    assert all("response_format" not in body for body in chat)
    assert all(body["messages"][0]["role"] == "system" for body in chat)


def test_unreachable_server_is_one_clear_line() -> None:
    result = subprocess.run(
        [*SMOLGEPA, "eval", "--task", "sentiment", "--student", "llamacpp:http://127.0.0.1:9/v1",
         "--backoff", "0.01"],  # all 8 retries, a second or two asleep instead of a minute
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2
    assert "http://127.0.0.1:9/v1" in result.stderr and "Traceback" not in result.stderr
    assert "llama_cpp.server" in result.stderr or "llama-server" in result.stderr
