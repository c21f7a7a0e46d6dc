"""Which kind of server is behind a local OpenAI-compatible URL, asked once (for decode payloads).

A spec that names its kind (`llamacpp:`, `vllm:`, `ollama:`, `lmstudio:`) is trusted and never probed.
An `openai:MODEL@URL` student on a local URL that needs `--decode constrained|scored` is probed with a
few GET requests, each answered by one server kind only:

| kind     | request              | answer that identifies it                        |
|----------|----------------------|--------------------------------------------------|
| ollama   | GET /api/version     | `{"version": ...}`                               |
| vllm     | GET /version         | `{"version": ...}`                               |
| llamacpp | GET /props           | llama-server: `default_generation_settings`      |
| llamacpp | GET /openapi.json    | llama-cpp-python's server: title "... llama.cpp Python API" |
| lmstudio | GET /api/v0/models   | `{"data": [{"publisher": ..., "arch": ...}]}`    |

Any failure (refused, timeout, other status, not JSON) only rules that kind out; when nothing
matches, the caller keeps the generic OpenAI payload and says so in the log.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from smolgepa.lm.servers.reach import ever_reached, mark_reached

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 3.0  # seconds per probe request


def _version(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("version"), str)


def _llama_server_props(data: Any) -> bool:
    return isinstance(data, dict) and ("default_generation_settings" in data or "total_slots" in data)


def _llama_cpp_python(data: Any) -> bool:
    info = data.get("info") if isinstance(data, dict) else None
    return isinstance(info, dict) and "llama.cpp" in str(info.get("title", ""))


def _lmstudio_models(data: Any) -> bool:
    models = data.get("data") if isinstance(data, dict) else None
    return isinstance(models, list) and any(isinstance(m, dict) and ("publisher" in m or "arch" in m) for m in models)


PROBES: tuple[tuple[str, str, Callable[[Any], bool]], ...] = (
    ("ollama", "/api/version", _version),
    ("vllm", "/version", _version),
    ("llamacpp", "/props", _llama_server_props),
    ("llamacpp", "/openapi.json", _llama_cpp_python),
    ("lmstudio", "/api/v0/models", _lmstudio_models),
)


def is_local_url(url: str) -> bool:
    """True for loopback, private-network and link-local hosts, `localhost` and dotless host names."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or (host and "." not in host and ":" not in host):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.endswith((".local", ".localhost", ".internal", ".lan"))
    return address.is_loopback or address.is_private or address.is_link_local


def server_root(base_url: str) -> str:
    """The server's root URL: the base URL without a trailing /v1."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def probe_server_kind(
    base_url: str, client: httpx.Client | None = None, headers: dict[str, str] | None = None
) -> str | None:
    """The server kind behind `base_url` (`llamacpp`, `vllm`, `ollama`, `lmstudio`), or None.

    Stops at the first connection failure: a server that cannot be reached says so on the real request.
    """
    root = server_root(base_url)
    own = client is None
    client = client or httpx.Client()
    try:
        for kind, path, matches in PROBES:
            try:
                reply = client.get(root + path, headers=headers, timeout=PROBE_TIMEOUT)
            except httpx.ConnectError:
                return None
            except httpx.HTTPError:
                continue
            mark_reached(root)
            if reply.status_code != 200:
                continue
            try:
                data = reply.json()
            except ValueError:
                continue
            if matches(data):
                log.info("%s: identified as a %s server (GET %s)", base_url, kind, path)
                return kind
        return None
    finally:
        if own:
            client.close()


def probe_engine_kind(settings: Any, client: httpx.Client, headers: dict[str, str]) -> str:
    """The payload kind for an `openai:` student (`ServerSettings`) that needs a label constraint:
    `openai` for a remote URL or an unrecognised server, else the probed kind, checked to support
    the settings' decode mode (SmolgepaError naming the probed kind if not)."""
    from smolgepa.errors import SmolgepaError
    from smolgepa.lm.servers.payloads import check_server_decode

    if not is_local_url(settings.base_url):
        return "openai"
    found = probe_server_kind(settings.base_url, client, headers)
    if found is None and not ever_reached((settings.base_url,)):
        return "openai"  # nothing answered: the request reports it (`servers/reach.py`), no guess to warn about
    if found is None:
        log.warning(
            "%s: could not tell which server this is (llama.cpp, vLLM, Ollama, LM Studio); sending the "
            "OpenAI json_schema constraint. Name the kind in the spec (llamacpp:URL, vllm:MODEL@URL, "
            "ollama:MODEL, lmstudio:MODEL) to choose the payload.",
            settings.base_url,
        )
        return "openai"
    try:
        check_server_decode(found, settings.decode, settings.calibrate, settings.calibration)
    except SmolgepaError as exc:
        raise SmolgepaError(f"The server at {settings.base_url} is {found} (probed): {exc}") from None
    return found
