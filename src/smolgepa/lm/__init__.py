"""Students and reflection models as DSPy LM engines."""

import os

# llama.cpp's OpenMP threads spin while waiting; on a busy 2-core machine that made decoding 10-20x
# slower (measured). PASSIVE must be set before llama_cpp is first imported; a user's value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from smolgepa.lm.factory import StudentOptions, make_lm, train_pairs  # noqa: E402
from smolgepa.lm.models import embedded_model_path
from smolgepa.lm.spec import ModelSpec, parse_model_spec

__all__ = ["ModelSpec", "StudentOptions", "embedded_model_path", "make_lm", "parse_model_spec", "train_pairs"]
