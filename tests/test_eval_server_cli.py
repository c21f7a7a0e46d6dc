"""`smolgepa eval` against a real llama.cpp server gives the embedded student's predictions."""

from __future__ import annotations

import json
import subprocess
import sys

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]


def eval_json(*args: str) -> dict:
    result = subprocess.run([*SMOLGEPA, "eval", "--json", *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_server_student_matches_embedded(recording_proxy) -> None:  # noqa: ANN001 - fixture
    mark = recording_proxy.mark()
    via_server = eval_json("--task", "sentiment", "--split", "val", "--student", f"llamacpp:{recording_proxy.base_url}")
    embedded = eval_json("--task", "sentiment", "--split", "val", "--student", "embedded")
    assert [(e["id"], e["raw"], e["predicted"]) for e in via_server["examples"]] == [
        (e["id"], e["raw"], e["predicted"]) for e in embedded["examples"]
    ]
    bodies = recording_proxy.bodies(mark)
    chat = [body for body in bodies if isinstance(body, dict) and "messages" in body]
    assert len(chat) == via_server["n"]
    assert all("response_format" not in body for body in chat)
    assert all(body["messages"][0]["role"] == "system" for body in chat)


def test_unreachable_server_is_one_clear_line() -> None:
    result = subprocess.run(
        [*SMOLGEPA, "eval", "--task", "sentiment", "--student", "llamacpp:http://127.0.0.1:9/v1"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2
    assert "http://127.0.0.1:9/v1" in result.stderr and "Traceback" not in result.stderr
    assert "llama_cpp.server" in result.stderr or "llama-server" in result.stderr
