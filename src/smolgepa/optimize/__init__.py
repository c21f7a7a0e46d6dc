"""GEPA for tiny students: `optimize(OptimizeConfig(task=...))` runs dspy.GEPA with the
PlainTextAdapter, a feedback metric, a plain-text reflection proposer (or the built-in fewshot
proposer), budgets and stoppers, and records everything in a resumable run directory."""

from smolgepa.optimize.config import OptimizeConfig, load_saved_config
from smolgepa.optimize.run import RunResult, optimize, show

__all__ = ["OptimizeConfig", "RunResult", "load_saved_config", "optimize", "show"]
