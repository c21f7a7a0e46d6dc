"""The server student: chat completions from an OpenAI-compatible server, as a DSPy engine.

Works with LM Studio, Ollama, llama.cpp (llama-server or llama-cpp-python's server), vLLM and
OpenAI-style APIs. Requests are plain text (never `response_format: json_object`), limited to
`concurrency` at a time, and retried with exponential backoff and jitter on connection errors,
timeouts, HTTP 5xx, 429 and malformed bodies. Any other 4xx fails at once with the server's message.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from dspy.lm15 import Request, Response

from smolgepa.errors import SmolgepaError
from smolgepa.lm.messages import CompleteOnlyEngine, request_messages, text_response
from smolgepa.lm.spec import SERVER_DEFAULT_URLS, ModelSpec

log = logging.getLogger(__name__)

# Requests in flight at once, by server kind: llama.cpp and vLLM batch parallel slots, LM Studio
# and Ollama mostly queue, hosted APIs take more.
DEFAULT_CONCURRENCY: dict[str, int] = {"llamacpp": 4, "vllm": 4, "lmstudio": 2, "ollama": 2, "openai": 8}
MAX_DELAY = 30.0  # seconds: the longest single wait between attempts (also caps Retry-After)
START_HINT = (
    "Start the server: LM Studio: load the model and start the local server on port 1234; "
    "Ollama: `ollama serve`; llama.cpp: `python -m llama_cpp.server --model FILE` or "
    "`llama-server -m FILE --port 8080`"
)


@dataclass(frozen=True)
class ServerSettings:
    """Where the server is and how to talk to it; saved with the engine (never the API key itself).

    `api_key_env` names an environment variable holding the key; it is read at request time.
    `concurrency` of None means the default for the flavour (see DEFAULT_CONCURRENCY).
    """

    base_url: str
    model: str
    flavour: str = "openai"
    api_key_env: str | None = None
    timeout: float = 120.0
    retries: int = 8  # a long run must outlast a flaky server: 9 faults in a row to lose an answer
    backoff: float = 0.5
    concurrency: int | None = None

    def __post_init__(self) -> None:
        if self.flavour not in SERVER_DEFAULT_URLS:
            raise SmolgepaError(f"Unknown server flavour {self.flavour!r}. Available: {', '.join(SERVER_DEFAULT_URLS)}.")
        if not self.base_url.startswith(("http://", "https://")):
            raise SmolgepaError(f"Server base URL must start with http:// or https://, got {self.base_url!r}.")
        if self.timeout <= 0 or self.retries < 0 or self.backoff < 0:
            raise SmolgepaError(
                f"Server settings need timeout > 0, retries >= 0 and backoff >= 0; got timeout={self.timeout}, "
                f"retries={self.retries}, backoff={self.backoff}."
            )
        if self.concurrency is not None and self.concurrency < 1:
            raise SmolgepaError(f"Server concurrency must be at least 1, got {self.concurrency}.")

    @property
    def max_concurrency(self) -> int:
        """Requests allowed in flight at once."""
        return self.concurrency or DEFAULT_CONCURRENCY.get(self.flavour, 2)

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


def settings_from_spec(spec: ModelSpec, **overrides: Any) -> ServerSettings:
    """Server settings for a parsed server spec (`lmstudio:MODEL`, `llamacpp:URL`, ...)."""
    if not spec.is_server:
        raise SmolgepaError(f"{spec} is not a server student.")
    return ServerSettings(base_url=spec.base_url, model=spec.model, flavour=spec.kind, **overrides)


def server_identity(settings: ServerSettings) -> str:
    """The model's identity for cache keys: flavour, model and URL (no key, no timeouts)."""
    return f"{settings.flavour}:{settings.model}@{settings.base_url.rstrip('/')}"


class _Retryable(Exception):
    """One failed attempt worth retrying; `retry_after` is the server's hint in seconds."""

    def __init__(self, what: str, retry_after: float | None = None, connection: bool = False) -> None:
        super().__init__(what)
        self.what = what
        self.retry_after = retry_after
        self.connection = connection


class ServerEngine(CompleteOnlyEngine):
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
        self._client: httpx.Client | None = None

    @property
    def model_name(self) -> str:
        return self.settings.model

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
        """The JSON body sent for `request`: plain-text chat, no response_format ever."""
        config = request.config
        body: dict[str, Any] = {
            "model": self.settings.model,
            "messages": request_messages(request),
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
        if self.settings.flavour == "llamacpp":
            # Reuse the KV cache of the shared instruction prefix; no repeat penalty, so the
            # server decodes exactly like the embedded student (llama-cpp-python's server default is 1.1).
            body["cache_prompt"] = True
            body["repeat_penalty"] = 1.0
        return body

    def complete(self, request: Request) -> Response:
        body = self.request_body(request)
        headers = self._headers()
        attempts = self.settings.retries + 1
        started = time.monotonic()
        last = _Retryable("no attempt was made")
        for attempt in range(attempts):
            try:
                with self._slots:
                    return self._attempt(body, headers)
            except _Retryable as failure:
                last = failure
                if attempt + 1 < attempts:
                    delay = self._delay(attempt, failure.retry_after)
                    log.warning(
                        "%s: %s; retry %d/%d in %.2fs",
                        self.settings.endpoint, failure.what, attempt + 1, self.settings.retries, delay,
                    )
                    self._sleep(delay)
        raise self._give_up(last, attempts, time.monotonic() - started)

    def _attempt(self, body: dict[str, Any], headers: dict[str, str]) -> Response:
        url = self.settings.endpoint
        try:
            reply = self.client().post(url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"no response within {self.settings.timeout:g}s ({type(exc).__name__})") from None
        except httpx.ConnectError as exc:
            raise _Retryable(f"connection failed ({_short(exc)})", connection=True) from None
        except httpx.TransportError as exc:
            raise _Retryable(f"the connection broke ({type(exc).__name__}: {_short(exc)})") from None
        status = reply.status_code
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}: {self._redact(_server_message(reply))}", _retry_after(reply))
        if status >= 400:
            raise self._rejected(reply)
        return self._parse(reply)

    def _parse(self, reply: httpx.Response) -> Response:
        try:
            data = json.loads(reply.content.decode("utf-8"))
            choice = data["choices"][0]
            content = choice["message"].get("content")
            if content is not None and not isinstance(content, str):
                raise TypeError(f"content is {type(content).__name__}")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            snippet = self._redact(reply.text[:120]) if reply.content else "(empty body)"
            raise _Retryable(f"malformed response ({type(exc).__name__}): {snippet!r}") from None
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
            hint = "The prompt may be longer than the model's context window, or a parameter is not supported."
        message = self._redact(_server_message(reply))
        return SmolgepaError(
            f"The server at {self.settings.endpoint} rejected the request: HTTP {status}: {message}. {hint}"
        )

    def _give_up(self, last: _Retryable, attempts: int, seconds: float) -> SmolgepaError:
        verb = "Cannot reach" if last.connection else "No usable answer from"
        return SmolgepaError(
            f"{verb} the student server at {self.settings.endpoint} after {attempts} attempt(s) over "
            f"{seconds:.1f}s: {last.what}. {START_HINT}."
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
