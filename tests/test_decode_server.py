"""Server decode payloads against a real llama.cpp server (llama-cpp-python's, on 127.0.0.1).

LM Studio, vLLM and Ollama are not available here: their payload shapes are unit-tested in
tests/test_decode.py only.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.lm.readings.constrained import label_grammar
from smolgepa.lm.servers.payloads import constrained_payload, read_constrained, read_scored, scored_payload
from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings
from smolgepa.adapter.program import make_program
from smolgepa.tasks import load_task


@pytest.fixture(scope="module")
def task():
    return load_task("sentiment-extended")


@pytest.fixture(scope="module")
def cases(task) -> list[list[dict[str, str]]]:
    program = make_program(task)
    return [PlainTextAdapter().format(program.signature, [], {"input": e.input}) for e in task.split("val")[:4]]


def chat(base_url: str, messages: list[dict[str, str]], extra: dict) -> dict:
    body = {"model": "default", "messages": messages, "temperature": 0.0, "max_tokens": 8, "repeat_penalty": 1.0}
    reply = httpx.post(f"{base_url}/chat/completions", json={**body, **extra}, timeout=120)
    assert reply.status_code == 200, reply.text[:300]
    return reply.json()


def test_grammar_payload_gives_the_same_label_as_the_embedded_student(llama_server, embedded_path: Path, task, cases) -> None:
    labels = tuple(task.labels)
    embedded = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path), decode="constrained", labels=labels))
    try:
        for messages in cases:
            data = chat(llama_server.base_url, messages, constrained_payload("llamacpp", labels))
            answer = read_constrained("llamacpp", data["choices"][0]["message"]["content"])
            assert answer in labels
            local = embedded.llama().create_chat_completion(
                messages=messages, temperature=0.0, max_tokens=8, grammar=label_grammar(labels)
            )
            assert answer == local["choices"][0]["message"]["content"]
    finally:
        embedded.close()


def test_scored_payload_matches_embedded_scores(llama_server, embedded_path: Path, task, cases) -> None:
    labels = tuple(task.labels)
    embedded = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path), decode="scored", labels=labels))
    try:
        for messages in cases:
            data = chat(llama_server.base_url, messages, scored_payload("llamacpp", labels))
            scores, info = read_scored(data, labels, where=llama_server.base_url)
            local = embedded.score_messages(messages)
            # One-token labels: exact when in the top list, else bounded by the smallest listed logprob.
            assert local.label in info["exact"]
            for label in labels:
                if label in info["exact"]:
                    assert scores.logprobs[label] == pytest.approx(local.logprobs[label], abs=0.05), label
                else:
                    assert scores.logprobs[label] >= local.logprobs[label] - 0.05, label
            if not info["uncertain"]:
                assert scores.label == local.label
    finally:
        embedded.close()
