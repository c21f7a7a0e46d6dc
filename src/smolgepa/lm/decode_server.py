"""Decode modes on server students: the request fields per server kind, and reading answers back.

Pure functions over JSON; `smolgepa.lm.server.ServerEngine` merges `decode_payload(...)` into its
chat-completions body and reads the reply with `read_constrained` / `read_scored`.

What each server kind supports (free text works everywhere):

| kind     | constrained                                                    | scored (token logprobs)                  |
|----------|----------------------------------------------------------------|------------------------------------------|
| llamacpp | `grammar` (GBNF), llama-server and llama-cpp-python's server   | `logprobs` + `top_logprobs` (chat API); llama-server's native `/completion` gives `n_probs` |
| vllm     | `structured_outputs: {"choice": labels}` (vLLM >= 0.10.2; the older `guided_choice` was removed in 0.12 and is ignored silently there) | `logprobs` + `top_logprobs` (<= the server's --max-logprobs, default 20) |
| ollama   | `response_format` json_schema with an enum (on /v1; the native /api/chat takes the same schema as `format`) | `logprobs` + `top_logprobs` (recent Ollama releases) |
| lmstudio | `response_format` json_schema with an enum (LM Studio rejects json_object) | not supported: no token logprobs |
| openai   | `response_format` json_schema with an enum (strict)            | `logprobs` + `top_logprobs` (<= 20)      |

Scored decoding on a server sends one request: the constrained fields where the answer is the
bare label (llamacpp, vllm: the greedy path is then a label) plus `logprobs`/`top_logprobs`, then
reads each label's log-likelihood off the returned positions (`score_labels_from_logprobs`). The
logprobs servers return are the model's own (before the constraint), so they are what the
embedded student computes (tests/test_decode_server.py checks this on a llama.cpp server). A label whose tokens all appear on the returned path or
in its top lists is scored exactly; a label that leaves the greedy path before its last token only
gets an upper bound (flagged in the result). Single-token labels (SmolLM2's sentiment labels) are
exact whenever they are in the top list of the first position.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.lm.decode import (
    CONTENT_FREE_INPUTS,
    LabelScores,
    argmax,
    choose_label,
    content_free_messages,
    content_free_prior,
    label_gbnf,
    softmax,
)

JSON_LABEL_KEY = "label"
DEFAULT_TOP_LOGPROBS = 20
SERVER_DECODE_MODES: dict[str, tuple[str, ...]] = {
    "llamacpp": ("free", "constrained", "scored"),
    "vllm": ("free", "constrained", "scored"),
    "ollama": ("free", "constrained", "scored"),
    "lmstudio": ("free", "constrained"),
    "openai": ("free", "constrained", "scored"),
}
_WHY_NOT = {
    ("lmstudio", "scored"): "LM Studio's OpenAI-compatible server returns no token log-probabilities",
}


def check_server_decode(flavour: str, mode: str, calibrate: bool = False) -> None:
    """Raise SmolgepaError when the server kind cannot do `mode`, naming what it can do."""
    modes = SERVER_DECODE_MODES.get(flavour)
    if modes is None:
        raise SmolgepaError(f"Unknown server kind {flavour!r}. Available: {', '.join(SERVER_DECODE_MODES)}.")
    if mode not in modes:
        why = _WHY_NOT.get((flavour, mode), f"{flavour} servers do not support it")
        raise SmolgepaError(
            f"--decode {mode} is not available for {flavour} students: {why}. "
            f"{flavour} can do: {', '.join(modes)}. For scored decoding use the embedded student, "
            "a llama.cpp server (llamacpp:URL) or vLLM."
        )
    if calibrate and mode != "scored":
        raise SmolgepaError(f"--calibrate needs --decode scored (got --decode {mode}).")


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


def read_scored(
    data: Mapping[str, Any],
    labels: Sequence[str],
    *,
    where: str = "the server",
    prior: Mapping[str, float] | None = None,
) -> tuple[LabelScores, dict[str, Any]]:
    """The chosen label from a scored reply, and provider data saying which scores are exact.

    The choice is the argmax over exact scores; `uncertain` is True when some label's upper bound
    beats it (that label left the greedy path early, so its full likelihood was not observed).
    """
    steps = logprob_steps(data)
    if not steps:
        raise SmolgepaError(
            f"{where} returned no token logprobs, which scored decoding needs. Use --decode constrained "
            "or free with this server, or a server that returns logprobs (llama.cpp, vLLM)."
        )
    estimates = score_labels_from_logprobs(steps, labels)
    values = {label: estimate.value for label, estimate in estimates.items()}
    exact = {label: estimate.value for label, estimate in estimates.items() if estimate.exact}
    if exact and prior is None:
        scores = LabelScores(argmax(exact), values, softmax(values))
    else:
        scores = choose_label(values, prior)
    best_exact = exact[argmax(exact)] if exact else -math.inf
    uncertain = any(not e.exact and e.value > best_exact for e in estimates.values())
    info = {
        "smolgepa_decode": "scored",
        "scores": scores.to_json(),
        "exact": sorted(exact),
        "uncertain": uncertain,
    }
    return scores, info


def server_content_free_prior(
    send: Callable[[list[dict[str, str]]], Mapping[str, Any]],
    messages: Sequence[Mapping[str, str]],
    labels: Sequence[str],
    inputs: Sequence[str] = CONTENT_FREE_INPUTS,
) -> dict[str, float]:
    """p_cf for calibration on a server: `send(messages)` posts one scored request and returns the
    reply's JSON; each content-free input replaces the real one (cache the result per
    `smolgepa.lm.decode.calibration_key(messages, labels)`)."""
    runs = []
    for text in inputs:
        steps = logprob_steps(send(content_free_messages(messages, text)))
        runs.append({label: e.value for label, e in score_labels_from_logprobs(steps, labels).items()})
    return content_free_prior(runs)
