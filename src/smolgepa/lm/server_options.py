"""Moved to `smolgepa.lm.student` (kept so that earlier imports work)."""

from smolgepa.lm.student import FLAG_NAMES, check_server_values, server_overrides

__all__ = ["FLAG_NAMES", "check_server_values", "server_overrides"]
