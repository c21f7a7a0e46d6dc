"""Students and reflection models as DSPy LM engines."""

from smolgepa.lm.kinds import ModelSpec, parse_model_spec
from smolgepa.lm.local.model_files import embedded_model_path
from smolgepa.lm.options import StudentOptions, train_pairs
from smolgepa.lm.student import Student, make_lm

__all__ = ["ModelSpec", "Student", "StudentOptions", "embedded_model_path", "make_lm", "parse_model_spec",
           "train_pairs"]
