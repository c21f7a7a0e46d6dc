"""The scoring methods (`smolgepa.lm.readings.build`) on a llama.cpp server: `ServerLabelScoring` answers
what a method asks of a model (`methods.LabelScoring`) with chat-completion requests.

- `score`: every label's exact log-likelihood: one scored request, then one forced request per
  label that is not a single listed token (`server_scoring.server_label_scores`, need_all).
- `reply_logprob` (channel): the reply is tokenized by the server (llama-cpp-python's
  `/extras/tokenize`, or llama-server's `/tokenize`), then forced token by token with a grammar of
  token-id terminals (`<[id]>`), so the server writes exactly the tokens the embedded student scores;
  the returned log-probs are the model's own and their sum over the text is log P(text | prompt).
  (Forcing the text as a string does not do this: the grammar then lets the model spell a word in
  pieces, " meeting" as " ", "me", "eting", 13 nats below the real tokens.) llama-cpp-python's
  `/v1/completions` with `echo` would need the chat template rendered on the client, so it is not used.
- `answer_logprobs` (knn): the `KNN_TOP_LOGPROBS` most likely next tokens at the answer position
  (`knn.TopLogprobs`; how the distance treats the rest is in `smolgepa.lm.readings.knn`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.lm.servers.payloads import (
    LabelLogprob,
    can_force,
    check_answer,
    first_position_estimates,
    forced_logprob,
    forced_payload,
    label_max_tokens,
    logprob_steps,
    no_logprobs_error,
    reply_text,
    score_labels_from_logprobs,
    scored_payload,
    uses_json,
)
from smolgepa.lm.readings.knn import TopLogprobs

Messages = list[dict[str, str]]
Send = Callable[[Messages, dict[str, Any]], Mapping[str, Any]]


def server_label_scores(
    send: Send,
    flavour: str,
    messages: Messages,
    labels: Sequence[str],
    *,
    need_all: bool = False,
    where: str = "the server",
) -> tuple[dict[str, LabelLogprob], int]:
    """Every label's log-likelihood after `messages` and the number of requests it took.

    On llama.cpp servers the labels that are not one listed token are forced one at a time, in
    order of their upper bounds, while they could still beat the best exact score (all of them
    with `need_all`, for calibration). Elsewhere the one reply's estimates are returned as they are.
    """
    fields = scored_payload(flavour, labels)
    fields["max_tokens"] = label_max_tokens(labels, uses_json(flavour))
    data = send(messages, fields)
    if not uses_json(flavour):  # the answer was constrained to a label: check the server did that
        check_answer(flavour, reply_text(data), labels, where)
    steps = logprob_steps(data)
    if not steps:
        raise no_logprobs_error(where)
    if not can_force(flavour):
        return score_labels_from_logprobs(steps, labels), 1
    estimates = first_position_estimates(steps, labels)
    requests = 1
    best = max((e.value for e in estimates.values() if e.exact), default=float("-inf"))
    for label in sorted((l for l in labels if not estimates[l].exact), key=lambda l: -estimates[l].value):
        if not need_all and estimates[label].value < best:
            continue  # its upper bound cannot beat an exact score
        reply = send(messages, forced_payload(label))
        requests += 1
        check_answer(flavour, reply_text(reply), [label], where)
        value = forced_logprob(reply, label)
        if value is not None:
            estimates[label] = LabelLogprob(value, True)
            best = max(best, value)
    return estimates, requests


# Next tokens asked for per kNN distribution: 99.4% of SmolLM2-135M's mass at the answer position
# (about 300 kB of JSON per reply from llama-cpp-python's server, 0.16 s on loopback).
KNN_TOP_LOGPROBS = 5000
Post = Callable[..., Mapping[str, Any]]  # (path under the server root, body, expect=check) -> JSON
# Tokenize endpoints: llama-cpp-python's server, then llama-server's; (path, body field, extra fields).
TOKENIZE_ROUTES = (("/extras/tokenize", "input", {}), ("/tokenize", "content", {"add_special": False}))


def forced_tokens_payload(tokens: Sequence[int]) -> dict[str, Any]:
    """Request fields that make a llama.cpp server write exactly `tokens` (a grammar of token-id
    terminals) and return each one's log-prob."""
    return {
        "grammar": "root ::= " + " ".join(f"<[{int(token)}]>" for token in tokens) + "\n",
        "logprobs": True,
        "top_logprobs": 1,
        "temperature": 0.0,
        "max_tokens": len(tokens),
    }


def token_ids(reply: Mapping[str, Any]) -> list[int]:
    """The `tokens` of a tokenize reply; TypeError for any other shape. A reply without them (cut or
    replaced on the way) must be retried: read as no tokens, it would silently score the wrong text."""
    tokens = reply["tokens"]
    if not isinstance(tokens, list) or not all(isinstance(token, int) and not isinstance(token, bool) for token in tokens):
        raise TypeError("the tokenize reply's `tokens` is not a list of token ids")
    return list(tokens)


class ServerTokenizer:
    """Text -> token ids through the server's tokenize endpoint (found on first use), without BOS."""

    def __init__(self, post: Post, where: str) -> None:
        self.post = post
        self.where = where
        self._route: tuple[str, str, dict[str, Any]] | None = None
        self._lead: list[int] | None = None
        self._lock = threading.Lock()

    def __call__(self, text: str) -> list[int]:
        with self._lock:
            if self._route is None:
                self._route = self._find_route()
                self._lead = self._raw("")  # what the endpoint adds before any text (a BOS, or nothing)
        tokens = self._raw(text)
        lead = self._lead or []
        return tokens[len(lead):] if tokens[: len(lead)] == lead else tokens

    def _raw(self, text: str) -> list[int]:
        assert self._route is not None
        path, field, extra = self._route
        return token_ids(self.post(path, {field: text, **extra}, expect=token_ids))

    def _find_route(self) -> tuple[str, str, dict[str, Any]]:
        for route in TOKENIZE_ROUTES:
            path, field, extra = route
            try:
                self.post(path, {field: "a", **extra}, expect=token_ids)
            except SmolgepaError:
                continue
            return route
        raise SmolgepaError(
            f"{self.where} offers no tokenize endpoint (/extras/tokenize or /tokenize), which --decode channel "
            "needs to force the input's own tokens. Use llama-cpp-python's server or llama-server, or "
            "--decode scored / the embedded student."
        )


class ServerLabelScoring:
    """`methods.LabelScoring` on a llama.cpp server (see the module docstring); thread-safe."""

    def __init__(self, send: Send, post: Post, flavour: str, where: str) -> None:
        self.send = send
        self.flavour = flavour
        self.where = where
        self.tokenize = ServerTokenizer(post, where)

    def score(self, messages: Messages, labels: Sequence[str]) -> dict[str, float]:
        estimates, _ = server_label_scores(self.send, self.flavour, messages, labels, need_all=True, where=self.where)
        return {label: estimate.value for label, estimate in estimates.items()}

    def reply_logprob(self, messages: Messages, given: str, text: str) -> float:
        prefix = self.tokenize(given) if given else []
        tokens = self.tokenize(given + text)
        if not tokens:
            return 0.0
        scored_from = len(prefix) if tokens[: len(prefix)] == prefix else 0
        steps = logprob_steps(self.send(messages, forced_tokens_payload(tokens)))
        if not steps:
            raise no_logprobs_error(self.where)
        if len(steps) != len(tokens):
            raise SmolgepaError(
                f"{self.where} wrote {len(steps)} tokens where a grammar of {len(tokens)} token ids forced the "
                "channel reply; it may not support token-id grammars (<[id]>, llama.cpp from mid-2025). Update "
                "it, or use --decode scored."
            )
        return float(sum(step.logprob for step in steps[scored_from:]))

    def answer_logprobs(self, messages: Messages) -> TopLogprobs:
        fields = {"logprobs": True, "top_logprobs": KNN_TOP_LOGPROBS, "temperature": 0.0, "max_tokens": 1}
        steps = logprob_steps(self.send(messages, fields))
        if not steps:
            raise no_logprobs_error(self.where)
        top = dict(steps[0].top)
        top.setdefault(steps[0].token, steps[0].logprob)
        return TopLogprobs(top)
