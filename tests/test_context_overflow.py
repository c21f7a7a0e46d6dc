"""A prompt longer than the student's context window: a clear error in `eval`, and in `optimize` a
wrong answer for that one example (recorded, replayed on resume) while the run goes on."""

from __future__ import annotations

import json
import shutil
import sys
import subprocess
from importlib import resources
from pathlib import Path

import pytest
from dspy.lm15 import Config, Message, Request

from smolgepa.errors import ContextOverflowError
from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings
from smolgepa.lm.overflow import parse_overflow
from smolgepa.optimize import OptimizeConfig, optimize, show
from smolgepa.optimize.rundir import read_jsonl

LABELS = ("positive", "negative", "neutral")
LONG_TEXT = "The package arrived on Tuesday and I opened it. " * 300  # about 3,000 tokens


def request(text: str) -> Request:
    return Request(
        model="smolgepa/embedded",
        messages=(Message.user(f"Text: {text}\nLabel:"),),
        system="Classify the sentiment.",
        config=Config(temperature=0.0, max_tokens=8),
    )


@pytest.mark.parametrize("decode", ["free", "constrained", "scored"])
def test_every_decode_mode_names_the_overflow(embedded_path: Path, decode: str) -> None:
    engine = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path), decode=decode, labels=LABELS))
    try:
        with pytest.raises(ContextOverflowError) as caught:
            engine.complete(request(LONG_TEXT))
        assert caught.value.n_ctx == 2048 and caught.value.prompt_tokens > 2048
        assert "context window (2048)" in str(caught.value) and "Shorten" in str(caught.value)
        assert engine.complete(request("I love it!")).text  # the engine still answers afterwards
    finally:
        engine.close()


def sentiment_with_a_long_val_example(folder: Path) -> Path:
    data = resources.files("smolgepa.tasks") / "data"
    yaml_text = (data / "sentiment.yaml").read_text(encoding="utf-8") + "max_input_tokens: 5000\n"
    (folder / "sentiment.yaml").write_text(yaml_text, encoding="utf-8")
    shutil.copyfile(str(data / "sentiment.jsonl"), folder / "sentiment.jsonl")
    row = {"id": "long", "text": LONG_TEXT, "label": "neutral", "split": "val"}
    with open(folder / "sentiment.jsonl", "a", encoding="utf-8") as file:
        file.write(json.dumps(row) + "\n")
    return folder / "sentiment.yaml"


@pytest.mark.slow
def test_eval_stops_with_one_line_naming_the_window(tmp_path: Path) -> None:
    task = sentiment_with_a_long_val_example(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "smolgepa.cli", "eval", "--task", str(task), "--split", "val", "--no-cache"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 2
    assert "context window (2048)" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_optimize_scores_an_overflow_as_wrong_and_goes_on(tmp_path: Path) -> None:
    task = sentiment_with_a_long_val_example(tmp_path)
    config = OptimizeConfig(task=str(task), budget=30, max_proposals=1, student_max_tokens=8,
                            run_dir=str(tmp_path / "run"))
    result = optimize(config)
    assert result.summary["status"] == "finished"
    assert result.summary["calls"]["student"]["context_overflows"] >= 1
    overflowed = [r for r in read_jsonl(tmp_path / "run" / "cache" / "student.jsonl")
                  if r.get("finish_reason") == "context_overflow"]
    assert overflowed and all(r["text"] == "" for r in overflowed)
    assert "Prompts too long for the student's context window:" in show(tmp_path / "run").tables()

    resumed = optimize(OptimizeConfig(**{**config.to_json(), "resume": True, "budget": 40}))
    assert resumed.summary["status"] == "finished"
    assert resumed.summary["calls"]["student"]["context_overflows"] >= 1  # replayed from the run cache


@pytest.mark.parametrize(
    ("message", "prompt_tokens", "n_ctx"),
    [
        ("Requested tokens (3081) exceed context window of 2048", 3081, 2048),  # llama-cpp-python
        ("request (4476 tokens) exceeds the available context size (4096 tokens), try increasing it",
         4476, 4096),  # llama-server
        ("This model's maximum context length is 2048 tokens. However, you requested 3100 tokens "
         "(3000 in the messages, 100 in the completion).", 3100, 2048),  # vLLM, OpenAI
        ("The number of tokens to keep from the initial prompt is greater than the context length.",
         None, None),  # LM Studio
        ('{"code": "context_length_exceeded"}', None, None),
    ],
)
def test_each_backends_overflow_message_is_recognized(message: str, prompt_tokens: int | None,
                                                      n_ctx: int | None) -> None:
    overflow = parse_overflow(message)
    assert overflow is not None
    assert (overflow.prompt_tokens, overflow.n_ctx) == (prompt_tokens, n_ctx)


@pytest.mark.parametrize("message", ["model 'x' not found", "Invalid grammar", "max_tokens must be at least 1"])
def test_other_errors_are_not_overflows(message: str) -> None:
    assert parse_overflow(message) is None
