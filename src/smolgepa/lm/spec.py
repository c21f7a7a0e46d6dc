"""Parse model specs such as `embedded`, `gguf:PATH`, `lmstudio:MODEL`, `openai:MODEL@URL`."""

from __future__ import annotations

from dataclasses import dataclass

from smolgepa.errors import SmolgepaError

# Server flavours and their default base URLs (None: the URL is part of the spec).
SERVER_DEFAULT_URLS: dict[str, str | None] = {
    "openai": None,
    "lmstudio": "http://localhost:1234/v1",
    "ollama": "http://localhost:11434/v1",
    "llamacpp": None,
    "vllm": None,
}
SPEC_FORMS = (
    "embedded",
    "gguf:PATH",
    "openai:MODEL@BASE_URL",
    "lmstudio:MODEL",
    "ollama:MODEL",
    "llamacpp:BASE_URL",
    "vllm:MODEL@BASE_URL",
)


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec. `kind` is `embedded`, `gguf` or a server flavour."""

    kind: str
    model: str = ""
    base_url: str = ""
    path: str = ""

    @property
    def is_server(self) -> bool:
        return self.kind in SERVER_DEFAULT_URLS

    def __str__(self) -> str:
        if self.kind == "embedded":
            return "embedded"
        if self.kind == "gguf":
            return f"gguf:{self.path}"
        return f"{self.kind}:{self.model}@{self.base_url}"


def unknown_spec(text: str, role: str, extra_forms: tuple[str, ...] = ()) -> SmolgepaError:
    forms = ", ".join((*SPEC_FORMS, *extra_forms))
    return SmolgepaError(f"Unknown {role} {text!r}. Available: {forms}.")


def parse_model_spec(text: str, role: str = "student") -> ModelSpec:
    """Parse a student (or reflection) spec; an unknown one lists the forms that exist."""
    text = text.strip()
    if text == "embedded":
        return ModelSpec(kind="embedded")
    kind, sep, rest = text.partition(":")
    if not sep or not rest:
        raise unknown_spec(text, role)
    if kind == "gguf":
        return ModelSpec(kind="gguf", path=rest)
    if kind not in SERVER_DEFAULT_URLS:
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


def _check_url(url: str, text: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise SmolgepaError(f"{text!r}: the base URL must start with http:// or https://, got {url!r}.")
    return url.rstrip("/")
