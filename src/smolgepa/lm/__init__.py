"""Students and reflection models as DSPy LM engines."""

from smolgepa.lm.models import embedded_model_path
from smolgepa.lm.spec import ModelSpec, parse_model_spec
from smolgepa.lm.student import Student, StudentOptions, make_lm, train_pairs

__all__ = ["ModelSpec", "Student", "StudentOptions", "embedded_model_path", "make_lm", "parse_model_spec",
           "train_pairs"]
