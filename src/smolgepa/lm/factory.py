"""Moved to `smolgepa.lm.student` (kept so that earlier imports work)."""

from smolgepa.lm.student import DEFAULT_MAX_TOKENS, DEFAULT_STOP, StudentOptions, make_engine, make_lm, train_pairs

__all__ = ["DEFAULT_MAX_TOKENS", "DEFAULT_STOP", "StudentOptions", "make_engine", "make_lm", "train_pairs"]
