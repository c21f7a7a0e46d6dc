"""Parse model specs such as `embedded`, `gguf:PATH`, `lmstudio:MODEL`, `openai:MODEL@URL`.

The text before the first `:` names a student kind; that kind (from the one registry,
`smolgepa.lm.kinds`) parses the rest. This is the only place a spec string is read.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec. `kind` names a registered student kind (`embedded`, `gguf`, a server flavour, ...)."""

    kind: str
    model: str = ""
    base_url: str = ""
    path: str = ""

    @property
    def is_server(self) -> bool:
        """True for a student behind a server: `--timeout`, `--retries` and `--api-key-env` apply."""
        from smolgepa.lm.kinds import student_kind

        return student_kind(self.kind).server

    def __str__(self) -> str:
        if self.kind == "embedded":
            return "embedded"
        if self.path:
            return f"{self.kind}:{self.path}"
        if self.base_url:
            return f"{self.kind}:{self.model}@{self.base_url}"
        return f"{self.kind}:{self.model}"


def parse_model_spec(text: str, role: str = "student") -> ModelSpec:
    """Parse a student (or reflection) spec; an unknown one lists the forms that exist."""
    from smolgepa.lm.kinds import student_kind

    text = text.strip()
    name, _, rest = text.partition(":")
    return student_kind(name, text, role).parse(rest, text, role)
