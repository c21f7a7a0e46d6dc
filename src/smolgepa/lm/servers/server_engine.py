"""The server student: chat completions from an OpenAI-compatible server, as a DSPy engine.

Works with LM Studio, Ollama, llama.cpp (llama-server or llama-cpp-python's server), vLLM and
OpenAI-style APIs. Requests are plain text (never `response_format: json_object`), limited to
`concurrency` at a time, and retried with exponential backoff and jitter on connection errors,
timeouts, HTTP 5xx, 429 and malformed bodies. Any other 4xx fails at once with the server's message.

Decode modes (`ServerSettings.decode`): `free` sends plain chat; `constrained` adds the server kind's
label constraint (`decode_server.decode_payload`) and checks the answer is a label; the scoring modes
(`scored`, and on llama.cpp servers `channel`, `knn`, `ensemble` and `--calibrate train`) are read by
`server_scoring.ServerScoring`. The server kind is the spec's; an `openai:` student on a local URL is
probed once (`probe.py`).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any

import httpx
from dspy.lm15 import Request, Response

from smolgepa.errors import ContextOverflowError, SmolgepaError
from smolgepa.lm.readings.reading import SCORING_MODES
from smolgepa.lm.servers.payloads import decode_payload, label_max_tokens, uses_json
from smolgepa.lm.messages import CompleteOnlyEngine, request_messages, text_response
from smolgepa.lm.overflow import parse_overflow
from smolgepa.lm.servers.pool import pool_for
from smolgepa.lm.servers.reach import (
    NEVER_UP_GRACE, NEVER_UP_PAUSE, ServerNotUpError, ever_reached, mark_reached, refusal, refused_for,
)
from smolgepa.lm.servers.server_scoring import ScoringEngineMixin, constrained_response
from smolgepa.lm.servers.settings import ServerSettings, server_identity  # noqa: F401  (also imported from here)
from smolgepa.candidate.reading_line import take_server_reading

log = logging.getLogger(__name__)

Expect = Callable[[dict[str, Any]], object]  # checks a non-chat reply's shape; raises ValueError/KeyError/TypeError
MAX_DELAY = 30.0  # seconds: the longest single wait between attempts (also caps Retry-After)
START_HINT = (
    "Start the server: LM Studio: load the model and start the local server on port 1234; "
    "Ollama: `ollama serve`; llama.cpp: `python -m llama_cpp.server --model FILE` or "
    "`llama-server -m FILE --port 8080`"
)


class _Retryable(Exception):
    """One failed attempt worth retrying; `retry_after` is the server's hint in seconds. `refused`
    ("refused", "unknown host") when no connection could be made; `reached` when one was."""

    def __init__(
        self, what: str, retry_after: float | None = None, connection: bool = False, timed_out: bool = False,
        refused: str | None = None, reached: bool = True,
    ) -> None:
        super().__init__(what)
        self.what = what
        self.retry_after = retry_after
        self.connection = connection
        self.timed_out = timed_out
        self.refused = refused
        self.reached = reached


class ServerEngine(ScoringEngineMixin, CompleteOnlyEngine):
    """Sends chat completions to an OpenAI-compatible server. Safe to call from many threads."""

    def __init__(
        self,
        settings: ServerSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)
        self._lock = threading.Lock()
        self._in_flight = 0
        self.peak_in_flight = 0  # most requests this engine ever had open at once (never above max_concurrency)
        self._client: httpx.Client | None = None
        self._kind: str | None = None
        self._kind_lock = threading.Lock()
        self._scoring: Any = None
        self.pool = pool_for(",".join((settings.base_url, *settings.more_urls)), _Retryable)

    @property
    def model_name(self) -> str:
        return self.settings.model

    def kind(self) -> str:
        """The server kind whose payloads are sent: the spec's, or for an `openai:` student on a
        local URL that needs a label constraint, what a one-time probe found (see `probe.py`)."""
        settings = self.settings
        if settings.flavour != "openai" or settings.decode == "free":
            return settings.flavour
        with self._kind_lock:
            if self._kind is None:
                from smolgepa.lm.servers.identify import probe_engine_kind

                kind = probe_engine_kind(settings, self.client(), self._headers())
                if not ever_reached((settings.base_url,)):  # nothing answered the probe: the request says why
                    return kind
                self._kind = kind
            return self._kind

    def where(self) -> str:
        """The server, for error messages: kind and endpoint."""
        return f"The {self.kind()} server at {self.settings.endpoint}"

    def client(self) -> httpx.Client:
        """The pooled HTTP client (created on first use)."""
        with self._lock:
            if self._client is None:
                slots = self.settings.max_concurrency
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.settings.timeout, connect=min(self.settings.timeout, 10.0)),
                    limits=httpx.Limits(max_connections=None, max_keepalive_connections=slots),
                )
            return self._client

    def request_body(self, request: Request) -> dict[str, Any]:
        """The JSON body sent for `request`: plain-text chat, never `response_format: json_object`.
        With a label decode mode, the server kind's constraint (and logprob) fields are added; the
        stop strings are left out (the constraint ends the answer after a label)."""
        config = request.config
        body: dict[str, Any] = {
            "model": self.settings.model,
            "messages": take_server_reading(request_messages(request), self.where())[1],  # header lines stay here
            "temperature": config.temperature if config.temperature is not None else 0.0,
            "max_tokens": config.max_tokens or 24,
            "stream": False,
        }
        if config.top_p is not None:
            body["top_p"] = config.top_p
        if config.stop:
            body["stop"] = list(config.stop)
        if config.seed is not None:
            body["seed"] = config.seed
        kind = self.kind()
        if kind == "llamacpp":
            # Reuse the KV cache of the shared instruction prefix; no repeat penalty, so the
            # server decodes exactly like the embedded student (llama-cpp-python's server default is 1.1).
            body["cache_prompt"] = True
            body["repeat_penalty"] = 1.0
        decode, labels = self.settings.decode, self.settings.labels
        if decode != "free":
            body.pop("stop", None)
            body.update(decode_payload(kind, decode, labels))
            budget = label_max_tokens(labels, uses_json(kind) and decode == "constrained")
            body["max_tokens"] = max(body["max_tokens"], budget) if decode == "constrained" else budget
        return body

    def complete(self, request: Request) -> Response:
        decode = self.settings.decode
        reading, messages = take_server_reading(request_messages(request), self.where())
        if decode in SCORING_MODES:
            scores, info = self.scoring().score(messages, reading)
            return text_response(scores.label, model=self.settings.model, finish_reason="stop", provider_data=info)
        data = self.post(self.request_body(request))
        response = self._response(data)
        if decode == "constrained":
            return constrained_response(response, self.kind(), self.settings.labels, self.where())
        return response

    def post(self, body: dict[str, Any], url: str | None = None, expect: Expect | None = None) -> dict[str, Any]:
        """Send one chat-completions body (or a body to another `url`), with retries; the reply's JSON
        (checked to hold a choice, for chat completions; checked by `expect`, for another `url`)."""
        headers = self._headers()
        attempts = self.settings.retries + 1
        started = time.monotonic()
        last = _Retryable("no attempt was made")
        attempt = 0
        while attempt < attempts:
            target = url or self.settings.endpoint
            try:
                with self._slots, self._counted_in_flight(), self._routed(target) as target:
                    return self._attempt(body, headers, target, chat=url is None, expect=expect)
            except _Retryable as failure:
                last = failure
                pause = self.never_up_pause(failure, target)
                if pause is not None:  # a server never reached yet, within its grace period: not a retry
                    self._sleep(pause)
                    continue
                attempt += 1
                if attempt < attempts:
                    delay = self._delay(attempt - 1, failure.retry_after)
                    log.warning(
                        "%s: %s; retry %d/%d in %.2fs",
                        self.settings.endpoint, failure.what, attempt, self.settings.retries, delay,
                    )
                    if self.pool is None or not self.pool.any_ready():  # else another server takes it now
                        self._sleep(delay)
        raise self._give_up(last, attempts, time.monotonic() - started)

    def never_up_pause(self, failure: _Retryable, target: str) -> float | None:
        """For a refused connection (or unknown host) to a server this process has never reached: the
        pause before trying again within `NEVER_UP_GRACE`, else ServerNotUpError. None for any other
        failure (a server that answered before is restarting: retried with back-off)."""
        if failure.reached:
            mark_reached(target)
        urls = (self.settings.base_url, *self.settings.more_urls)
        if failure.refused is None or ever_reached(urls):
            return None
        waited = refused_for(urls)
        if failure.refused == "refused" and waited + NEVER_UP_PAUSE <= NEVER_UP_GRACE:
            return NEVER_UP_PAUSE
        raise self._not_up(failure, waited)

    @contextlib.contextmanager
    def _counted_in_flight(self) -> Iterator[None]:
        """Count one open request while a slot is held (`peak_in_flight`)."""
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def _routed(self, url: str) -> contextlib.AbstractContextManager[str]:
        """`url`, or with several servers, `url` on the one the pool picks for this attempt."""
        return self.pool.route(url) if self.pool is not None else contextlib.nullcontext(url)

    def _attempt(self, body: dict[str, Any], headers: dict[str, str], url: str, chat: bool = True,
                 expect: Expect | None = None) -> dict[str, Any]:
        with self.transport_errors():
            reply = self.client().post(url, json=body, headers=headers)
        mark_reached(url)
        return self.checked(reply, chat, expect)

    @contextlib.contextmanager
    def transport_errors(self) -> Iterator[None]:
        """httpx's timeouts and connection failures (sync or async) as retryable attempts."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise _Retryable(
                f"no response within {self.settings.timeout:g}s ({type(exc).__name__})", timed_out=True,
                reached=not isinstance(exc, httpx.ConnectTimeout),
            ) from None
        except httpx.ConnectError as exc:
            raise _Retryable(
                f"connection failed ({_short(exc)})", connection=True, refused=refusal(exc), reached=False
            ) from None
        except httpx.TransportError as exc:
            raise _Retryable(f"the connection broke ({type(exc).__name__}: {_short(exc)})") from None

    def checked(self, reply: httpx.Response, chat: bool = True, expect: Expect | None = None) -> dict[str, Any]:
        """The reply's JSON; HTTP 429 and 5xx retryable, other 4xx an error at once."""
        status = reply.status_code
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}: {self._redact(_server_message(reply))}", _retry_after(reply))
        if status >= 400:
            raise self._rejected(reply)
        return self._parse(reply, chat, expect)

    def _parse(self, reply: httpx.Response, chat: bool = True, expect: Expect | None = None) -> dict[str, Any]:
        """The reply's JSON, if it is a chat completion with a text (or empty) message (or, when not
        `chat`, a JSON object that `expect` accepts); else retryable: a reply of the wrong shape is
        a fault on the way, never an answer."""
        try:
            data = json.loads(reply.content.decode("utf-8"))
            if not chat:
                if not isinstance(data, dict):
                    raise TypeError(f"the reply is {type(data).__name__}")
                if expect is not None:
                    expect(data)
                return data
            choice = data["choices"][0]
            content = choice["message"].get("content")
            if content is not None and not isinstance(content, str):
                raise TypeError(f"content is {type(content).__name__}")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            snippet = self._redact(reply.text[:120]) if reply.content else "(empty body)"
            raise _Retryable(f"malformed response ({type(exc).__name__}): {snippet!r}") from None
        return data

    def _response(self, data: dict[str, Any]) -> Response:
        choice = data["choices"][0]
        content = choice["message"].get("content")
        usage = data.get("usage") or {}
        return text_response(
            content or "",
            model=str(data.get("model") or self.settings.model),
            input_tokens=usage.get("prompt_tokens") if isinstance(usage, dict) else None,
            output_tokens=usage.get("completion_tokens") if isinstance(usage, dict) else None,
            finish_reason=str(choice.get("finish_reason") or "stop"),
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with equal jitter; never shorter than the server's Retry-After."""
        base = min(MAX_DELAY, self.settings.backoff * (2**attempt))
        delay = base / 2 + self._rng.uniform(0, base / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_DELAY))
        return delay

    def _headers(self) -> dict[str, str]:
        name = self.settings.api_key_env
        if not name:
            return {}
        key = os.environ.get(name, "").strip()
        if not key:
            raise SmolgepaError(
                f"The API key for {self.settings.base_url} is expected in the environment variable {name}, "
                f"which is not set. Export {name}=... (keys are read from the environment only)."
            )
        return {"Authorization": f"Bearer {key}"}

    def _redact(self, text: str) -> str:
        """`text` with the API key (if any) removed, for errors and logs."""
        name = self.settings.api_key_env
        key = os.environ.get(name, "").strip() if name else ""
        return text.replace(key, "[redacted]") if key else text

    def _rejected(self, reply: httpx.Response) -> SmolgepaError:
        status = reply.status_code
        message = self._redact(_server_message(reply))
        hint = "Check the request and the server's log."
        if status in (401, 403):
            where = f"the environment variable {self.settings.api_key_env}" if self.settings.api_key_env else "none set"
            hint = f"Check the API key ({where})."
        elif status == 404:
            hint = (
                f"Check the base URL (it usually ends in /v1) and that the model {self.settings.model!r} "
                "is loaded on the server."
            )
        elif status in (400, 413, 422):
            overflow = parse_overflow(message)
            if overflow is not None:
                where = f"The server at {self.settings.endpoint} said: {message.rstrip('.')}. "
                return ContextOverflowError(overflow.prompt_tokens, overflow.n_ctx, where=where)
            hint = "The prompt may be longer than the model's context window, or a parameter is not supported."
        return SmolgepaError(
            f"The server at {self.settings.endpoint} rejected the request: HTTP {status}: {message}. {hint}"
        )

    def _give_up(self, last: _Retryable, attempts: int, seconds: float) -> SmolgepaError:
        verb = "Cannot reach" if last.connection else "No usable answer from"
        settings = self.settings
        student = settings.role == "student"
        # Reflection and verifier models have --reflection-timeout (--verifier-timeout) and no retries flag.
        retries = f"raise --retries (now {settings.retries})" if student else "run again later"
        timeout_flag = "--timeout" if student else f"--{settings.role}-timeout"
        if last.connection:
            hint = f"{START_HINT}. If it is restarting, {retries}."
        elif last.timed_out:
            more = f" or --retries (now {settings.retries}), or lower --threads" if student else ""
            hint = (f"If the server is busy or slow rather than stuck, raise {timeout_flag} "
                    f"(now {settings.timeout:g}s){more}.")
        else:
            hint = f"Check the server's log; if its failures pass, {retries}."
        return SmolgepaError(
            f"{verb} the {settings.role} server at {settings.endpoint} after {attempts} attempt(s) over "
            f"{seconds:.1f}s: {last.what}. {hint}"
        )

    def _not_up(self, failure: _Retryable, seconds: float) -> ServerNotUpError:
        """The one line for a server never reached in this process: what failed, where, what to do."""
        settings = self.settings
        flag = f"--{settings.role}"
        where = ", ".join(u.rstrip("/") + "/chat/completions" for u in (settings.base_url, *settings.more_urls))
        detail = failure.what.removeprefix("connection failed (").removesuffix(")")
        if failure.refused == "unknown host":
            what, hint = f"unknown host ({detail})", f"Check the host name in the URL given to {flag}"
        else:
            what = f"connection refused for {seconds:.1f}s ({detail})"
            hint = f"Check the URL given to {flag} (host and port) or s{START_HINT[1:]}"
        return ServerNotUpError(
            f"Cannot reach the {settings.role} server at {where}: {what}; it has not answered since this "
            f"process started, so this is not a restart to wait for. {hint}."
        )

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def dump_state(self) -> dict[str, Any]:
        return asdict(self.settings)

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> ServerEngine:
        return cls(ServerSettings(**state))


def _short(exc: Exception, limit: int = 160) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def _server_message(reply: httpx.Response, limit: int = 300) -> str:
    """The error text a server put in its body (OpenAI, FastAPI and plain-text shapes)."""
    try:
        data = reply.json()
    except (ValueError, UnicodeDecodeError):
        text = reply.text.strip() if reply.content else ""
        return (text[:limit] or reply.reason_phrase or "no message").replace("\n", " ")
    message: Any = data
    if isinstance(data, dict):
        message = data.get("error", data.get("detail", data.get("message", data)))
        if isinstance(message, dict):
            message = message.get("message", message)
    text = message if isinstance(message, str) else json.dumps(message)[:limit]
    return text[:limit].replace("\n", " ")


def _retry_after(reply: httpx.Response) -> float | None:
    """Retry-After in seconds (number or HTTP date), if the server sent one."""
    value = reply.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
