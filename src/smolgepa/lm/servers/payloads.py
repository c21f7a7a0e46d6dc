"""Decode modes on server students: the request fields per server kind, and reading answers back.

Pure functions over JSON; `smolgepa.lm.servers.server_engine.ServerEngine` merges `decode_payload(...)` into its
chat-completions body and reads the reply with `read_constrained` / `read_scored`.

What each server kind supports (free text works everywhere):

| kind     | constrained                                                    | scored (token logprobs)                  |
|----------|----------------------------------------------------------------|------------------------------------------|
| llamacpp | `grammar` (GBNF), llama-server and llama-cpp-python's server   | `logprobs` + `top_logprobs` (chat API); llama-server's native `/completion` gives `n_probs` |
| vllm     | `structured_outputs: {"choice": labels}` (vLLM >= 0.10.2; the older `guided_choice` was removed in 0.12 and is ignored silently there) | `logprobs` + `top_logprobs` (<= the server's --max-logprobs, default 20) |
| ollama   | `response_format` json_schema with an enum (on /v1; the native /api/chat takes the same schema as `format`) | `logprobs` + `top_logprobs` (recent Ollama releases) |
| lmstudio | `response_format` json_schema with an enum (LM Studio rejects json_object) | not supported: no token logprobs |
| openai   | `response_format` json_schema with an enum (strict)            | `logprobs` + `top_logprobs` (<= 20)      |

channel, knn, ensemble and `--calibrate train` run on llama.cpp servers only (`server_methods.py`):
they need every label scored exactly (forced replies), the input forced token by token (a grammar of
token ids, with the server's tokenize endpoint) and thousands of top logprobs. Other kinds refuse
them in one line (`check_server_decode`).

Scored decoding on a server first sends one request: the constrained fields where the answer is
the bare label (llamacpp, vllm: the greedy path is then a label) plus `logprobs`/`top_logprobs`, and
reads each label's log-likelihood off the returned positions. The logprobs servers return are the
model's own (before the constraint and any logit bias), so they are what the embedded student
computes. A label that is one token listed at the first position is scored exactly from that one
reply. On llama.cpp servers every other label that could still win (or every label, when
calibrating) is then scored exactly by a forced request (`forced_payload`): a one-label grammar
plus a logit bias on the label's own tokens, so the server writes the label in the tokenization
the embedded student scores, and the returned logprobs add up to log P(label) (tests/
test_decode_server.py and tests/test_decode_server_engine.py check both against the embedded
student). Without a bias the grammar's greedy path can spell a label in odd pieces ("d", "oo",
"m", ...), whose likelihood is far below the label's. On other servers a label whose tokens all
appear on the returned path or in its top lists is scored exactly; one that leaves the greedy path
early only gets an upper bound (the result is flagged `uncertain`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.lm.readings.scores import (
    CONTENT_FREE_INPUTS,
    LabelScores,
    argmax,
    choose_label,
    content_free_messages,
    content_free_prior,
    softmax,
)
from smolgepa.lm.readings.reading import EMBEDDED_ONLY_MODES
from smolgepa.lm.readings.constrained import label_gbnf

JSON_LABEL_KEY = "label"
DEFAULT_TOP_LOGPROBS = 20
SERVER_DECODE_MODES: dict[str, tuple[str, ...]] = {
    "llamacpp": ("free", "constrained", "scored", "channel", "knn", "ensemble"),
    "vllm": ("free", "constrained", "scored"),
    "ollama": ("free", "constrained", "scored"),
    "lmstudio": ("free", "constrained"),
    "openai": ("free", "constrained", "scored"),
}
# Server kinds that take `--calibrate train` (it scores every label exactly, by forcing).
TRAIN_CALIBRATION_KINDS = ("llamacpp",)
_WHY_NOT = {
    ("lmstudio", "scored"): "LM Studio's OpenAI-compatible server returns no token log-probabilities",
}
# Why channel, knn and ensemble need llama.cpp: a reply forced token by token (a token-id grammar),
# the whole next-token distribution, every label scored exactly.
_NEEDS_LLAMACPP = "it needs forced replies and wide token log-probabilities, which llama.cpp servers give"


def _can_do(flavour: str, modes: Sequence[str]) -> str:
    """What a server kind can do, for messages: its modes and calibrations."""
    calibrations = "--calibrate" + (" (content-free or train)" if flavour in TRAIN_CALIBRATION_KINDS else "")
    return f"{', '.join(modes)}" + (f", with {calibrations} for scored" if "scored" in modes else "")


def check_server_decode(flavour: str, mode: str, calibrate: bool = False, calibration: str = "content-free") -> None:
    """Raise SmolgepaError when the server kind cannot do `mode` (with this calibration), in one line
    naming what it can do and which students can do what it cannot."""
    modes = SERVER_DECODE_MODES.get(flavour)
    if modes is None:
        raise SmolgepaError(f"Unknown server kind {flavour!r}. Available: {', '.join(SERVER_DECODE_MODES)}.")
    if mode in EMBEDDED_ONLY_MODES and mode not in modes:
        why, where = (("it reads the whole next-token distribution, which no server returns", "")
                      if mode == "probe" else ("it reads the model's hidden states, which no server returns", "")
                      if mode in ("hidden", "stack", "hidden-figures") else (_NEEDS_LLAMACPP, " and llama.cpp servers (llamacpp:URL)"))
        raise SmolgepaError(f"--decode {mode} is not available for {flavour} students: {why}. It runs on the "
                            f"embedded student (embedded, gguf:PATH){where}; {flavour} can do: {_can_do(flavour, modes)}.")
    if calibrate and calibration == "train" and flavour not in TRAIN_CALIBRATION_KINDS:
        raise SmolgepaError(
            f"--calibrate train is not available for {flavour} students: it scores every label exactly, which "
            f"needs forced replies. It runs on the embedded student (embedded, gguf:PATH) and llama.cpp servers "
            f"(llamacpp:URL); {flavour} can do: {_can_do(flavour, modes)}."
        )
    if mode not in modes:
        why = _WHY_NOT.get((flavour, mode), f"{flavour} servers do not support it")
        raise SmolgepaError(
            f"--decode {mode} is not available for {flavour} students: {why}. "
            f"{flavour} can do: {', '.join(modes)}. For scored decoding use the embedded student, "
            "a llama.cpp server (llamacpp:URL) or vLLM."
        )
    if calibrate and calibration == "content-free" and mode != "scored":
        raise SmolgepaError(f"--calibrate needs --decode scored (got --decode {mode}).")


def server_readings(flavour: str) -> tuple[str, ...]:
    """The readings (`smolgepa.candidate.reading_line.READINGS` names) a student on this server kind can score with."""
    from smolgepa.candidate.reading_line import READINGS

    supported = []
    for name, (mode, calibrate, calibration) in READINGS.items():
        try:
            check_server_decode(flavour, mode, calibrate, calibration)
        except SmolgepaError:
            continue
        supported.append(name)
    return tuple(supported)


def label_json_schema(labels: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of an answer: an object whose only key is the label, one of `labels`."""
    return {
        "type": "object",
        "properties": {JSON_LABEL_KEY: {"type": "string", "enum": list(labels)}},
        "required": [JSON_LABEL_KEY],
        "additionalProperties": False,
    }


def constrained_payload(flavour: str, labels: Sequence[str], *, vllm_legacy: bool = False) -> dict[str, Any]:
    """The request fields that restrict a chat completion to one of `labels` on this server kind.

    `vllm_legacy`: use `guided_choice` (vLLM before 0.10.2) instead of `structured_outputs`.
    Never `response_format: json_object` (LM Studio rejects it, and it does not restrict labels).
    """
    check_server_decode(flavour, "constrained")
    if flavour == "llamacpp":
        return {"grammar": label_gbnf(labels)}
    if flavour == "vllm":
        return {"guided_choice": list(labels)} if vllm_legacy else {"structured_outputs": {"choice": list(labels)}}
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "label", "strict": True, "schema": label_json_schema(labels)},
        }
    }


def uses_json(flavour: str) -> bool:
    """True when the constrained answer comes back as JSON (`{"label": ...}`), not as the bare label."""
    return flavour not in ("llamacpp", "vllm")


def read_constrained(flavour: str, text: str) -> str:
    """The label text inside a constrained answer. Never raises: unexpected text is returned as is
    (a server that ignored the constraint then shows up as unparseable output in the diagnostics)."""
    if not uses_json(flavour):
        return text
    try:
        data = json.loads(text)
    except (ValueError, TypeError):
        return text
    if isinstance(data, dict) and isinstance(data.get(JSON_LABEL_KEY), str):
        return data[JSON_LABEL_KEY]
    if isinstance(data, str):
        return data
    return text


def scored_payload(
    flavour: str, labels: Sequence[str], *, top_logprobs: int = DEFAULT_TOP_LOGPROBS, max_tokens: int = 8
) -> dict[str, Any]:
    """Request fields for scored decoding: greedy decoding, token logprobs and, where the server
    answers with the bare label (llamacpp grammar, vLLM choice), the label constraint. A JSON-schema
    constraint would put `{"label": "` before the label, so JSON servers are asked unconstrained."""
    check_server_decode(flavour, "scored")
    payload = constrained_payload(flavour, labels) if not uses_json(flavour) else {}
    payload.update({"logprobs": True, "top_logprobs": top_logprobs, "temperature": 0.0, "max_tokens": max_tokens})
    return payload


def decode_payload(flavour: str, mode: str, labels: Sequence[str]) -> dict[str, Any]:
    """The extra request fields for `mode` (empty for free text)."""
    if mode == "free":
        return {}
    if mode == "constrained":
        return constrained_payload(flavour, labels)
    if mode == "scored":
        return scored_payload(flavour, labels)
    raise SmolgepaError(f"Unknown decode mode {mode!r}. Available: free, constrained, scored.")


@dataclass(frozen=True)
class TokenStep:
    """One generated position: the token taken, its logprob, and the alternatives the server listed."""

    token: str
    logprob: float
    top: Mapping[str, float]


def _as_float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else -math.inf


def logprob_steps(data: Mapping[str, Any]) -> list[TokenStep]:
    """The token positions of a reply, from any of the shapes servers use:
    OpenAI chat (`choices[0].logprobs.content`), OpenAI completions (`choices[0].logprobs.tokens`),
    llama-server's `/completion` (`completion_probabilities`, with `logprob` or older `prob`)."""
    if "completion_probabilities" in data:
        steps = []
        for item in data["completion_probabilities"] or []:
            if "top_logprobs" in item:
                top = {str(t.get("token", "")): _as_float(t.get("logprob")) for t in item["top_logprobs"]}
                steps.append(TokenStep(str(item.get("token", "")), _as_float(item.get("logprob")), top))
            else:  # older llama-server: probabilities, not logprobs
                probs = item.get("probs") or []
                top = {str(p.get("tok_str", "")): math.log(p["prob"]) if p.get("prob") else -math.inf for p in probs}
                token = str(item.get("content", ""))
                steps.append(TokenStep(token, top.get(token, -math.inf), top))
        return steps
    choices = data.get("choices") or []
    logprobs = (choices[0] or {}).get("logprobs") if choices else None
    if not logprobs:
        return []
    if isinstance(logprobs.get("content"), list):
        return [
            TokenStep(
                str(item.get("token", "")),
                _as_float(item.get("logprob")),
                {str(t.get("token", "")): _as_float(t.get("logprob")) for t in item.get("top_logprobs") or []},
            )
            for item in logprobs["content"]
        ]
    tokens = logprobs.get("tokens") or []
    token_logprobs = logprobs.get("token_logprobs") or []
    tops = logprobs.get("top_logprobs") or []
    return [
        TokenStep(str(token), _as_float(lp), {str(k): _as_float(v) for k, v in (top or {}).items()})
        for token, lp, top in zip(tokens, token_logprobs, tops + [None] * (len(tokens) - len(tops)))
    ]


@dataclass(frozen=True)
class LabelLogprob:
    """A label's log-likelihood read off server logprobs: exact, or an upper bound (`exact=False`)."""

    value: float
    exact: bool


def score_label(steps: Sequence[TokenStep], label: str) -> LabelLogprob:
    """log P(label) from the returned positions: follow the taken path while it spells the label;
    where the label's remaining text is one listed token, the score is exact; where the label leaves
    the path earlier, the best listed prefix (or the smallest listed logprob) bounds it from above."""
    consumed, total = 0, 0.0
    for step in steps:
        rest = label[consumed:]
        alternatives = dict(step.top)
        alternatives.setdefault(step.token, step.logprob)
        if rest in alternatives:
            return LabelLogprob(total + alternatives[rest], True)
        if step.token and rest.startswith(step.token):
            total += step.logprob
            consumed += len(step.token)
            continue
        prefixes = [value for token, value in alternatives.items() if token and rest.startswith(token)]
        bound = max(prefixes) if prefixes else min(alternatives.values(), default=0.0)
        return LabelLogprob(total + bound, False)
    return LabelLogprob(total if consumed else 0.0, False)


def score_labels_from_logprobs(steps: Sequence[TokenStep], labels: Sequence[str]) -> dict[str, LabelLogprob]:
    """Every label's log-likelihood (exact or upper bound) from one reply's logprobs."""
    return {label: score_label(steps, label) for label in labels}


def no_logprobs_error(where: str) -> SmolgepaError:
    return SmolgepaError(
        f"{where} returned no token logprobs, which scored decoding needs. Use --decode constrained "
        "or free with this server, or a server that returns logprobs (llama.cpp, vLLM)."
    )


def scored_estimates(
    data: Mapping[str, Any], labels: Sequence[str], *, where: str = "the server"
) -> dict[str, LabelLogprob]:
    """Every label's log-likelihood (exact or upper bound) from one scored reply; raises
    SmolgepaError when the reply has no token logprobs."""
    steps = logprob_steps(data)
    if not steps:
        raise no_logprobs_error(where)
    return score_labels_from_logprobs(steps, labels)


def decide_scored(
    estimates: Mapping[str, LabelLogprob], prior: Mapping[str, float] | None = None
) -> tuple[LabelScores, dict[str, Any]]:
    """The chosen label and provider data (`Response.provider_data`, as the embedded student's plus
    which scores are exact). Without a prior the choice is the argmax over exact scores; `uncertain`
    is True when a label's upper bound beats it (with a prior: when any score is only a bound)."""
    values = {label: estimate.value for label, estimate in estimates.items()}
    exact = {label: estimate.value for label, estimate in estimates.items() if estimate.exact}
    if exact and prior is None:
        scores = LabelScores(argmax(exact), values, softmax(values))
    else:
        scores = choose_label(values, prior)
    best_exact = exact[argmax(exact)] if exact else -math.inf
    if prior is None:
        uncertain = any(not e.exact and e.value > best_exact for e in estimates.values())
    else:
        uncertain = len(exact) < len(estimates)
    info = {
        "smolgepa_decode": "scored",
        "scores": scores.to_json(),
        "exact": sorted(exact),
        "uncertain": uncertain,
    }
    return scores, info


def read_scored(
    data: Mapping[str, Any],
    labels: Sequence[str],
    *,
    where: str = "the server",
    prior: Mapping[str, float] | None = None,
) -> tuple[LabelScores, dict[str, Any]]:
    """The chosen label from one scored reply, and provider data saying which scores are exact
    (`scored_estimates`, then `decide_scored`)."""
    return decide_scored(scored_estimates(data, labels, where=where), prior)


# --- exact scores on llama.cpp servers: forced, correctly tokenized labels ---------------------

FORCE_BIAS = 100.0  # the largest logit bias OpenAI-style APIs accept; only steers, logprobs are raw


def can_force(flavour: str) -> bool:
    """True when the server can be made to write one given label in its canonical tokens (llama.cpp)."""
    return flavour == "llamacpp"


def label_max_tokens(labels: Sequence[str], as_json: bool = False) -> int:
    """A completion budget any label fits in (a token is at least one byte), plus JSON framing."""
    return max(len(label.encode("utf-8")) for label in labels) + (24 if as_json else 2)


def forced_payload(label: str) -> dict[str, Any]:
    """Request fields that make a llama.cpp server write exactly `label`, in the tokens its own
    tokenizer gives the label: a one-label grammar, plus a logit bias on those tokens
    (llama-cpp-python's server tokenizes string keys with `logit_bias_type: "tokens"`; llama-server
    tokenizes non-numeric keys by itself). The logprobs come back unbiased: their sum is log P(label)."""
    return {
        "grammar": label_gbnf([label]),
        "logit_bias": {label: FORCE_BIAS},
        "logit_bias_type": "tokens",
        "logprobs": True,
        "top_logprobs": 1,
        "temperature": 0.0,
        "max_tokens": label_max_tokens([label]),
    }


def forced_logprob(data: Mapping[str, Any], label: str) -> float | None:
    """log P(label) from a forced reply: the sum over its tokens, or None if they do not spell `label`."""
    steps = logprob_steps(data)
    if not steps or "".join(step.token for step in steps) != label:
        return None
    return sum(step.logprob for step in steps)


def first_position_estimates(steps: Sequence[TokenStep], labels: Sequence[str]) -> dict[str, LabelLogprob]:
    """Each label's score from the first position alone: exact for a label that is one listed token;
    otherwise an upper bound (its first token's logprob, which is at most the best listed token
    that starts the label, or at most the smallest listed logprob when none does)."""
    first = steps[0]
    alternatives = dict(first.top)
    alternatives.setdefault(first.token, first.logprob)
    floor = min(alternatives.values(), default=0.0)
    estimates = {}
    for label in labels:
        if label in alternatives:
            estimates[label] = LabelLogprob(alternatives[label], True)
        else:
            prefixes = [value for token, value in alternatives.items() if token and label.startswith(token)]
            estimates[label] = LabelLogprob(max([floor, *prefixes]), False)
    return estimates


# --- reading constrained answers ----------------------------------------------------------------


def reply_text(data: Mapping[str, Any]) -> str:
    """The assistant text of a chat-completions reply ("" if it has none)."""
    try:
        return str(data["choices"][0]["message"].get("content") or "")
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""


_IGNORED_HINTS = {
    "llamacpp": "This server does not apply the `grammar` field (llama-server and llama-cpp-python's server do); "
    "update it, or use --decode free.",
    "vllm": "vLLM applies `structured_outputs` from 0.10.2 on; update vLLM, or use --decode free.",
    "openai": "The server was not recognized as llama.cpp, vLLM, Ollama or LM Studio, so the OpenAI json_schema "
    "response_format was sent. Name its kind in the student spec (llamacpp:URL, vllm:MODEL@URL, ollama:MODEL, "
    "lmstudio:MODEL), or use --decode free.",
}


def check_answer(flavour: str, text: str, labels: Sequence[str], where: str) -> str:
    """The label in a constrained answer; SmolgepaError when it is not one (the server ignored the
    constraint), naming the server and what to do instead."""
    answer = read_constrained(flavour, text)
    if answer in labels:
        return answer
    hint = _IGNORED_HINTS.get(
        flavour, "The server did not apply the json_schema response_format; update it, or use --decode free."
    )
    raise SmolgepaError(
        f"{where} ignored the label constraint: it answered {text[:80]!r}, which is not one of "
        f"{', '.join(labels)}. {hint}"
    )


def server_content_free_prior(
    score: Callable[[list[dict[str, str]]], Mapping[str, float]],
    messages: Sequence[Mapping[str, str]],
    labels: Sequence[str],
    inputs: Sequence[str] = CONTENT_FREE_INPUTS,
) -> dict[str, float]:
    """p_cf for calibration on a server: `score(messages)` gives every label's log-likelihood
    after `messages` (one or more requests); each content-free input replaces the real one.
    Cache the result per `smolgepa.lm.readings.reading.calibration_key(messages, labels)`."""
    runs = []
    for text in inputs:
        values = score(content_free_messages(messages, text))
        runs.append({label: values[label] for label in labels})
    return content_free_prior(runs)
