"""Students behind an OpenAI-compatible server, one kind per server flavour (`lmstudio:MODEL`, ...)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from smolgepa.errors import SmolgepaError
from smolgepa.lm.kinds.base import StudentKind, unknown_spec
from smolgepa.lm.kinds.base import ModelSpec
from smolgepa.lm.servers.settings import SERVER_DEFAULT_URLS

if TYPE_CHECKING:
    from smolgepa.lm.servers.server_engine import ServerEngine
    from smolgepa.lm.options import StudentOptions

# Server flavours and their spec forms (default base URLs: `smolgepa.lm.servers.settings`).
SERVER_FORMS = {
    "openai": "openai:MODEL@BASE_URL",
    "lmstudio": "lmstudio:MODEL",
    "ollama": "ollama:MODEL",
    "llamacpp": "llamacpp:BASE_URL[,BASE_URL...]",
    "vllm": "vllm:MODEL@BASE_URL",
}


class ServerKind(StudentKind):
    """One server flavour: its spec form, its decode modes (`decode_server.SERVER_DECODE_MODES`) and
    the `ServerEngine` that talks to it."""

    server = True

    def __init__(self, flavour: str) -> None:
        self.name = flavour
        self.forms = (SERVER_FORMS[flavour],)

    @property
    def decode_modes(self) -> tuple[str, ...]:  # type: ignore[override]
        from smolgepa.lm.servers.payloads import SERVER_DECODE_MODES

        return SERVER_DECODE_MODES[self.name]

    def parse(self, rest: str, text: str, role: str) -> ModelSpec:
        kind = self.name
        if not rest:
            raise unknown_spec(text, role)
        if kind == "llamacpp":
            return ModelSpec(kind=kind, model="default", base_url=_check_url(rest, text))
        default_url = SERVER_DEFAULT_URLS[kind]
        model, at, url = rest.rpartition("@") if "@" in rest else (rest, "", "")
        if at and url:
            return ModelSpec(kind=kind, model=model, base_url=_check_url(url, text))
        if default_url is None:
            raise SmolgepaError(f"{role} {text!r} needs a base URL: {kind}:MODEL@http://HOST:PORT/v1.")
        return ModelSpec(kind=kind, model=rest, base_url=default_url)

    def check_decode(self, mode: str, calibrate: bool, calibration: str) -> None:
        from smolgepa.lm.servers.payloads import check_server_decode

        check_server_decode(self.name, mode, calibrate, calibration)

    def engine(self, spec: ModelSpec, options: StudentOptions) -> ServerEngine:
        from smolgepa.lm.servers.server_engine import ServerEngine, ServerSettings

        return ServerEngine(
            ServerSettings(
                base_url=spec.base_url,
                model=spec.model,
                flavour=spec.kind,
                **options.scoring_fields(),
                **options.server,
            )
        )

    def reflection_engine(self, spec: ModelSpec, *, timeout: float, key_env: str | None, seed: int,
                          role: str = "reflection") -> ServerEngine:
        from smolgepa.lm.servers.server_engine import ServerEngine, ServerSettings

        if key_env is None and spec.kind == "openai" and os.environ.get("OPENAI_API_KEY"):
            key_env = "OPENAI_API_KEY"
        return ServerEngine(
            ServerSettings(base_url=spec.base_url, model=spec.model, flavour=spec.kind, api_key_env=key_env,
                           timeout=timeout, role=role)
        )


def _check_url(url: str, text: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise SmolgepaError(f"{text!r}: the base URL must start with http:// or https://, got {url!r}.")
    if "," in url:  # several servers of the same model (`smolgepa.lm.servers.pool`)
        from smolgepa.lm.servers.pool import split_urls

        return ",".join(split_urls(url))
    return url.rstrip("/")
