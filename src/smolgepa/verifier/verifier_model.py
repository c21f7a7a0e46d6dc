"""The verifier: a model named by a `--reflection` spec (an OpenAI-compatible server, `litellm:MODEL`, ...;
the spec is read and the backend built by `smolgepa.optimize.reflection`), asked plain-text questions.

Every reply is read leniently (`verifier_replies.read_reply`); junk replies are counted and reported in
one line, never raised. A failed call is different: a server never up stops at once with the one line of
`smolgepa.lm.servers.reach` (naming --verifier), one that stays down through the server engine's retries
raises `VerifierFailed`. `check_answers` asks one short question before long work (`data audit` reads every
example first), so a verifier that is down stops the command before that work, not after it. With a
`JsonlCache` (a run directory's `cache/verifier.jsonl`, `data label`'s partial file, an audit's verdicts) each
prompt is asked once: a resumed run reads the replies it already has.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.optimize.cache import JsonlCache, ReflectionBackend
from smolgepa.optimize.reflection import (ReflectionSettings, check_reflection, describe_reflection, is_offline,
                                          make_backend)
from smolgepa.verifier.limits import MAX_TOKENS, TIMEOUT
from smolgepa.verifier.verifier_prompts import SYSTEM
from smolgepa.verifier.verifier_replies import NO_LABEL, OUTSIDE, VerifierReply, one_line, read_reply

CHECK_PROMPT = "Reply with the one word: ready."  # `check_answers`: its reply is not read
FORMS = "llamacpp:URL, openai:MODEL@URL, lmstudio:MODEL, ollama:MODEL, vllm:MODEL@URL or litellm:MODEL"


class VerifierFailed(SmolgepaError):
    """A verifier call failed after the retries of its backend."""


def check_verifier(spec: str) -> str:
    """The spec, stripped, if it can name a verifier (a model, not a built-in proposer); else SmolgepaError."""
    text = spec.strip()
    if not text or is_offline(text):
        raise SmolgepaError(f"--verifier {text!r}: the verifier is a model that answers; give {FORMS}.")
    try:
        return check_reflection(text)
    except SmolgepaError as exc:
        raise SmolgepaError(f"--verifier {text!r}: {exc}") from None


@dataclass
class VerifierTally:
    """What the verifier answered: calls (and how many the cache answered), junk replies by kind, and
    explanations that named another label than the gold one."""

    calls: int = 0
    cached: int = 0
    seconds: float = 0.0
    no_label: int = 0
    outside: int = 0
    disagreed: int = 0
    words: Counter = field(default_factory=Counter)  # the labels outside the set, as replied

    @property
    def junk(self) -> int:
        return self.no_label + self.outside

    def count(self, reply: VerifierReply) -> None:
        self.no_label += reply.junk == NO_LABEL
        self.outside += reply.junk == OUTSIDE
        if reply.junk == OUTSIDE:
            self.words[reply.word.lower()] += 1

    def to_json(self) -> dict[str, Any]:
        return {"calls": self.calls, "cached": self.cached, "seconds": round(self.seconds, 3), "junk": self.junk,
                "no_label": self.no_label, "outside": self.outside, "disagreed": self.disagreed}

    def junk_line(self) -> str:
        """The run's one line about junk replies ('' when there were none)."""
        if not self.junk:
            return ""
        words = ", ".join(f"'{word}'" for word, _ in self.words.most_common(3))
        outside = f"{self.outside} with a label outside the task's set" + (f" ({words})" if words else "")
        return (f"Verifier junk: {self.junk} of {self.calls} replies ({self.no_label} with no label word, {outside}); "
                "they count as no verdict.")


class Verifier:
    """Asks a verifier model a prompt and reads its reply; `tally` counts calls and junk."""

    def __init__(self, spec: str, backend: ReflectionBackend, cache: JsonlCache | None = None,
                 max_tokens: int = MAX_TOKENS) -> None:
        self.spec = spec
        self.identity = describe_reflection(spec)
        self.max_tokens = max_tokens
        self.backend = backend
        self.cache = cache
        self.tally = VerifierTally()

    @classmethod
    def from_spec(cls, spec: str, *, timeout: float = TIMEOUT, max_tokens: int = MAX_TOKENS, key_env: str | None = None,
                  seed: int = 0, cache: JsonlCache | None = None) -> Verifier:
        """The verifier a `--verifier` spec names (checked first; nothing is contacted yet)."""
        text = check_verifier(spec)
        if max_tokens < 1:
            raise SmolgepaError(f"--verifier-max-tokens {max_tokens}: a reply needs at least 1 token (default {MAX_TOKENS}).")
        settings = ReflectionSettings(timeout=timeout, max_tokens=max_tokens, temperature=0.0, key_env=key_env,
                                      seed=seed, role="verifier", system=SYSTEM)
        return cls(text, make_backend(text, settings), cache, max_tokens)

    def key(self, prompt: str) -> str:
        """The cache key of `prompt`: the verifier, the prompt, and a reply length other than the default
        (the keys of runs made before the length could be set stay the same)."""
        asked: dict[str, object] = {"verifier": self.identity, "prompt": prompt}
        if self.max_tokens != MAX_TOKENS:
            asked["max_tokens"] = self.max_tokens
        return hashlib.sha256(json.dumps(asked).encode("utf-8")).hexdigest()

    def reply_text(self, prompt: str) -> str:
        """The verifier's answer to `prompt`: from the cache, else asked (and kept when it answered)."""
        key = self.key(prompt)
        hit = self.cache.get(key) if self.cache is not None else None
        self.tally.calls += 1
        if hit is not None:
            self.tally.cached += 1
            return str(hit.get("text") or "")
        reply = self.backend(prompt)  # a server never up raises its one line (ServerNotUpError)
        if reply.error is not None:  # not kept: a resumed run asks again
            raise self.failed(reply.error)
        self.tally.seconds += reply.seconds
        if self.cache is not None:
            self.cache.put(key, {"verifier": self.identity, "prompt": prompt, "text": reply.text,
                                 "finish_reason": reply.finish_reason, "seconds": round(reply.seconds, 3)})
        return reply.text

    def failed(self, error: str) -> VerifierFailed:
        return VerifierFailed(f"The verifier {self.spec} failed: {one_line(error, 300)}. Check that it is "
                              "up and answers (the spec given to --verifier), then run again.")

    def check_answers(self) -> None:
        """One short question, its reply not read or counted: a server never up raises its one line
        (ServerNotUpError), a verifier whose call fails `VerifierFailed`, before any long work."""
        reply = self.backend(CHECK_PROMPT)
        if reply.error is not None:
            raise self.failed(reply.error)

    def ask(self, prompt: str, labels: Sequence[str]) -> VerifierReply:
        """The reply to `prompt`, read against `labels` (junk is counted in `tally`)."""
        reply = read_reply(self.reply_text(prompt), labels)
        self.tally.count(reply)
        return reply
