"""Channel, kNN, ensemble and training-split calibration on the real embedded SmolLM2-135M: every
answer is a label, and each method's scores are what its definition says, recomputed here
independently (so a method silently replaced by `scored` fails)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import numpy as np
import pytest
from llama_cpp import Llama

from smolgepa.adapter.plain_text import PlainTextAdapter
from smolgepa.evaluation.evaluate import evaluate
from smolgepa.candidate.instruction import Shot, render_instruction
from smolgepa.lm import StudentOptions, make_lm
from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings
from smolgepa.lm.options import train_pairs
from smolgepa.lm.local.label_scorer import chat_prompt_tokens, log_softmax
from smolgepa.adapter.program import make_program
from smolgepa.tasks import load_task

N_VAL = 6
# Channel and ensemble prompts are evaluated side by side in several KV sequences (lm/sequences.py):
# their cells sit elsewhere in the cache than in a fresh pass, and a label's log-prob moves by the
# kernels' rounding (measured up to 0.21 nats against a fresh pass, 0.085 for one prompt at a time);
# a wrong prompt or a lost token moves it by nats.
BATCH_SPLIT_NATS = 0.25


@pytest.fixture(scope="module")
def task():
    return load_task("sentiment-extended")


@pytest.fixture(scope="module")
def small_train(task) -> tuple[tuple[str, str], ...]:
    """Three training examples per label (anchors cost one prefill each)."""
    picked: list[tuple[str, str]] = []
    for label in task.labels:
        picked += [(e.input, e.label) for e in task.split("train") if e.label == label][:3]
    return tuple(picked)


def messages_for(task, text: str, instruction: str | None = None) -> list[dict[str, str]]:
    program = make_program(task, instruction)
    return PlainTextAdapter().format(program.signature, [], {"input": text})


def make_engine(path: Path, task, decode: str, train=(), **extra) -> EmbeddedEngine:
    return EmbeddedEngine(EmbeddedSettings(path=str(path), decode=decode, labels=tuple(task.labels),
                                           train_examples=tuple(train), **extra))


@pytest.fixture(scope="module")
def reference(embedded_path: Path) -> Iterator[Llama]:
    """A second model with logits for every position, evaluated from scratch each time (no KV reuse)."""
    llama = Llama(model_path=str(embedded_path), n_ctx=1024, logits_all=True, verbose=False)
    yield llama
    llama.close()


def fresh_logprobs(llama: Llama, tokens: list[int]) -> np.ndarray:
    """Log-softmax rows for every position of `tokens`, from one fresh evaluation."""
    llama.reset()
    llama.eval(tokens)
    rows = np.asarray(llama.scores[: len(tokens)], dtype=np.float64)
    return rows - rows.max(axis=1, keepdims=True) - np.log(np.exp(rows - rows.max(axis=1, keepdims=True)).sum(
        axis=1, keepdims=True))


@pytest.mark.parametrize("decode,extra", [
    ("channel", {}), ("knn", {"knn_k": 3}), ("ensemble", {"ensemble_k": 3}),
    ("scored", {"calibrate": True, "calibration": "train"}),
])
def test_every_answer_is_a_label(decode: str, extra: dict, task, small_train) -> None:
    lm = make_lm("embedded", StudentOptions(decode=decode, labels=tuple(task.labels), train_examples=small_train,
                                            **extra))
    try:
        report = evaluate(task, lm, task.split("val")[:N_VAL])
    finally:
        lm.engine.close()
    assert report.unparsed == 0 and report.n == N_VAL
    assert {p.raw for p in report.predictions} <= set(task.labels)
    assert report.decode == decode and report.to_json()["decode"] == decode


@pytest.mark.slow
def test_channel_scores_are_the_text_likelihood_given_the_label(embedded_path: Path, task, reference) -> None:
    """Each label's score is log P(text tokens | system, "Write a y text." user turn, "Text:"), recomputed
    from one fresh pass; and the scores are not the direct label scores."""
    channel = make_engine(embedded_path, task, "channel")
    scored = make_engine(embedded_path, task, "scored")
    try:
        for example in task.split("val")[:2]:
            messages = messages_for(task, example.input)
            got = channel.score_messages(messages)
            llama = channel.llama()
            for label in task.labels:
                written = [messages[0], {"role": "user", "content": f"Write a {label} text."}]
                prompt = chat_prompt_tokens(llama, written)
                head = llama.tokenize(b"Text:", add_bos=False)
                full = llama.tokenize(f"Text: {example.input}".encode(), add_bos=False)
                assert full[: len(head)] == head
                rows = fresh_logprobs(reference, prompt + full)
                expected = sum(rows[len(prompt) + i - 1][full[i]] for i in range(len(head), len(full)))
                assert got.logprobs[label] == pytest.approx(expected, abs=BATCH_SPLIT_NATS), label
            assert got.label == max(got.logprobs, key=got.logprobs.get)
            direct = scored.score_messages(messages).logprobs
            assert all(abs(got.logprobs[y] - direct[y]) > 1.0 for y in task.labels)  # a whole text, not a label
    finally:
        channel.close()
        scored.close()


def test_channel_turns_the_instruction_demos_round(embedded_path: Path, task) -> None:
    from smolgepa.lm.readings.channel import channel_messages
    from smolgepa.lm.readings.turns import read_prompt

    instruction = render_instruction("Classify the sentiment.", [Shot("I loved it", "positive")])
    messages = messages_for(task, "It broke.", instruction)
    built = channel_messages(read_prompt(messages, "channel"), "negative")
    assert [m["role"] for m in built] == ["system", "user", "assistant", "user"]
    assert built[1]["content"] == "Write a positive text." and built[2]["content"] == "Text: I loved it"
    assert built[3]["content"] == "Write a negative text."


@pytest.mark.slow
def test_knn_answer_is_the_vote_of_the_nearest_anchors(embedded_path: Path, task, small_train) -> None:
    """Anchors and query distributions recomputed from fresh passes: the k nearest by KL(anchor || query)
    vote, and the engine's answer is their majority."""
    k = 3
    eng = make_engine(embedded_path, task, "knn", small_train, knn_k=k)
    fresh = Llama(model_path=str(embedded_path), n_ctx=1024, verbose=False)  # last logits only: fast
    try:
        llama = eng.llama()

        def distribution(text: str) -> np.ndarray:
            prompt = chat_prompt_tokens(llama, messages_for(task, text))
            fresh.reset()
            fresh.eval(prompt)  # one batch, nothing cached
            last = llama_cpp.llama_get_logits_ith(fresh.ctx, -1)
            return log_softmax(np.ctypeslib.as_array(last, shape=(fresh.n_vocab(),)).copy())

        anchors = np.stack([distribution(text) for text, _ in small_train])
        checked = 0
        for example in task.split("val")[:N_VAL]:
            got = eng.score_messages(messages_for(task, example.input))
            query = distribution(example.input)
            kl = (np.exp(anchors) * (anchors - query[None, :])).sum(axis=1)
            order = np.argsort(kl)
            if kl[order[k]] - kl[order[k - 1]] < 1e-3:
                continue  # a near-tie at the k-th neighbour: numerics may pick either
            votes = Counter(small_train[i][1] for i in order[:k])
            top = max(votes.values())
            tied = [y for y in votes if votes[y] == top]
            expected = min(tied, key=lambda y: min(kl[i] for i in order[:k] if small_train[i][1] == y))
            assert got.label == expected
            assert got.probs[got.label] == pytest.approx(top / k)
            checked += 1
        assert checked >= 3
    finally:
        fresh.close()
        eng.close()


def test_knn_leaves_the_query_out_and_computes_anchors_once_per_instruction(embedded_path: Path, task,
                                                                           small_train) -> None:
    eng = make_engine(embedded_path, task, "knn", small_train, knn_k=1)
    try:
        method = eng.scoring_method()
        own_text, own_label = small_train[0]
        chosen, distances = method.neighbours(messages_for(task, own_text))
        assert int(np.argmin(distances)) == 0 and distances[0] == pytest.approx(0.0, abs=1e-3)  # it is nearest
        assert 0 not in chosen and len(chosen) == 1  # but left out
        assert method.forward_calls == len(small_train)  # a training text is read from its anchor

        for example in task.split("val")[:3]:
            eng.score_messages(messages_for(task, example.input))
        assert method.forward_calls == len(small_train) + 3  # same instruction: anchors reused
        eng.score_messages(messages_for(task, task.split("val")[0].input, instruction="Is the writer happy?"))
        assert method.forward_calls == 2 * len(small_train) + 4  # another instruction: new anchors
    finally:
        eng.close()


def test_ensemble_is_the_mean_of_one_shot_runs(embedded_path: Path, task) -> None:
    """With an Examples block of two demos: the mean of the two one-shot `scored` runs (each written by
    the adapter from a one-example instruction), normalised over the labels."""
    shots = [Shot("Terrible, it broke on day one.", "negative"), Shot("The shop opens at nine.", "neutral")]
    base = "Classify the sentiment of the text."
    ensemble = make_engine(embedded_path, task, "ensemble")
    scored = make_engine(embedded_path, task, "scored")
    try:
        for example in task.split("val")[:2]:
            got = ensemble.score_messages(messages_for(task, example.input, render_instruction(base, shots)))
            runs = []
            for shot in shots:
                one = scored.score_messages(messages_for(task, example.input, render_instruction(base, [shot])))
                values = np.array([one.logprobs[y] for y in task.labels])
                runs.append(values - values.max() - math.log(np.exp(values - values.max()).sum()))
            mean = np.mean(runs, axis=0)
            for label, value in zip(task.labels, mean):
                assert got.logprobs[label] == pytest.approx(value, abs=BATCH_SPLIT_NATS)
            assert got.label == list(task.labels)[int(np.argmax(mean))]
            both = scored.score_messages(messages_for(task, example.input, render_instruction(base, shots)))
            # not one 2-shot run (measured 0.46 and 0.69 apart)
            assert any(abs(got.logprobs[y] - both.logprobs[y]) > BATCH_SPLIT_NATS for y in task.labels)
    finally:
        ensemble.close()
        scored.close()


def test_ensemble_without_demos_takes_balanced_training_examples(task) -> None:
    from smolgepa.lm.readings.ensemble import balanced_shots

    train = train_pairs(task)
    picked = balanced_shots(train, task.labels, 6, seed=0)
    assert Counter(label for _, label in picked) == {label: 2 for label in task.labels}
    assert balanced_shots(train, task.labels, 6, seed=0) == picked
    assert balanced_shots(train, task.labels, 6, seed=1) != picked
    skipped = balanced_shots(train, task.labels, 6, seed=0, skip_text=" ".join(picked[0][0].split()))
    assert picked[0] not in skipped and len(skipped) == 6


@pytest.mark.slow
def test_calibrate_train_offsets_move_answers_off_the_favoured_label(embedded_path: Path, task) -> None:
    """The seed instruction makes the 135M answer mostly one label; offsets fitted on training scores
    are largest against that label, answers are argmax(normalised scores + offsets), and some move."""
    train = train_pairs(task)[::2]  # 30 examples, 10 per label
    eng = make_engine(embedded_path, task, "scored", train, calibrate=True, calibration="train")
    plain = make_engine(embedded_path, task, "scored")
    try:
        raw, calibrated = Counter(), Counter()
        for example in task.split("val")[:12]:
            messages = messages_for(task, example.input)
            got = eng.score_messages(messages)
            offsets = eng.scoring_method().offsets_for(messages)
            direct = plain.score_messages(messages)
            for label in task.labels:
                assert got.logprobs[label] == pytest.approx(direct.logprobs[label], abs=1e-3)
            shifted = {y: got.logprobs[y] + offsets[y] for y in task.labels}
            assert got.label == max(shifted, key=shifted.get)
            raw[direct.label] += 1
            calibrated[got.label] += 1
        favourite = raw.most_common(1)[0][0]
        assert raw[favourite] >= 8  # the case is skewed
        assert min(offsets, key=offsets.get) == favourite
        assert calibrated[favourite] < raw[favourite]
    finally:
        eng.close()
        plain.close()


def test_fit_offsets_recovers_a_constant_bias() -> None:
    from smolgepa.lm.readings.train_calibration import fit_offsets

    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, size=300)
    clean = rng.normal(0, 1, size=(300, 3))
    clean[np.arange(300), gold] += 2.0
    biased = clean + np.array([3.0, 0.0, 0.0])  # label 0 favoured by 3 nats
    offsets = fit_offsets(biased, gold)
    accuracy = lambda s: float(np.mean(s.argmax(axis=1) == gold))  # noqa: E731
    assert accuracy(biased + offsets) > accuracy(biased) + 0.2
    assert offsets[0] < offsets[1] and offsets[0] < offsets[2]


def test_vote_breaks_ties_by_the_nearest_neighbour() -> None:
    from smolgepa.lm.readings.knn import vote

    labels = ("positive", "negative", "neutral")
    assert vote(labels, ["negative", "positive", "positive", "negative"], [0.1, 0.2, 0.3, 0.4])[0] == "negative"
    assert vote(labels, ["neutral", "positive", "positive"], [0.1, 0.2, 0.3])[0] == "positive"


def test_log_softmax_is_normalised() -> None:
    values = log_softmax(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    assert float(np.exp(values).sum()) == pytest.approx(1.0)


def test_train_calibration_fits_on_a_balanced_capped_subset() -> None:
    from smolgepa.lm.readings.train_calibration import TrainCalibrated, fit_subset

    train = [(f"p{i}", "positive") for i in range(50)] + [(f"n{i}", "negative") for i in range(5)]
    chosen = fit_subset(train, per_label=30)
    assert [t for t, _ in chosen] == [f"p{i}" for i in range(30)] + [f"n{i}" for i in range(5)]  # split order kept
    assert TrainCalibrated(None, ("positive", "negative"), train).train == chosen


def test_engines_on_one_file_share_anchors_and_other_settings_do_not(embedded_path: Path, task, small_train) -> None:
    """A second engine on the same file and context reads the anchors and the queries the first computed
    (no forward pass for them, the same answers); one with another context size computes its own."""
    query = messages_for(task, task.split("val")[0].input)
    first = make_engine(embedded_path, task, "knn", small_train, knn_k=1)
    second = make_engine(embedded_path, task, "probe", small_train)  # probe reads the same anchors
    other = make_engine(embedded_path, task, "knn", small_train, knn_k=1, n_ctx=1024)
    try:
        want = first.score_messages(query)
        assert first.scoring_method().forward_calls == len(small_train) + 1 and first.fits.taken == 0
        second.score_messages(query)
        assert second.scoring_method().memory.forward_calls == 0  # the anchors and the query: the first's
        assert second.fits.taken == 1 and second.fits.computed == 2  # the anchors taken, its read-out fitted
        got = other.score_messages(query)
        assert other.scoring_method().forward_calls == len(small_train) + 1 and other.fits.taken == 0
        assert got.label == want.label
    finally:
        first.close(), second.close(), other.close()


def test_shared_fits_keep_the_recently_used_within_their_budget() -> None:
    from smolgepa.lm.readings.fit_memory import FitMemory, SharedFits

    shared = SharedFits(budget=3 * 8000 + 500)
    for name in "abc":
        shared.put((name,), np.zeros(1000))  # 8,000 bytes each
    assert shared.get(("a",))[0]  # used: now the most recent
    shared.put(("d",), np.zeros(1000))
    assert [shared.get((n,))[0] for n in "abcd"] == [True, False, True, True]  # b, the least recent, went
    shared.put(("huge",), np.zeros(10_000))  # more than the whole budget: not kept, nothing dropped
    assert len(shared) == 3 and not shared.get(("huge",))[0]
    computed: list[str] = []
    memory, heard = FitMemory(shared=shared), []
    memory.on_fit = heard.append
    assert memory.get(("a",), lambda: computed.append("a")) is shared.get(("a",))[1]  # taken, not computed
    memory.get(("e",), lambda: computed.append("e") or np.ones(3))
    assert computed == ["e"] and heard == [("a",), ("e",)] and (memory.taken, memory.computed) == (1, 2)
    assert shared.get(("e",))[0]  # what one memory computes, the others can take
