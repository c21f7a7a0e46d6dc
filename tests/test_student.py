"""`Student`: one spec and its options, validated once; it knows its identity, decode settings, token
counter and size class, and makes the engine and the LM (no model is loaded here)."""

from __future__ import annotations

import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.evaluation.evaluate import lm_decode_settings
from smolgepa.lm.readings.reading import Reading as DecodeSettings
from smolgepa.lm.student import Student, server_overrides
from smolgepa.lm.options import StudentOptions
from smolgepa.optimize.config import OptimizeConfig

SENTIMENT = ("positive", "negative", "neutral")
SERVER = "llamacpp:http://127.0.0.1:9/v1"


@pytest.mark.parametrize(("spec", "options", "message"), [
    ("embedded", {"decode": "scored"}, "needs the task's label set"),
    ("lmstudio:smollm2", {"decode": "scored", "labels": SENTIMENT}, "lmstudio can do: free, constrained"),
    ("ollama:smollm2", {"decode": "knn", "labels": SENTIMENT, "train_examples": (("good", "positive"),)},
     "--decode knn is not available for ollama students"),
    (SERVER, {"decode": "probe", "labels": SENTIMENT, "train_examples": (("good", "positive"),)},
     "--decode probe is not available for llamacpp students"),
    ("embedded", {"server": {"timeout": 5.0, "retries": 1}},
     "--timeout, --retries apply only to a student behind a server; 'embedded' runs in-process"),
    ("nosuch:model", {}, "Unknown student 'nosuch:model'. Available: embedded, gguf:PATH"),
])
def test_a_student_is_validated_once_with_one_line_errors(spec: str, options: dict, message: str) -> None:
    with pytest.raises(SmolgepaError) as caught:
        Student(spec, StudentOptions(**options))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_optimize_config_checks_the_decode_mode_with_the_same_function() -> None:
    with pytest.raises(SmolgepaError, match="lmstudio can do: free, constrained"):
        OptimizeConfig(task="sentiment", student="lmstudio:smollm2", decode="scored")
    OptimizeConfig(task="sentiment", student=SERVER, decode="scored", calibrate=True)


def test_a_student_knows_its_settings_and_makes_its_lm() -> None:
    options = StudentOptions(decode="constrained", labels=SENTIMENT, server=server_overrides(SERVER, timeout=3.0))
    student = Student(SERVER, options)
    assert student.text == "llamacpp:default@http://127.0.0.1:9/v1" and student.is_server
    assert student.decode == DecodeSettings("constrained") and student.identity == "llamacpp:default@http://127.0.0.1:9/v1"
    assert student.key_extras()["decode"] == "constrained" and "timeout" not in student.key_extras()
    assert student.token_counter()[1] == "approximate" and "size unknown" in student.size_class()
    lm = student.lm()
    assert lm.engine is student.engine() and lm.engine.settings.timeout == 3.0
    assert lm_decode_settings(lm) == student.decode == lm_decode_settings(lm.copy(engine=lm.engine))
    embedded = Student("embedded", StudentOptions(decode="scored", labels=SENTIMENT, calibrate=True))
    assert embedded.decode.text == "scored + calibrate" and embedded.size_class().startswith("about 135 million")
    assert embedded.token_counter()[1] == "tokenizer" and "gguf:sha256:" in embedded.identity
