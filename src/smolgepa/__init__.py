"""smolgepa: DSPy's GEPA prompt optimizer for tiny local language models."""

import os

# The one place OMP_WAIT_POLICY is set. llama.cpp's OpenMP threads spin while waiting by default; when
# other programs share the cores (tests, servers, a second evaluation) that made one completion go
# from ~1 s to 45-80 s on a 2-core machine (measured). libgomp reads the variable once, when
# llama_cpp's libraries load; every smolgepa module is imported after this package, so it is set
# before smolgepa first imports llama_cpp. A value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from smolgepa.errors import SmolgepaError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["SmolgepaError", "__version__"]
