"""The study's `renders:` axis: each cell sees trace inputs in one rendering (`plain`, `annotated`,
`summary`), so a study compares them; the study report shows which one won, per label
(smolgepa.report.renders)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.tasks.loader import RENDER_MODES


def check_render(value: Any, where: str) -> str:
    """A rendering name from a study file, or an error naming the choices."""
    text = value.strip() if isinstance(value, str) else value
    if text not in RENDER_MODES:
        raise SmolgepaError(f"{where}: unknown rendering {value!r}. Available: {', '.join(RENDER_MODES)}.")
    return text


def check_render_tasks(tasks: Sequence[str], renders: Sequence[str] | None, where: str) -> None:
    """More than one rendering only means something for trace tasks: refuse a text task beside them."""
    if not renders or len(renders) < 2:
        return
    from smolgepa.tasks import load_task

    text_tasks = [name for name in tasks if load_task(name).input_format != "trace"]
    if text_tasks:
        raise SmolgepaError(
            f"{where}: renders: compares renderings of agent traces, but {', '.join(text_tasks)} "
            "has text inputs (every rendering would be the same run). Move it to another study."
        )
