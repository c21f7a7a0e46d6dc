"""Render a report as Markdown (for READMEs); plots are written as PNG files next to it, or left out."""

from __future__ import annotations

import os
from pathlib import Path

from smolgepa.evaluation.display import table
from smolgepa.report.parts import Bullets, Code, Diff, Image, Paragraph, Part, Report, Table


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _fence(text: str, language: str = "text") -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def _part(part: Part, image_dir: Path | None, relative_to: Path | None) -> str | None:
    if isinstance(part, Paragraph):
        return part.text
    if isinstance(part, Bullets):
        return "\n".join(f"- {item}" for item in part.items)
    if isinstance(part, Table):
        text = table(part.headers, [[_cell(c) for c in row] for row in part.rows]) if part.rows else "(no rows)"
        return f"{text}\n\n*{part.caption}*" if part.caption else text
    if isinstance(part, Code):
        return _fence(part.text)
    if isinstance(part, Diff):
        return _fence("\n".join(part.lines), "diff")
    if isinstance(part, Image):
        if image_dir is None:
            return None
        image_dir.mkdir(parents=True, exist_ok=True)
        path = image_dir / f"{part.name}.png"
        path.write_bytes(part.png)
        link = os.path.relpath(path, relative_to) if relative_to else str(path)
        return f"![{part.title}]({Path(link).as_posix()})"
    raise TypeError(f"unknown report part {type(part).__name__}")


def render_markdown(report: Report, image_dir: Path | None = None, relative_to: Path | None = None) -> str:
    """The report as Markdown. With `image_dir`, plots are written there as PNG files and linked
    (relative to `relative_to`, normally the Markdown file's folder); without it they are left out."""
    blocks = [f"# {report.title}"]
    for section in report.sections:
        blocks.append("#" * min(section.level + 1, 6) + " " + section.title)
        for part in section.parts:
            text = _part(part, image_dir, relative_to)
            if text:
                blocks.append(text)
    return "\n\n".join(blocks) + "\n"


def write_markdown(report: Report, path: str | Path, images: bool = True) -> Path:
    """Write the report to `path`, its plots to `<stem>-plots/` beside it. Returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    image_dir = target.parent / f"{target.stem}-plots" if images else None
    target.write_text(render_markdown(report, image_dir, target.parent), encoding="utf-8")
    return target
