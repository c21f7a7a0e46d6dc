"""Students and reflection models as DSPy LM engines."""

from smolgepa.lm.factory import StudentOptions, make_lm
from smolgepa.lm.models import embedded_model_path
from smolgepa.lm.spec import ModelSpec, parse_model_spec

__all__ = ["ModelSpec", "StudentOptions", "embedded_model_path", "make_lm", "parse_model_spec"]
