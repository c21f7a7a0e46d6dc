"""The DSPy side: `PlainTextAdapter` (`plain_text`: short chat messages a 135M model can follow),
reading a field's value out of a small model's text (`field_parsing`, `field_layout`), and the
program smolgepa optimizes (`program`). `from smolgepa.adapter import PlainTextAdapter` as before."""

from smolgepa.adapter.plain_text import PlainTextAdapter

__all__ = ["PlainTextAdapter"]
