"""The registry of student kinds. Each built-in kind is one file here and one line below; a kind of
your own is registered the same way, with `register_student_kind(MyKind())` (see the README)."""

from smolgepa.lm.kinds.base import (
    ModelSpec,
    StudentKind,
    register_student_kind,
    spec_forms,
    student_kind,
    student_kinds,
    unknown_spec,
    parse_model_spec,
    unregister_student_kind,
)
from smolgepa.lm.kinds.embedded_kinds import EmbeddedKind, GgufKind
from smolgepa.lm.kinds.server_kinds import ServerKind

register_student_kind(EmbeddedKind())  # embedded
register_student_kind(GgufKind())  # gguf:PATH
register_student_kind(ServerKind("openai"))  # openai:MODEL@BASE_URL
register_student_kind(ServerKind("lmstudio"))  # lmstudio:MODEL
register_student_kind(ServerKind("ollama"))  # ollama:MODEL
register_student_kind(ServerKind("llamacpp"))  # llamacpp:BASE_URL
register_student_kind(ServerKind("vllm"))  # vllm:MODEL@BASE_URL

__all__ = [
    "ModelSpec",
    "StudentKind",
    "parse_model_spec",
    "register_student_kind",
    "spec_forms",
    "student_kind",
    "student_kinds",
    "unknown_spec",
    "unregister_student_kind",
]
