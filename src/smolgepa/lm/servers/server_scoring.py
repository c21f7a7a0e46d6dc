"""Scored decoding through a server: each label's log-likelihood from one or more replies.

`ServerScorer` does for a server student what `smolgepa.lm.local.label_scorer.LabelScorer` does in-process:
one scored request (`decode_server.scored_payload`), then, on llama.cpp servers, one forced request
(`decode_server.forced_payload`) per label that could still win, so the chosen label is the argmax
of exact log-likelihoods, as with the embedded student. With calibration every label is scored
exactly and p_cf is computed once per instruction (`decode.calibration_key`) and cached.
The HTTP side (retries, body, headers) stays in the engine: it passes `send(messages, fields)`.

`ServerScoring` is what the engine asks for an answer: it reads with the settings' method or the
one a candidate's `Reading:` line names, if the server kind can: `scored` (content-free calibrated
or not) through `ServerScorer`, and on llama.cpp servers channel, knn, ensemble and training-split
calibration through the same method classes as the embedded student (`methods.build_method` over
`server_methods.ServerLabelScoring`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any

from dspy.lm15 import Response

from smolgepa.lm.readings.scores import CONTENT_FREE_INPUTS, LabelScores, calibration_key
from smolgepa.lm.servers.server_label_scoring import Messages, Send, server_label_scores
from smolgepa.lm.servers.payloads import (
    LabelLogprob,
    check_answer,
    decide_scored,
    forced_payload,
    scored_payload,
    server_content_free_prior,
)


class ServerScorer:
    """Scores label answers for one server student; thread-safe. Priors are cached per instruction."""

    def __init__(
        self,
        send: Send,
        flavour: str,
        labels: Sequence[str],
        *,
        calibrate: bool = False,
        content_free: Sequence[str] = CONTENT_FREE_INPUTS,
        where: str = "the server",
    ) -> None:
        self.send = send
        self.flavour = flavour
        self.labels = tuple(labels)
        self.calibrate = calibrate
        self.content_free = tuple(content_free)
        self.where = where
        self._priors: dict[tuple[Any, ...], dict[str, float]] = {}
        self._prior_lock = threading.Lock()

    def estimates(self, messages: Messages, need_all: bool = False) -> tuple[dict[str, LabelLogprob], int]:
        return server_label_scores(
            self.send, self.flavour, messages, self.labels, need_all=need_all, where=self.where
        )

    def score(self, messages: Messages) -> tuple[LabelScores, dict[str, Any]]:
        """The chosen label (calibrated if set) and provider data, as the embedded engine returns them."""
        estimates, requests = self.estimates(messages, need_all=self.calibrate)
        prior = self.prior_for(messages) if self.calibrate else None
        scores, info = decide_scored(estimates, prior)
        info["requests"] = requests
        return scores, info

    def prior_for(self, messages: Messages) -> dict[str, float]:
        """p_cf under these messages' instruction and demos; computed once per instruction."""
        key = calibration_key(messages, self.labels)
        with self._prior_lock:
            if key not in self._priors:

                def values(probe: Messages) -> dict[str, float]:
                    estimates, _ = self.estimates(probe, need_all=True)
                    return {label: estimate.value for label, estimate in estimates.items()}

                self._priors[key] = server_content_free_prior(values, messages, self.labels, self.content_free)
            return self._priors[key]


class ServerScoring:
    """A server student's label answers, per reading (built once per engine; thread-safe)."""

    def __init__(self, send: Send, post: Any, kind: str, settings: Any, where: str) -> None:
        self.send = send
        self.post = post
        self.kind = kind
        self.settings = settings
        self.where = where
        self._scorers: dict[bool, ServerScorer] = {}
        self._methods: dict[str, Any] = {}
        self._label_scoring: Any = None
        self._lock = threading.Lock()

    @property
    def own_reading(self) -> str:
        from smolgepa.lm.readings.reading import reading_name

        settings = self.settings
        return reading_name(settings.decode, settings.calibrate, settings.calibration)

    def score(self, messages: Messages, reading: str | None = None) -> tuple[LabelScores, dict[str, Any]]:
        """The chosen label and provider data for `messages`, read as `reading` names (None: the
        settings' own method); SmolgepaError if this server kind cannot score that way."""
        from smolgepa.lm.servers.payloads import server_readings
        from smolgepa.candidate.reading_line import check_server_reading
        from smolgepa.candidate.reading_line import reading as parse_reading

        name = reading or self.own_reading
        if reading is not None:
            check_server_reading(reading, server_readings(self.kind), self.where)
        chosen = parse_reading(name)
        if chosen.mode == "scored" and chosen.calibration != "train":
            scores, info = self.scorer(chosen.calibrate).score(messages)
        else:
            scores = self.method(name).score(messages)
            info = {"scores": scores.to_json()}
        info["smolgepa_decode"] = name if reading is not None else self.settings.decode
        return scores, info

    def scorer(self, calibrate: bool) -> ServerScorer:
        """The ServerScorer for scored decoding, with or without content-free calibration (it caches priors)."""
        with self._lock:
            if calibrate not in self._scorers:
                self._scorers[calibrate] = ServerScorer(
                    self.send, self.kind, self.settings.labels, calibrate=calibrate,
                    content_free=self.settings.content_free, where=self.where,
                )
            return self._scorers[calibrate]

    def method(self, name: str) -> Any:
        """The scoring method a reading names, over the server (built once; it keeps anchors and offsets)."""
        from smolgepa.lm.readings.build import build_method
        from smolgepa.lm.servers.server_label_scoring import ServerLabelScoring
        from smolgepa.candidate.reading_line import reading as parse_reading

        with self._lock:
            if name not in self._methods:
                if self._label_scoring is None:
                    self._label_scoring = ServerLabelScoring(self.send, self.post, self.kind, self.where)
                chosen = parse_reading(name)
                settings = dataclasses.replace(
                    self.settings, decode=chosen.mode, calibrate=chosen.calibrate, calibration=chosen.calibration
                )
                self._methods[name] = build_method(settings, self._label_scoring, self._content_free_prior)
            return self._methods[name]

    def _content_free_prior(self, messages: Messages) -> dict[str, float]:
        return self.scorer(True).prior_for(messages)


class ScoringEngineMixin:
    """The scoring side of `server.ServerEngine` (kept here so the engine file stays about HTTP):
    the engine provides `settings`, `kind()`, `where()`, `post(body, url=None)` and `_kind_lock`."""

    settings: Any
    _scoring: Any
    _kind_lock: threading.Lock
    kind: Callable[[], str]
    where: Callable[[], str]
    post: Callable[..., dict[str, Any]]

    def scoring(self) -> ServerScoring:
        """The ServerScoring that reads label answers (created on first use; it keeps calibration
        priors, kNN anchors and fitted offsets)."""
        with self._kind_lock:
            scoring = self._scoring
        if scoring is None:
            scoring = ServerScoring(self._send_fields, self.post_path, self.kind(), self.settings, self.where())
            with self._kind_lock:
                self._scoring = self._scoring or scoring
                scoring = self._scoring
        return scoring

    def scorer(self) -> ServerScorer:
        """The ServerScorer of the settings' own `scored` decoding (with their content-free calibration)."""
        return self.scoring().scorer(self.settings.calibrate)

    def cache_key_extras(self) -> dict[str, Any]:
        """The decode settings in the disk cache key: those the method uses (`methods.method_key_extras`)."""
        from smolgepa.lm.engines import settings_extras
        from smolgepa.lm.readings.build import method_key_extras

        return method_key_extras(self.settings, settings_extras(self.settings), optional=("seed",))

    def _send_fields(self, messages: Messages, fields: dict[str, Any]) -> dict[str, Any]:
        """Post one greedy chat completion of `messages` with extra `fields`; the reply's JSON."""
        body: dict[str, Any] = {"model": self.settings.model, "messages": messages, "temperature": 0.0, "stream": False}
        if self.kind() == "llamacpp":
            body["cache_prompt"] = True
            body["repeat_penalty"] = 1.0
        body.update(fields)
        return self.post(body)

    def post_path(self, path: str, body: dict[str, Any], expect: Callable[[dict[str, Any]], object] | None = None
                  ) -> dict[str, Any]:
        """Post `body` to `path` under the server's root (the base URL without /v1), with retries; the
        JSON (a reply `expect` rejects is retried like a broken one)."""
        from smolgepa.lm.servers.identify import server_root

        return self.post(body, url=server_root(self.settings.base_url) + path, expect=expect)


def constrained_response(response: Response, kind: str, labels: Sequence[str], where: str) -> Response:
    """A constrained reply as the label it names (SmolgepaError if the server ignored the constraint)."""
    from smolgepa.lm.messages import text_response

    text = "".join(getattr(part, "text", "") or "" for part in response.message.parts)
    usage = response.usage
    return text_response(
        check_answer(kind, text, labels, where),
        model=response.model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        finish_reason=response.finish_reason,
        provider_data={"smolgepa_decode": "constrained"},
    )
