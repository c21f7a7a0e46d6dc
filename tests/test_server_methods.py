"""Channel, kNN, the demo ensemble and training-split calibration on a server student, against a real
llama.cpp server (llama-cpp-python's) serving the embedded GGUF.

Each method gives the embedded student's answers except at near ties, with scores that are the
method's own (a method replaced by plain `scored` fails: its scores are label log-likelihoods, not
text likelihoods, vote shares, ensemble means or calibrated probabilities), sends the requests the
method needs, works in `smolgepa eval` (where a reply of the wrong shape is retried, not read), and is
refused in one line on servers that cannot run it.
"""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dspy.lm15 import Message, Request

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.errors import SmolgepaError
from smolgepa.lm.readings.scores import LabelScores
from smolgepa.lm.servers.payloads import server_readings
from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings
from smolgepa.lm.options import train_pairs
from smolgepa.lm.readings.knn import TopLogprobs, top_kl
from smolgepa.lm.servers.server_engine import ServerEngine, ServerSettings
from smolgepa.lm.servers.server_label_scoring import KNN_TOP_LOGPROBS, ServerTokenizer, forced_tokens_payload, token_ids
from smolgepa.optimize.config import OptimizeConfig
from smolgepa.adapter.program import make_program
from smolgepa.candidate.reading_line import READINGS, with_reading
from smolgepa.tasks import load_task
from support.fault_runs import run
from support.proxy import FaultPlan

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
N_VAL = 6
METHODS = {
    "channel": {"decode": "channel"},
    "knn": {"decode": "knn", "knn_k": 3},
    "ensemble": {"decode": "ensemble", "ensemble_k": 3},
    "scored+calibrate-train": {"decode": "scored", "calibrate": True, "calibration": "train"},
}
# How far the embedded answer may be from another label for the server to answer differently: the
# top-two gap of the scores that decide. Channel scores sum ~15-30 text tokens that the server decodes
# one at a time and the embedded student in one batch (measured: up to 0.61 nats per label here);
# the others are label scores (up to ~0.3 nats, tests/test_decode_server_engine.py). kNN: one vote.
NEAR_TIE = {"channel": 1.5, "ensemble": 0.7, "scored+calibrate-train": 0.7, "knn": 1}
SCORE_TOLERANCE = {"channel": 1.2, "ensemble": 0.7, "scored+calibrate-train": 0.7}


@pytest.fixture(scope="module")
def task():
    return load_task("sentiment-extended")


@pytest.fixture(scope="module")
def small_train(task) -> tuple[tuple[str, str], ...]:  # noqa: ANN001
    """Three training examples per label (anchors and calibration cost requests each)."""
    picked: list[tuple[str, str]] = []
    for label in task.labels:
        picked += [(e.input, e.label) for e in task.split("train") if e.label == label][:3]
    return tuple(picked)


def messages_for(task, text: str, instruction: str | None = None) -> list[dict[str, str]]:  # noqa: ANN001
    return PlainTextAdapter().format(make_program(task, instruction).signature, [], {"input": text})


def deciding_gap(method: str, scores: LabelScores, k: int = 3) -> float:
    """How close the embedded student was to another answer: the top-two gap of what decides it
    (votes for kNN, calibrated log-probabilities with calibration, else the label scores)."""
    if method == "knn":
        votes = sorted((round(p * k) for p in scores.probs.values()), reverse=True)
        return float(votes[0] - votes[1])
    values = scores.logprobs
    if scores.calibrated is not None:
        values = {label: math.log(max(p, 1e-300)) for label, p in scores.calibrated.items()}
    top = sorted(values.values(), reverse=True)
    return top[0] - top[1]


def check_same_answers(method: str, pairs: list[tuple[LabelScores, str]], what: str) -> None:
    """Every answer that differs from the embedded student's is a near tie there; a quarter at most."""
    differing = [(local, remote) for local, remote in pairs if local.label != remote]
    for local, remote in differing:
        assert deciding_gap(method, local) <= NEAR_TIE[method], (what, local, remote)
    assert len(differing) <= len(pairs) // 4, (what, differing)


@pytest.mark.slow
@pytest.mark.numerics
@pytest.mark.parametrize("method", list(METHODS))
def test_each_method_on_the_server_gives_the_embedded_answers(recording_proxy, embedded_path: Path, task,  # noqa: ANN001
                                                              small_train, method: str) -> None:
    settings = {"labels": tuple(task.labels), "train_examples": small_train, **METHODS[method]}
    embedded = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path), **settings))
    server = ServerEngine(ServerSettings(base_url=recording_proxy.base_url, model="default", flavour="llamacpp",
                                         **settings))
    mark = recording_proxy.mark()
    pairs = []
    try:
        for example in task.split("val")[:N_VAL]:
            messages = messages_for(task, example.input)
            local = embedded.score_messages(messages)
            remote, info = server.scoring().score(messages)
            assert info["smolgepa_decode"] == settings["decode"]
            pairs.append((local, remote.label))
            if method == "knn":  # vote shares of the 3 nearest anchors: the same unless a neighbour is a near tie
                assert remote.probs == pytest.approx(local.probs) or deciding_gap(method, local) <= NEAR_TIE[method]
                continue
            for label in task.labels:  # the method's own scores, not label log-likelihoods
                assert remote.logprobs[label] == pytest.approx(local.logprobs[label], abs=SCORE_TOLERANCE[method])
            if method == "scored+calibrate-train":
                assert remote.calibrated is not None and remote.prior is not None
                assert remote.prior == pytest.approx(local.prior, abs=0.05)
    finally:
        embedded.close()
        server.close()
    check_same_answers(method, pairs, method)
    bodies = [b for b in recording_proxy.bodies(mark) if isinstance(b, dict) and "messages" in b]
    texts = {text for text, _ in small_train}
    if method == "channel":  # the input forced as the reply, token by token, after each label's prompt
        forced = [b for b in bodies if "<[" in b.get("grammar", "")]
        assert len(forced) == N_VAL * len(task.labels)
        assert all(b["messages"][-1]["content"].startswith("Write a ") for b in forced)
    elif method == "knn":  # one wide distribution per anchor (once) and per query
        wide = [b for b in bodies if b.get("top_logprobs") == KNN_TOP_LOGPROBS and b["max_tokens"] == 1]
        assert len(wide) == len(small_train) + N_VAL
    elif method == "ensemble":  # one-shot prompts: system, one demo pair, the query
        assert bodies and all(len(b["messages"]) == 4 and b["messages"][2]["role"] == "assistant" for b in bodies)
    else:  # the training split scored once under the instruction, every label exactly
        scored_train = [b for b in bodies if any(t in b["messages"][-1]["content"] for t in texts)]
        assert len({b["messages"][-1]["content"] for b in scored_train}) == len(small_train)


def cli_eval(base_url: str, *flags: str) -> dict[str, Any]:
    """`smolgepa eval --json` of sentiment's 6 validation texts on the llama.cpp server at `base_url`."""
    return json.loads(run("eval", "--json", "--task", "sentiment", "--split", "val", "--student",
                          f"llamacpp:{base_url}", *flags, "--no-cache"))


@pytest.fixture(scope="module")
def direct_eval(llama_server) -> Callable[..., dict[str, Any]]:  # noqa: ANN001
    """`cli_eval` straight to the session's server, run once per set of flags in this module: the CLI test
    and the wrong-shape fault test read the same `channel` run (20-30 s of the server's time)."""
    return functools.cache(functools.partial(cli_eval, llama_server.base_url))


@pytest.mark.numerics
@pytest.mark.parametrize("flags", [("--decode", "channel"), ("--decode", "knn", "--knn-k", "3"),
                                   ("--decode", "ensemble"), ("--decode", "scored", "--calibrate", "train")])
@pytest.mark.slow
def test_eval_through_the_cli(direct_eval, embedded_path: Path, flags: tuple[str, ...]) -> None:  # noqa: ANN001
    sentiment = load_task("sentiment")
    report = direct_eval(*flags)
    decode = flags[1]
    assert report["n"] == 6 and report["unparsed"] == 0 and report["decode"] == decode
    assert report["calibrate"] == ("--calibrate" in flags)
    assert all(e["predicted"] in sentiment.labels and e["raw"] == e["predicted"] for e in report["examples"])
    method = "scored+calibrate-train" if "--calibrate" in flags else decode
    settings = dict(METHODS[method])
    settings.pop("ensemble_k", None)  # the CLI's default (6 one-shot prompts)
    embedded = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path), labels=tuple(sentiment.labels),
                                               train_examples=train_pairs(sentiment), **settings))
    try:
        inputs = {e.id: e.input for e in sentiment.split("val")}
        pairs = [(embedded.score_messages(messages_for(sentiment, inputs[e["id"]])), e["predicted"])
                 for e in report["examples"]]
    finally:
        embedded.close()
    check_same_answers(method, pairs, " ".join(flags))


@pytest.mark.slow
def test_a_reply_of_the_wrong_shape_is_retried_not_read(direct_eval, make_proxy) -> None:  # noqa: ANN001
    """Every other request (tokenize ones included) answered with valid JSON of the wrong shape: the
    channel scores equal a direct run's. Read as a reply, a tokenize answer without `tokens` was an
    empty token list, and the channel reply's score silently included the label's own tokens (drifts
    of 6-7 nats under the faults of test_faults_at_scale, 2026-12-01). Not `numerics`: it compares the
    server with itself, so the rehearsal would learn nothing from it."""
    proxy = make_proxy(FaultPlan(seed=1, schedule=("pass", "reshape") * 20, separate_repeats=True))
    direct = direct_eval("--decode", "channel")["examples"]
    through = cli_eval(proxy.base_url, "--decode", "channel", "--retries", "30", "--backoff", "0.01",
                       "--timeout", "60")["examples"]
    for clean, faulty in zip(direct, through, strict=True):
        for label, p in clean["scores"].items():
            drift = abs(math.log(max(p, 1e-4)) - math.log(max(faulty["scores"][label], 1e-4)))
            assert drift < 0.1, (clean["id"], clean["scores"], faulty["scores"])
        assert faulty["predicted"] == clean["predicted"]
    assert proxy.injected["reshape"] == 20


@pytest.mark.slow
@pytest.mark.numerics
def test_a_llamacpp_student_reads_with_the_candidates_method(llama_server, task, small_train) -> None:  # noqa: ANN001
    common = {"base_url": llama_server.base_url, "model": "default", "flavour": "llamacpp",
              "labels": tuple(task.labels), "train_examples": small_train, "knn_k": 3}
    scored = ServerEngine(ServerSettings(decode="scored", **common))
    knn = ServerEngine(ServerSettings(decode="knn", **common))
    seed = make_program(task).signature.instructions
    try:
        for example in task.split("val")[:3]:
            system, *turns = messages_for(task, example.input, with_reading(seed, "knn"))
            request = Request(model="m", system=system["content"],
                              messages=tuple(Message.user(t["content"]) for t in turns))
            answer = scored.complete(request)
            expected, _ = knn.scoring().score(messages_for(task, example.input))
            assert answer.text == expected.label
            assert answer.provider_data["smolgepa_decode"] == "knn"
            assert answer.provider_data["scores"]["probs"] == pytest.approx(expected.probs)  # vote shares
    finally:
        scored.close()
        knn.close()


@pytest.mark.parametrize("flavour", ["lmstudio", "ollama", "vllm", "openai"])
@pytest.mark.parametrize("settings", [{"decode": "channel"}, {"decode": "knn"}, {"decode": "ensemble"},
                                      {"decode": "scored", "calibrate": True, "calibration": "train"}])
def test_servers_that_cannot_refuse_in_one_line_naming_what_works(flavour: str, settings: dict) -> None:
    with pytest.raises(SmolgepaError) as caught:
        ServerSettings(base_url="http://127.0.0.1:9/v1", model="m", flavour=flavour, labels=("a", "b"),
                       train_examples=(("x", "a"),), **settings)
    message = str(caught.value)
    assert "\n" not in message and "is not available for" in message
    assert "llamacpp:URL" in message and "embedded" in message and f"{flavour} can do:" in message


def test_cli_refuses_a_method_on_a_server_that_cannot_run_it() -> None:
    result = subprocess.run([*SMOLGEPA, "eval", "--task", "sentiment", "--decode", "knn", "--student",
                             "ollama:smollm2"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "--decode knn is not available for ollama students" in result.stderr and "llamacpp:URL" in result.stderr


def test_readings_a_server_kind_supports() -> None:
    in_process = ("probe", "hidden", "stack", "hidden-figures")  # the whole distribution; hidden states
    assert server_readings("llamacpp") == tuple(r for r in READINGS if r not in in_process)
    assert server_readings("vllm") == ("scored", "scored+calibrate")
    assert server_readings("lmstudio") == ()
    vllm = ServerEngine(ServerSettings(base_url="http://127.0.0.1:9/v1", model="m", flavour="vllm",
                                       decode="scored", labels=("positive", "negative")))
    request = Request(model="m", system="Reading: channel\n\nClassify.", messages=(Message.user("Text: x\nLabel:"),))
    with pytest.raises(SmolgepaError, match="cannot read answers as.*'Reading: channel'.*scored, scored\\+calibrate"):
        vllm.complete(request)
    assert OptimizeConfig(task="sentiment", decode="scored", readings=True,
                          student="llamacpp:http://127.0.0.1:9/v1").offered_readings()
    with pytest.raises(SmolgepaError, match="--readings"):
        OptimizeConfig(task="sentiment", decode="scored", readings=True, student="vllm:m@http://127.0.0.1:9/v1")


def test_server_cache_keys_keep_old_modes_and_part_new_ones() -> None:
    def extras(**settings) -> dict:  # noqa: ANN003
        return ServerEngine(ServerSettings(base_url="http://127.0.0.1:9/v1", model="m", flavour="llamacpp",
                                           labels=("a", "b"), **settings)).cache_key_extras()

    assert set(extras(decode="scored")) == {"decode", "labels", "calibrate", "content_free", "role"}  # as before
    train = (("x", "a"), ("y", "b"))
    assert extras(decode="knn", train_examples=train, knn_k=3) != extras(decode="knn", train_examples=train, knn_k=4)
    assert extras(decode="ensemble", train_examples=train, seed=1) != extras(decode="ensemble", train_examples=train)
    assert "seed" not in extras(decode="channel", seed=1)


def test_top_kl_is_the_exact_kl_when_every_token_is_listed_and_a_lower_bound_otherwise() -> None:
    rng = np.random.default_rng(0)
    a, q = rng.dirichlet(np.ones(50)), rng.dirichlet(np.ones(50))
    exact = float((a * (np.log(a) - np.log(q))).sum())
    full = top_kl(TopLogprobs({str(i): math.log(p) for i, p in enumerate(a)}),
                  TopLogprobs({str(i): math.log(p) for i, p in enumerate(q)}))
    assert full == pytest.approx(exact, abs=1e-6)
    top = lambda p, n: TopLogprobs({str(i): math.log(p[i]) for i in np.argsort(-p)[:n]})  # noqa: E731
    assert 0.0 <= top_kl(top(a, 20), top(q, 20)) <= exact + 1e-9


def test_forced_tokens_and_the_tokenize_route() -> None:
    payload = forced_tokens_payload([8060, 42, 378])
    assert payload["grammar"] == "root ::= <[8060]> <[42]> <[378]>\n" and payload["max_tokens"] == 3
    calls = []

    def llama_server_post(path: str, body: dict, expect=None) -> dict:  # noqa: ANN001 - llama-server: no /extras/tokenize, BOS only on request
        calls.append(path)
        if path != "/tokenize":
            raise SmolgepaError("HTTP 404")
        reply = {"tokens": [ord(c) for c in body["content"]]}
        if expect is not None:
            expect(reply)  # as ServerEngine.post checks a non-chat reply
        return reply

    tokenize = ServerTokenizer(llama_server_post, "the server")
    assert tokenize("ab") == [97, 98] and calls[0] == "/extras/tokenize"
    bos = ServerTokenizer(lambda path, body, expect=None: {"tokens": [1] + [ord(c) for c in body["input"]]}, "the server")
    assert bos("ab") == [97, 98]  # a BOS the endpoint adds is not part of the reply
    for wrong in ({"object": "chat.completion", "choices": []}, {"tokens": "12"}, {"tokens": [1, "2"]}):
        with pytest.raises((KeyError, TypeError)):
            token_ids(wrong)  # retried by the engine, never read as "no tokens"
