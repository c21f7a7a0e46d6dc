"""Reflection through an OpenAI-compatible server: a real llama.cpp server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from smolgepa.optimize import OptimizeConfig, optimize
from smolgepa.optimize.cleaning import clean_reflection
from smolgepa.optimize.reflection import ReflectionSettings, make_backend
from smolgepa.optimize.rundir import read_jsonl

SENTINEL = "sk-reflection-sentinel-987654321"


def test_server_backend_answers_and_reports_truncation(llama_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOLGEPA_REFLECTION_KEY", SENTINEL)
    settings = ReflectionSettings(max_tokens=8, temperature=0.0, key_env="SMOLGEPA_REFLECTION_KEY")
    backend = make_backend(f"llamacpp:{llama_server.base_url}", settings)
    reply = backend("Explain in detail how to write a good instruction for a sentiment classifier.")
    assert reply.error is None and reply.text.strip()
    assert reply.finish_reason == "length"
    cleaned = clean_reflection(reply.text, reply.finish_reason)
    assert cleaned.instruction is None and "truncated" in cleaned.reason


def test_litellm_backend_reaches_the_server(llama_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "not-checked-by-llama-cpp")
    backend = make_backend(f"litellm:openai/default@{llama_server.base_url}",
                           ReflectionSettings(max_tokens=8, temperature=0.0))
    reply = backend("Say hello.")
    assert reply.error is None and reply.text.strip() and reply.finish_reason == "length"


@pytest.mark.slow
def test_optimize_with_a_server_reflector_records_its_answer(llama_server, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOLGEPA_REFLECTION_KEY", SENTINEL)
    run_dir = tmp_path / "run"
    result = optimize(OptimizeConfig(
        task="sentiment",
        reflection=f"llamacpp:{llama_server.base_url}",
        reflection_key_env="SMOLGEPA_REFLECTION_KEY",
        reflection_max_tokens=48,
        reflection_temperature=0.0,
        max_proposals=1,
        student_max_tokens=8,
        run_dir=str(run_dir),
    ))
    records = [e for e in read_jsonl(run_dir / "events.jsonl") if e["event"] == "iteration"]
    proposals = [r for r in records if r["status"] != "skipped"]
    assert len(proposals) == 1
    reflection = proposals[0]["reflection"]
    assert reflection["raw"] and reflection["seconds"] > 0 and reflection["error"] is None
    if proposals[0]["status"] == "failed":  # the 135M rarely writes a fenced block: the reason is kept
        assert proposals[0]["reason"]
    assert result.summary["calls"]["reflection"]["calls"] == 1
    cached = read_jsonl(run_dir / "cache" / "reflection.jsonl")
    assert len(cached) == 1 and "Current instruction:" in cached[0]["prompt"]
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SENTINEL not in path.read_text(encoding="utf-8", errors="replace")
