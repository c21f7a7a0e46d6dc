"""The run directory's replay cache (`RunCache`) is keyed like the response cache, and run directories
written before it (another key format) still resume without asking the student anything again."""

from __future__ import annotations

import shutil
from pathlib import Path

from dspy.lm15 import Config, Message, Request

from smolgepa.lm.response_cache import CachedEngine
from smolgepa.lm.student import Student
from smolgepa.lm.options import StudentOptions
from smolgepa.optimize import optimize
from smolgepa.optimize.cache import JsonlCache, RunCache
from smolgepa.optimize.config import load_saved_config
from smolgepa.optimize.rundir import Redactor, read_jsonl

# Written by smolgepa before RunCache (commit a9bb398): `smolgepa optimize --task sentiment --student
# openai:m@http://127.0.0.1:18777/v1 --budget 24 --seed 3`, the student a llama.cpp server running the
# embedded SmolLM2-135M. Nothing needs to listen on that port now: every call must come from the cache.
BEFORE = Path(__file__).parent / "fixtures" / "run-before-runcache"
SENTIMENT = ("positive", "negative", "neutral")
REQUEST = Request(model="m", messages=(Message.user("Text: I love it\nLabel:"),), system="Classify.",
                  config=Config(max_tokens=24, temperature=0.0, stop=("\n\n",), seed=0))
# The key the earlier format gave REQUEST for `embedded` with `--decode scored` (computed by that code).
BEFORE_KEY_EMBEDDED_SCORED = "2b39747bcb56f279d0f41a03219ca44179e05a84bacd2ea555a35e6c60290d7d"


def test_a_run_directory_written_before_runcache_resumes_from_its_cache(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(BEFORE, run_dir)
    records_before = read_jsonl(run_dir / "cache" / "student.jsonl")
    saved = load_saved_config(run_dir)
    result = optimize(saved.with_changes(run_dir=str(run_dir), resume=True))
    calls = result.summary["calls"]["student"]
    assert result.summary["status"] == "finished"
    assert calls["calls"] == calls["cached"] == 42 and calls["seconds"] == 0.0  # the student was never asked
    assert read_jsonl(run_dir / "cache" / "student.jsonl") == records_before  # nothing new was written
    original = load_json_summary(BEFORE)
    assert result.summary["best"]["instruction"] == original["best"]["instruction"]
    assert result.summary["test"] == original["test"]


def load_json_summary(run_dir: Path) -> dict:
    import json

    return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


def test_a_resumed_run_reads_the_earlier_key_of_a_scoring_student(tmp_path: Path) -> None:
    """The earlier key named the decode mode in the identity (`|decode=scored`); it is still found."""
    student = Student("embedded", StudentOptions(decode="scored", labels=SENTIMENT))
    cache = JsonlCache(tmp_path / "student.jsonl", Redactor())
    cache.put(BEFORE_KEY_EMBEDDED_SCORED, {"text": "positive", "finish_reason": "stop"})
    resumed = RunCache.for_student(student, cache, resume=True)
    assert resumed.complete(REQUEST).message.parts[0].text == "positive"
    assert resumed.counter.cached == 1 and len(cache) == 1
    fresh = RunCache.for_student(student, cache, resume=False)  # a new run never looks for old keys
    assert fresh.key(REQUEST) != BEFORE_KEY_EMBEDDED_SCORED and fresh._lookup(REQUEST)[1] is None


def test_run_cache_and_response_cache_share_one_key(tmp_path: Path) -> None:
    keys = {}
    for spec, decode in (("embedded", "free"), ("embedded", "scored"), ("llamacpp:http://127.0.0.1:9/v1", "constrained")):
        student = Student(spec, StudentOptions(decode=decode, labels=SENTIMENT))
        run_cache = RunCache.for_student(student, JsonlCache(tmp_path / "s.jsonl", Redactor()))
        response_cache = CachedEngine(student.engine(), directory=tmp_path / "responses")
        assert run_cache.identity == response_cache.identity == student.identity
        keys[spec, decode] = run_cache.key(REQUEST)
        assert keys[spec, decode] == response_cache.key(REQUEST)
    assert len(set(keys.values())) == 3  # the decode mode is in the key (no hand-added suffix needed)
