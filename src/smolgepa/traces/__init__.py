"""Agent traces: the data model and parser, the compact renderer, counted evidence, a rule detector."""

from smolgepa.traces.detector import STATES, Detection, detect, detect_state, rule_predictions
from smolgepa.traces.evidence import Evidence, collect_evidence, describe_evidence
from smolgepa.traces.trace_model import Message, ToolCall, ToolResult, Trace, Turn, UserMessage, parse_trace
from smolgepa.traces.render import render_trace
from smolgepa.lm.token_count import approx_tokens

__all__ = [
    "STATES",
    "Detection",
    "Evidence",
    "Message",
    "ToolCall",
    "ToolResult",
    "Trace",
    "Turn",
    "UserMessage",
    "approx_tokens",
    "collect_evidence",
    "describe_evidence",
    "detect",
    "detect_state",
    "parse_trace",
    "render_trace",
    "rule_predictions",
]
