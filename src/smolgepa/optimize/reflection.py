"""Reflection backends: each turns a plain-text prompt into a plain-text answer, never raising.

Specs accepted by `--reflection`:
    fewshot                         the built-in proposer (no LLM; see fewshot.py)
    embedded                        the local SmolLM2-135M itself (weak, but offline)
    gguf:PATH                       another local GGUF model
    lmstudio:MODEL, ollama:MODEL, openai:MODEL@URL, llamacpp:URL, vllm:MODEL@URL
                                    any OpenAI-compatible server; the API key comes from an
                                    environment variable (`reflection_key_env`, else OPENAI_API_KEY
                                    for `openai:` when it is set)
    litellm:MODEL[@BASE_URL]        anything litellm reaches (keys from litellm's usual variables)
    cmd:"COMMAND ARGS"              a CLI agent: the prompt on stdin, the answer from stdout,
                                    run without a shell, killed after the timeout
"""

from __future__ import annotations

import codecs
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from smolgepa.errors import SmolgepaError
from smolgepa.lm.spec import SPEC_FORMS, parse_model_spec
from smolgepa.optimize.cache import ReflectionReply

MAX_OUTPUT_BYTES = 1_000_000  # a CLI agent's answer beyond this is cut and the cut recorded
REFLECTION_FORMS = ("fewshot", *SPEC_FORMS, "litellm:MODEL[@BASE_URL]", 'cmd:"COMMAND ..."')
SYSTEM_PROMPT = "You write instructions (system prompts) for small language models. Answer in plain text."

Backend = Callable[[str], ReflectionReply]


@dataclass(frozen=True)
class ReflectionSettings:
    """How reflection calls are made."""

    timeout: float = 300.0
    max_tokens: int = 2048
    temperature: float = 0.7
    key_env: str | None = None
    seed: int = 0


def describe_reflection(spec: str) -> str:
    """The spec as recorded in the run directory (a command's arguments are kept; keys never are)."""
    return spec.strip()


def make_backend(spec: str, settings: ReflectionSettings) -> Backend:
    """The reflection backend for a spec; an unknown spec lists the forms that exist."""
    text = spec.strip()
    kind, sep, rest = text.partition(":")
    if text == "fewshot":
        raise SmolgepaError("The fewshot proposer has no reflection backend (it needs no LLM).")
    if kind == "cmd" and sep:
        return CommandBackend(parse_command(rest), settings.timeout)
    if kind == "litellm" and sep:
        model, at, base = rest.strip().rpartition("@") if "@" in rest else (rest.strip(), "", "")
        if not model:
            raise SmolgepaError("litellm:MODEL needs a model name, for example litellm:openai/gpt-4.1-mini.")
        if at and not base.startswith(("http://", "https://")):
            raise SmolgepaError(f"litellm:{rest}: the base URL after @ must start with http:// or https://.")
        return LitellmBackend(model, settings, api_base=base or None)
    try:
        model = parse_model_spec(text, role="reflection model")
    except SmolgepaError:
        forms = ", ".join(REFLECTION_FORMS)
        raise SmolgepaError(f"Unknown reflection model {text!r}. Available: {forms}.") from None
    return EngineBackend(model_engine(model, settings), settings)


def parse_command(text: str) -> list[str]:
    """`cmd:` arguments: shell-like quoting, split without a shell; a fully quoted command is split too."""
    try:
        args = shlex.split(text)
    except ValueError as exc:
        raise SmolgepaError(f'cmd:{text}: cannot split the command ({exc}). Example: cmd:"opencode run -m MODEL".') from None
    if len(args) == 1 and " " in args[0].strip():
        args = shlex.split(args[0])
    if not args:
        raise SmolgepaError('cmd: needs a command, for example cmd:"opencode run -m opencode/big-pickle".')
    if shutil.which(args[0]) is None:
        raise SmolgepaError(
            f"Reflection command {args[0]!r} was not found (cmd:{text}). Install it or give its full path."
        )
    return args


class CommandBackend:
    """Runs a CLI agent per prompt: no shell, prompt on stdin, answer on stdout, killed on timeout."""

    def __init__(self, args: list[str], timeout: float, max_output_bytes: int = MAX_OUTPUT_BYTES) -> None:
        self.args = list(args)
        self.timeout = timeout
        self.max_output_bytes = max_output_bytes

    def __call__(self, prompt: str) -> ReflectionReply:
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                self.args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so a timeout ends its children too
            )
        except OSError as exc:
            return ReflectionReply(error=f"could not start {self.args[0]!r}: {exc}", seconds=0.0)
        out = BoundedReader(process.stdout, self.max_output_bytes)
        err = BoundedReader(process.stderr, STDERR_KEPT_BYTES, keep_end=True)
        _send_prompt(process, prompt)
        try:
            process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.wait()
            return ReflectionReply(
                error=f"timed out after {self.timeout:g}s (command killed)", seconds=time.monotonic() - started
            )
        except BaseException:  # Ctrl-C or SIGTERM: the agent runs in its own session and would outlive us
            _kill_group(process)
            raise
        out.join(PIPE_GRACE_SECONDS)
        err.join(PIPE_GRACE_SECONDS)
        seconds = time.monotonic() - started
        if process.returncode != 0:
            tail = err.data.decode("utf-8", errors="replace").strip()[-300:] or "(no stderr)"
            return ReflectionReply(error=f"exited with status {process.returncode}: {tail}", seconds=seconds)
        notes: list[str] = []
        cut = out.total > len(out.data)
        if cut:
            notes.append(f"output of {out.total} bytes cut to {len(out.data)}")
        # final=False leaves a character split by the cut undecoded instead of marking it invalid
        text = codecs.getincrementaldecoder("utf-8")("replace").decode(out.data, final=not cut)
        if "\ufffd" in text:
            notes.append("output was not valid UTF-8; undecodable bytes replaced")
        return ReflectionReply(text=text, seconds=seconds, notes=tuple(notes))


STDERR_KEPT_BYTES = 4_000  # only the end of stderr is shown in an error
PIPE_GRACE_SECONDS = 5.0  # after the child exits, how long a pipe held open by its children may stay open


class BoundedReader:
    """Drains a pipe in a thread, keeping the first (or last) `limit` bytes and counting them all.

    Draining everything keeps a chatty child from blocking on a full pipe; keeping only `limit`
    bytes keeps an enormous answer out of memory.
    """

    def __init__(self, stream: IO[bytes] | None, limit: int, keep_end: bool = False) -> None:
        self.limit = limit
        self.keep_end = keep_end
        self.total = 0
        self._kept = bytearray()
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        with stream:
            while chunk := stream.read(65536):
                self.total += len(chunk)
                if self.keep_end:
                    self._kept += chunk
                    del self._kept[: max(0, len(self._kept) - self.limit)]
                elif len(self._kept) < self.limit:
                    self._kept += chunk[: self.limit - len(self._kept)]

    def join(self, timeout: float) -> None:
        """Wait until the pipe closes, at most `timeout` seconds (a detached grandchild may hold it)."""
        self._thread.join(timeout)

    @property
    def data(self) -> bytes:
        return bytes(self._kept)


def _send_prompt(process: subprocess.Popen[bytes], prompt: str) -> None:
    """Write the prompt to stdin in a thread: a child that never reads must not block us past the timeout."""

    def write() -> None:
        try:
            with process.stdin:  # type: ignore[union-attr]
                process.stdin.write(prompt.encode("utf-8"))  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass  # the child exited or closed stdin without reading everything: its answer still counts

    threading.Thread(target=write, daemon=True).start()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """End the command we started and anything it started (its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def model_engine(spec: Any, settings: ReflectionSettings) -> Any:
    """A DSPy engine (with `complete(Request)`) for a reflection model spec."""
    if spec.kind in ("embedded", "gguf"):
        from smolgepa.lm.embedded import EmbeddedEngine, EmbeddedSettings
        from smolgepa.lm.models import embedded_model_path

        path = str(embedded_model_path()) if spec.kind == "embedded" else spec.path
        return EmbeddedEngine(EmbeddedSettings(path=path, n_ctx=8192, seed=settings.seed))
    from smolgepa.lm.server import ServerSettings

    key_env = settings.key_env
    if key_env is None and spec.kind == "openai" and os.environ.get("OPENAI_API_KEY"):
        key_env = "OPENAI_API_KEY"
    from smolgepa.lm.server import ServerEngine

    return ServerEngine(
        ServerSettings(
            base_url=spec.base_url,
            model=spec.model,
            flavour=spec.kind,
            api_key_env=key_env,
            timeout=settings.timeout,
            role="reflection",
        )
    )


class EngineBackend:
    """A reflection model behind a DSPy engine (embedded llama.cpp or an OpenAI-compatible server)."""

    def __init__(self, engine: Any, settings: ReflectionSettings) -> None:
        self.engine = engine
        self.settings = settings

    def __call__(self, prompt: str) -> ReflectionReply:
        from dspy.lm15 import Config, Message, Request

        request = Request(
            model=str(getattr(self.engine, "model_name", "reflection")),
            messages=(Message.user(prompt),),
            system=SYSTEM_PROMPT,
            config=Config(
                max_tokens=self.settings.max_tokens,
                temperature=self.settings.temperature,
                seed=self.settings.seed,
            ),
        )
        started = time.monotonic()
        try:
            response = self.engine.complete(request)
        except Exception as exc:  # noqa: BLE001 - a failed reflection is a failed proposal, not a crash
            return ReflectionReply(error=f"{type(exc).__name__}: {exc}", seconds=time.monotonic() - started)
        text = "".join(getattr(part, "text", "") or "" for part in response.message.parts)
        return ReflectionReply(text=text, finish_reason=response.finish_reason, seconds=time.monotonic() - started)


class LitellmBackend:
    """Any model litellm reaches (`litellm:MODEL`); litellm reads API keys from its usual variables."""

    def __init__(self, model: str, settings: ReflectionSettings, api_base: str | None = None) -> None:
        self.model = model
        self.settings = settings
        self.api_base = api_base

    def __call__(self, prompt: str) -> ReflectionReply:
        started = time.monotonic()
        # litellm fetches a model price list from the internet when imported, unless told not to
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        try:
            import litellm

            response = litellm.completion(
                model=self.model,
                messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}],
                max_tokens=self.settings.max_tokens,
                temperature=self.settings.temperature,
                timeout=self.settings.timeout,
                **({"api_base": self.api_base} if self.api_base else {}),
            )
            choice = response.choices[0]
            text = choice.message.content or ""
            finish = str(choice.finish_reason or "stop")
        except Exception as exc:  # noqa: BLE001 - a failed reflection is a failed proposal, not a crash
            return ReflectionReply(error=f"{type(exc).__name__}: {exc}", seconds=time.monotonic() - started)
        return ReflectionReply(text=text, finish_reason=finish, seconds=time.monotonic() - started)
