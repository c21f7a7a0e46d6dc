"""The `hidden` reading: a logistic regression on the embedded SmolLM2-135M's final hidden states,
fitted on the training split's anchors; states read from the model for real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.lm.servers.payloads import check_server_decode
from smolgepa.lm.readings.hidden import fit_state_probe
from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings
from smolgepa.lm.local.hidden_states import HiddenStates
from smolgepa.lm.local.label_scorer import chat_prompt_tokens
from smolgepa.candidate.reading_line import READINGS, reading
from smolgepa.tasks.model import Example, Task
from test_scoring_methods import make_engine, messages_for

COOKING = ["Simmer the onions in butter until soft.", "Knead the dough for ten minutes.",
           "Season the soup with salt and pepper.", "Bake the bread at two hundred degrees.",
           "Whisk the eggs with a little milk.", "Chop the garlic and fry it gently.",
           "Roast the carrots with olive oil.", "Stir the risotto until it is creamy.",
           "Grate the cheese over the pasta.", "Slice the tomatoes for the salad."]
SPORT = ["The striker scored in the last minute.", "She won the marathon in record time.",
         "The goalkeeper saved a penalty.", "Our team lost the match on Sunday.",
         "He serves faster than any tennis player.", "The cyclists climbed the mountain stage.",
         "The referee showed a red card.", "They trained on the track every morning.",
         "The swimmer took gold in the relay.", "The coach changed the defence at half time."]


@pytest.fixture(scope="module")
def topics() -> Task:
    """Two topics under label names that say nothing about them (scored decoding cannot tell them
    apart by the names): 8 training and 2 test sentences each."""
    examples = [Example(f"{label}{i}", text, label, "train" if i < 8 else "test")
                for label, texts in (("alpha", COOKING), ("beta", SPORT)) for i, text in enumerate(texts)]
    return Task("topics", "Say which group the sentence belongs to.", {"alpha": "group one", "beta": "group two"},
                tuple(examples))


def train_pairs(task: Task) -> tuple[tuple[str, str], ...]:
    return tuple((e.input, e.label) for e in task.split("train"))


def test_states_read_the_input_after_a_cached_instruction(embedded_path: Path, topics: Task) -> None:
    states = HiddenStates(embedded_path, n_ctx=1024, n_threads=2)
    fresh = HiddenStates(embedded_path, n_ctx=1024, n_threads=2)
    try:
        first, second = (messages_for(topics, text) for text in (COOKING[0], SPORT[0]))
        a = states.features(first)
        b = states.features(second)  # the instruction comes from the KV cache
        assert a.shape == b.shape == (2 * states.llama().n_embd(),)
        assert not np.allclose(a, b, atol=1e-2)  # the input changes what is read
        assert np.allclose(fresh.features(second), b, rtol=1e-3, atol=1e-3)  # reuse changes nothing
        first_tokens, second_tokens = (chat_prompt_tokens(states.llama(), m) for m in (first, second))
        start = states.input_start(second, second_tokens)  # where the input begins: the prompts part there
        assert 0 < start and first_tokens[:start] == second_tokens[:start] and first_tokens[start] != second_tokens[start]
    finally:
        states.close()
        fresh.close()


def test_loading_the_states_context_prints_no_pooling_warning(embedded_path: Path, capsys) -> None:  # noqa: ANN001
    """No pooling is what the reading asks for: llama.cpp's warning about it is not shown to the user."""
    states = HiddenStates(embedded_path, n_ctx=256, n_threads=1)
    try:
        assert states.llama().n_embd() > 0
    finally:
        states.close()
    assert "pooling_type" not in capsys.readouterr().err


def test_the_states_context_uses_the_threads_the_main_context_uses(embedded_path: Path, topics: Task,
                                                                     monkeypatch) -> None:  # noqa: ANN001
    """OMP_NUM_THREADS (how Ray shares a machine's cores between cells) bounds both contexts."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    eng = make_engine(embedded_path, topics, "hidden", train_pairs(topics))
    try:
        features = eng.hidden_features(messages_for(topics, COOKING[0]))
        assert features.shape == (2 * eng._hidden.llama().n_embd(),)
        assert eng._hidden.n_threads == eng.llama().context_params.n_threads_batch == 1
    finally:
        eng.close()


def test_prompts_take_every_thread_and_one_thread_decodes(embedded_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Batches (prompts, scored labels) on every thread; one-token steps on DECODE_THREADS (one: waking
    a sleeping second thread costs more than it computes; benchmarks/bench_speed.py, decode_threads)."""
    from smolgepa.lm.local.embedded import DECODE_THREADS

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    eng = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path), n_ctx=512))
    try:
        params = eng.llama().context_params
        assert (params.n_threads_batch, params.n_threads) == (2, DECODE_THREADS) == (2, 1)
    finally:
        eng.close()
    every = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path), n_ctx=512, decode_threads=0))
    try:
        assert every.llama().context_params.n_threads == 2  # 0: decode on as many as the prompts
    finally:
        every.close()


def test_the_hidden_reading_tells_apart_what_label_names_cannot(embedded_path: Path, topics: Task) -> None:
    """Four held-out sentences: the probe on hidden states gets them all; its answers are the probe
    refitted here on the engine's anchors, and the anchors are read once per instruction."""
    train = train_pairs(topics)
    eng = make_engine(embedded_path, topics, "hidden", train)
    try:
        method = eng.scoring_method()
        tests = topics.split("test")
        answers = [eng.score_messages(messages_for(topics, e.input)) for e in tests]
        assert [a.label for a in answers] == [e.label for e in tests]
        assert method.memory.forward_calls == len(train) + len(tests)
        messages = messages_for(topics, tests[0].input)
        probe = fit_state_probe(method.memory.anchors_for(messages), tuple(topics.labels))
        expected = probe.probabilities(eng.hidden_features(messages), tests[0].input)
        assert answers[0].probs == pytest.approx(dict(zip(topics.labels, expected)), abs=1e-3)
    finally:
        eng.close()


def test_the_hidden_reading_is_embedded_only_and_a_candidate_reading() -> None:
    with pytest.raises(SmolgepaError, match="hidden.*hidden states.*embedded"):
        check_server_decode("llamacpp", "hidden")
    assert "hidden" in READINGS and reading("hidden").decode == "hidden"
