"""Decode modes without a model: options, grammar text, calibration math, server payloads and logprobs."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smolgepa.cli import main
from smolgepa.errors import SmolgepaError
from smolgepa.lm import StudentOptions
from smolgepa.lm.readings.scores import (
    calibration_key,
    choose_label,
    content_free_messages,
    content_free_prior,
    softmax,
)
from smolgepa.lm.readings.reading import check_decode
from smolgepa.lm.readings.constrained import gbnf_literal, label_gbnf
from smolgepa.lm.servers.payloads import (
    LabelLogprob,
    TokenStep,
    check_answer,
    check_server_decode,
    constrained_payload,
    decide_scored,
    decode_payload,
    first_position_estimates,
    forced_logprob,
    forced_payload,
    label_json_schema,
    logprob_steps,
    read_constrained,
    read_scored,
    score_label,
    scored_payload,
    server_content_free_prior,
)
from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings

SENTIMENT = ("positive", "negative", "neutral")
MONITOR = ("doom_loop", "api_confusion", "verbose_thinking", "making_progress")


# --- options -----------------------------------------------------------------------------------


def test_unknown_mode_lists_the_modes() -> None:
    with pytest.raises(SmolgepaError, match="Available: free, constrained, scored"):
        StudentOptions(decode="beam", labels=SENTIMENT)


@pytest.mark.parametrize("mode", ["constrained", "scored"])
def test_label_modes_need_labels(mode: str) -> None:
    with pytest.raises(SmolgepaError, match="label set"):
        StudentOptions(decode=mode)
    with pytest.raises(SmolgepaError, match="distinct"):
        check_decode(mode, ["a", "a"])


@pytest.mark.parametrize("mode", ["free", "constrained"])
def test_calibration_needs_scored(mode: str) -> None:
    with pytest.raises(SmolgepaError, match="--decode scored"):
        StudentOptions(decode=mode, labels=SENTIMENT, calibrate=True)


def test_eval_cli_rejects_calibrate_without_scored(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--task", "sentiment", "--decode", "constrained", "--calibrate"]) == 2
    assert "--decode scored" in capsys.readouterr().err


def test_engine_state_round_trips_through_json(tmp_path) -> None:
    settings = EmbeddedSettings(path=str(tmp_path / "m.gguf"), decode="scored", labels=SENTIMENT, calibrate=True)
    state = json.loads(json.dumps(EmbeddedEngine(settings).dump_state()))
    assert state["decode"] == "scored" and state["labels"] == list(SENTIMENT) and state["calibrate"] is True
    assert EmbeddedEngine.load_state(state).settings == settings


# --- grammar -----------------------------------------------------------------------------------


def test_gbnf_literals_escape_what_gbnf_needs() -> None:
    assert gbnf_literal("doom_loop") == '"doom_loop"'
    assert gbnf_literal('say "yes"') == r'"say \"yes\""'
    assert gbnf_literal("a\\b") == r'"a\\b"'
    assert gbnf_literal("x\ny\t") == r'"x\ny\t"'
    assert label_gbnf(SENTIMENT) == 'root ::= "positive" | "negative" | "neutral"\n'


# --- calibration math --------------------------------------------------------------------------

scores = st.dictionaries(
    st.sampled_from(MONITOR), st.floats(min_value=-30, max_value=0), min_size=len(MONITOR), max_size=len(MONITOR)
)


@given(scores, scores)
def test_calibration_only_moves_to_a_label_the_prior_favours_less(logprobs, cf_logprobs) -> None:
    prior = content_free_prior([cf_logprobs])
    plain = choose_label(logprobs)
    calibrated = choose_label(logprobs, prior)
    assert sum(calibrated.calibrated.values()) == pytest.approx(1.0)
    if calibrated.label != plain.label:
        assert prior[calibrated.label] <= prior[plain.label] + 1e-12  # equal only on ties


def test_calibration_flips_a_biased_answer() -> None:
    # The prompt alone says "positive" with p=0.8; the input only nudges it to 0.6 -> not positive.
    prior = content_free_prior([{"positive": math.log(0.8), "negative": math.log(0.1), "neutral": math.log(0.1)}])
    scores_ = {"positive": math.log(0.6), "negative": math.log(0.3), "neutral": math.log(0.1)}
    assert choose_label(scores_).label == "positive"
    assert choose_label(scores_, prior).label == "negative"


def test_content_free_prior_averages_probabilities() -> None:
    prior = content_free_prior([{"a": 0.0, "b": -math.inf}, {"a": -math.inf, "b": 0.0}])
    assert prior == pytest.approx({"a": 0.5, "b": 0.5})
    assert softmax({"a": math.log(3), "b": 0.0}) == pytest.approx({"a": 0.75, "b": 0.25})


def test_content_free_messages_keep_instruction_prefix_and_cue() -> None:
    messages = [
        {"role": "system", "content": "Classify."},
        {"role": "user", "content": "Trace: task: x\nturn 1: ...\nturn 2: ...\nLabel:"},
    ]
    assert content_free_messages(messages, "N/A")[1]["content"] == "Trace: N/A\nLabel:"
    assert content_free_messages(messages, "")[1]["content"] == "Trace: \nLabel:"
    assert messages[1]["content"].startswith("Trace: task")  # not modified in place
    other = [{"role": "user", "content": "what is this"}]
    assert content_free_messages(other, "[MASK]") == [{"role": "user", "content": "[MASK]"}]


def test_calibration_key_ignores_the_input_only() -> None:
    a = [{"role": "system", "content": "Classify."}, {"role": "user", "content": "Text: good\nLabel:"}]
    b = [{"role": "system", "content": "Classify."}, {"role": "user", "content": "Text: bad day\nLabel:"}]
    c = [{"role": "system", "content": "Classify!"}, {"role": "user", "content": "Text: good\nLabel:"}]
    assert calibration_key(a, SENTIMENT) == calibration_key(b, SENTIMENT)
    assert calibration_key(a, SENTIMENT) != calibration_key(c, SENTIMENT)
    assert calibration_key(a, SENTIMENT) != calibration_key(a, SENTIMENT[::-1])


# --- servers -----------------------------------------------------------------------------------


def test_constrained_payload_per_server_kind() -> None:
    assert constrained_payload("llamacpp", SENTIMENT) == {"grammar": label_gbnf(SENTIMENT)}
    assert constrained_payload("vllm", SENTIMENT) == {"structured_outputs": {"choice": list(SENTIMENT)}}
    assert constrained_payload("vllm", SENTIMENT, vllm_legacy=True) == {"guided_choice": list(SENTIMENT)}
    for flavour in ("lmstudio", "ollama", "openai"):
        payload = constrained_payload(flavour, SENTIMENT)
        response_format = payload["response_format"]
        assert response_format["type"] == "json_schema"  # never json_object
        schema = response_format["json_schema"]["schema"]
        assert schema == label_json_schema(SENTIMENT)
        assert schema["properties"]["label"]["enum"] == list(SENTIMENT)
        assert "json_object" not in json.dumps(payload)
    assert decode_payload("lmstudio", "free", SENTIMENT) == {}


def test_scored_payload_asks_for_logprobs_and_constrains_bare_labels_only() -> None:
    payload = scored_payload("llamacpp", SENTIMENT)
    assert payload["logprobs"] is True and payload["top_logprobs"] >= 5 and payload["temperature"] == 0.0
    assert payload["grammar"] == label_gbnf(SENTIMENT)
    assert scored_payload("vllm", SENTIMENT)["structured_outputs"] == {"choice": list(SENTIMENT)}
    # A JSON answer would put '{"label": "' before the label: JSON servers are scored unconstrained.
    assert "response_format" not in scored_payload("ollama", SENTIMENT)


def test_server_content_free_prior_scores_each_content_free_input() -> None:
    sent: list[str] = []

    def score(messages):
        sent.append(messages[-1]["content"])
        good = messages[-1]["content"] == "Text: N/A\nLabel:"
        return {"positive": -0.1 if good else -2.0, "negative": -1.0}

    messages = [{"role": "system", "content": "Classify."}, {"role": "user", "content": "Text: great\nLabel:"}]
    prior = server_content_free_prior(score, messages, ["positive", "negative"])
    assert sent == ["Text: N/A\nLabel:", "Text: \nLabel:", "Text: [MASK]\nLabel:"]
    runs = [softmax({"positive": -0.1, "negative": -1.0})] + [softmax({"positive": -2.0, "negative": -1.0})] * 2
    assert prior == pytest.approx({label: sum(run[label] for run in runs) / 3 for label in prior})


def test_lmstudio_cannot_score_and_says_what_it_can_do() -> None:
    with pytest.raises(SmolgepaError, match="lmstudio can do: free, constrained"):
        check_server_decode("lmstudio", "scored")
    with pytest.raises(SmolgepaError, match="lmstudio can do"):
        scored_payload("lmstudio", SENTIMENT)
    with pytest.raises(SmolgepaError, match="Available"):
        check_server_decode("tgi", "free")


def test_read_constrained() -> None:
    assert read_constrained("lmstudio", '{"label": "neutral"}') == "neutral"
    assert read_constrained("ollama", ' {"label":"doom_loop"} ') == "doom_loop"
    assert read_constrained("openai", '"positive"') == "positive"
    assert read_constrained("lmstudio", "positive, I think") == "positive, I think"  # constraint ignored
    assert read_constrained("llamacpp", "negative") == "negative"
    assert read_constrained("vllm", '{"label": "x"}') == '{"label": "x"}'


def step(token: str, logprob: float, **top: float) -> TokenStep:
    return TokenStep(token, logprob, {token: logprob, **top})


def test_single_token_labels_are_exact_from_the_first_position() -> None:
    steps = [step("positive", -0.2, negative=-2.0, neutral=-3.5, Pos=-4.0)]
    assert score_label(steps, "positive").value == -0.2 and score_label(steps, "positive").exact
    assert score_label(steps, "neutral").value == -3.5 and score_label(steps, "neutral").exact


def test_multi_token_labels_follow_the_taken_path_or_get_a_bound() -> None:
    steps = [step("doom", -0.5, api=-1.0, making=-2.0), step("_", -0.1), step("loop", -0.05)]
    doom = score_label(steps, "doom_loop")
    assert doom.exact and doom.value == pytest.approx(-0.65)
    api = score_label(steps, "api_confusion")  # leaves the path after its first token
    assert not api.exact and api.value == -1.0
    verbose = score_label(steps, "verbose_thinking")  # not listed: at most the smallest listed value
    assert not verbose.exact and verbose.value == -2.0


def test_logprob_steps_reads_the_shapes_servers_use() -> None:
    chat = {"choices": [{"logprobs": {"content": [
        {"token": "neg", "logprob": -0.3, "top_logprobs": [{"token": "neg", "logprob": -0.3}, {"token": "pos", "logprob": -1.5}]},
    ]}}]}  # fmt: skip
    completions = {"choices": [{"logprobs": {"tokens": ["neg"], "token_logprobs": [-0.3], "top_logprobs": [{"neg": -0.3, "pos": -1.5}]}}]}
    native = {"completion_probabilities": [
        {"id": 1, "token": "neg", "logprob": -0.3, "top_logprobs": [{"id": 1, "token": "neg", "logprob": -0.3}, {"id": 2, "token": "pos", "logprob": -1.5}]},
    ]}  # fmt: skip
    old_native = {"completion_probabilities": [{"content": "neg", "probs": [{"tok_str": "neg", "prob": math.exp(-0.3)}, {"tok_str": "pos", "prob": math.exp(-1.5)}]}]}
    for data in (chat, completions, native, old_native):
        (only,) = logprob_steps(data)
        assert only.token == "neg"
        assert only.logprob == pytest.approx(-0.3) and only.top["pos"] == pytest.approx(-1.5)


def test_read_scored_picks_the_best_exact_label_and_flags_doubt() -> None:
    data = {"choices": [{"logprobs": {"content": [
        {"token": "doom", "logprob": -0.5, "top_logprobs": [{"token": "doom", "logprob": -0.5}, {"token": "api", "logprob": -0.6}]},
        {"token": "_loop", "logprob": -0.4, "top_logprobs": [{"token": "_loop", "logprob": -0.4}]},
    ]}}]}  # fmt: skip
    scores_, info = read_scored(data, ["doom_loop", "api_confusion"])
    assert scores_.label == "doom_loop" and info["exact"] == ["doom_loop"]
    assert info["uncertain"] is True  # api_confusion's bound (-0.6) beats doom_loop's -0.9
    json.dumps(info)
    with pytest.raises(SmolgepaError, match="no token logprobs"):
        read_scored({"choices": [{"message": {"content": "doom_loop"}}]}, ["doom_loop"], where="http://x/v1")


def test_first_position_scores_only_whole_listed_labels_exactly() -> None:
    steps = [step("d", -6.4, Trace=-1.2, api=-6.5), step("oo", -5.0)]  # a grammar's odd greedy path
    estimates = first_position_estimates(steps, ["api", "doom_loop", "verbose_thinking"])
    assert estimates["api"] == LabelLogprob(-6.5, True)
    assert estimates["doom_loop"] == LabelLogprob(-6.4, False)  # its first token is at most the listed "d"
    assert estimates["verbose_thinking"] == LabelLogprob(-6.5, False)  # unlisted: at most the smallest listed


def test_forced_requests_pin_one_label_and_read_back_its_tokens() -> None:
    payload = forced_payload("doom_loop")
    assert payload["grammar"] == label_gbnf(["doom_loop"]) and payload["logit_bias"] == {"doom_loop": 100.0}
    assert payload["logit_bias_type"] == "tokens" and payload["logprobs"] is True and payload["temperature"] == 0.0
    assert payload["max_tokens"] >= len("doom_loop")
    reply = {"choices": [{"message": {"content": "doom_loop"}, "logprobs": {"content": [
        {"token": "do", "logprob": -10.7}, {"token": "om", "logprob": -3.9}, {"token": "_", "logprob": -0.1},
        {"token": "loop", "logprob": -0.8}]}}]}  # fmt: skip
    assert forced_logprob(reply, "doom_loop") == pytest.approx(-15.5)
    assert forced_logprob(reply, "api_confusion") is None


def test_an_answer_outside_the_labels_means_the_constraint_was_ignored() -> None:
    assert check_answer("lmstudio", '{"label": "neutral"}', SENTIMENT, "The lmstudio server at http://h/v1") == "neutral"
    with pytest.raises(SmolgepaError, match="http://h/v1 ignored the label constraint.*llamacpp:URL"):
        check_answer("openai", "I think it is positive", SENTIMENT, "The openai server at http://h/v1")


def test_calibrated_choices_with_a_bound_are_flagged_uncertain() -> None:
    estimates = {"positive": LabelLogprob(-0.5, True), "negative": LabelLogprob(-3.0, False)}
    scores, info = decide_scored(estimates)
    assert scores.label == "positive" and not info["uncertain"]
    scores, info = decide_scored(estimates, prior={"positive": 0.99, "negative": 0.01})
    assert info["uncertain"] and scores.calibrated is not None


# --- diagnostics of free text: the label list echoed instead of an answer ---------------------


def test_label_list_echo_is_counted_only_without_an_answer() -> None:
    from smolgepa.evaluation.diagnostics import diagnose, labels_named
    from smolgepa.evaluation.evaluate import Prediction

    assert labels_named("Doom loop, API-confusion or making_progress", MONITOR) == {
        "doom_loop", "api_confusion", "making_progress"
    }
    rows = [
        Prediction("1", "x", "negative", None, "Positive, negative, neutral."),  # the list, no answer
        Prediction("2", "y", "negative", "positive", "positive, with no negative tone"),  # an answer
        Prediction("3", "z", "neutral", None, "I cannot tell."),
    ]
    diagnostics = diagnose(rows, list(SENTIMENT))
    assert diagnostics.label_list_echo_rate == pytest.approx(1 / 3)
    assert any("listing several labels" in line for line in diagnostics.summary_lines())
