"""How recorded results are written in tables and reports: accuracy, percent, change, minibatch scores,
decode mode. `smolgepa show` and `smolgepa report` both format through here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from smolgepa.evaluation.stats import format_accuracy

if TYPE_CHECKING:
    from smolgepa.runrecord import Evaluation, Iteration


def percent(val: Evaluation | None) -> str:
    """'66.7%', or '-' without a result."""
    return f"{100 * val.accuracy:.1f}%" if val and val.n else "-"


def accuracy(val: Evaluation | None) -> str:
    """'66.7% (4/6, 95% CI 30.0-90.3%)' from a recorded evaluation."""
    return format_accuracy(val.correct, val.n) if val and val.n else "-"


def recorded_accuracy(val: Evaluation | None) -> str:
    """The accuracy text as the run recorded it, or '-'."""
    return val.text if val else "-"


def change(before: Evaluation | None, after: Evaluation | None) -> str:
    """'+16.7 pts', 'no change', or '-' when either side is missing."""
    if not before or not after or not before.n or not after.n:
        return "-"
    points = 100 * (after.accuracy - before.accuracy)
    return f"{points:+.1f} pts" if abs(points) >= 0.05 else "no change"


def score_text(scores: Sequence[float] | None) -> str:
    """'2/3': a minibatch score, or '?' when not recorded."""
    return "?" if scores is None else f"{sum(scores):g}/{len(scores)}"


def minibatch_text(record: Iteration) -> str:
    """'1/3 -> 2/3': minibatch score before and after a proposal."""
    if record.before is None:
        return "-"
    text = score_text(record.before)
    return f"{text} -> {score_text(record.after)}" if record.after is not None else text


def decode_text(config: dict[str, Any]) -> str:
    """A run configuration's decode mode as printed (`free` for runs from before the setting existed)."""
    from smolgepa.lm.readings.reading import Reading

    decode = str(config.get("decode") or "free")
    return Reading(decode, bool(config.get("calibrate")), str(config.get("calibration") or "content-free")).text
