"""smolgepa: DSPy's GEPA prompt optimizer for tiny local language models."""

from smolgepa.errors import SmolgepaError

__version__ = "0.1.0"
__all__ = ["SmolgepaError", "__version__"]
