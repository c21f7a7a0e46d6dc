"""Docs that a newcomer can read and that cannot drift: the README's shape (short, the set-up and the
main job on its first screen, library use early), relative links that lead somewhere, the command lines
the docs show parse, and the examples that no other test runs."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def test_the_readme_is_read_in_one_sitting() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move the detail to docs/"
    first_screen = "\n".join(lines[:40])
    assert "scripts/demo" in first_screen and "scripts/test" in first_screen
    library = [number for number, line in enumerate(lines, 1) if line == "## Library use"]
    assert library and library[0] <= 150, "library use must start by line 150"


def relative_links(text: str) -> list[str]:
    """The targets of the Markdown links in `text` that are not URLs or anchors on the same page."""
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file: lower case, punctuation dropped, spaces as -."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    headings = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_relative_link_in_the_readme_and_docs_points_to_a_file() -> None:
    broken = []
    for page in pages():
        for target in relative_links(page.read_text(encoding="utf-8")):
            file, _, anchor = unquote(target).partition("#")
            path = (page.parent / file).resolve()
            if not path.exists() or (anchor and path.suffix == ".md" and anchor not in anchors(path)):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []
    assert relative_links("[a](docs/x.md#y) [b](https://e.org) [c](#z)") == ["docs/x.md#y"]
    assert "use-what-was-optimized-predict-smolgepaload" in anchors(DOCS / "optimize.md")


def command_lines(text: str) -> list[str]:
    """Each `.venv/bin/smolgepa ...` command of the bash blocks in `text`, continuation lines joined,
    without what a shell would do around it (pipes, redirections, comments)."""
    found = []
    for block in blocks(text, "bash"):
        for line in block.replace("\\\n", " ").splitlines():
            if ".venv/bin/smolgepa " in line:
                command = line.split(".venv/bin/smolgepa ", 1)[1]
                words = shlex.split(command, comments=True)
                cut = [i for i, word in enumerate(words) if word in {"|", ">", ">>", "&&"}]
                found.append(shlex.join(words[: cut[0]] if cut else words))
    return found


def test_every_command_the_docs_show_parses() -> None:
    from smolgepa.cli import build_parser

    commands = [(page, command) for page in pages() for command in command_lines(page.read_text(encoding="utf-8"))]
    assert len(commands) >= 20
    for page, command in commands:
        try:
            build_parser().parse_args(shlex.split(command))
        except SystemExit:
            pytest.fail(f"{page.relative_to(ROOT)}: `smolgepa {command}` does not parse")


def test_the_library_page_starts_with_the_readme_example() -> None:
    readme_example = blocks(README.read_text(encoding="utf-8"), "python")[0]
    assert blocks((DOCS / "library.md").read_text(encoding="utf-8"), "python")[0] == readme_example


def test_the_reflection_kind_example_of_extending_md_works() -> None:
    from smolgepa.optimize.reflection import (ReflectionSettings, make_backend, reflection_forms,
                                              unregister_reflection_kind)

    section = (DOCS / "extending.md").read_text(encoding="utf-8").split("## Adding a reflection kind", 1)[1]
    [example] = blocks(section, "python")
    try:
        exec(compile(example, "my_reflection.py", "exec"), {})  # noqa: S102 - our own docs
        assert make_backend("echo:Say the label.", ReflectionSettings())("any prompt").text == "Say the label."
        assert "echo:TEXT" in reflection_forms()
    finally:
        unregister_reflection_kind("echo")


def test_the_readme_shows_what_eval_prints() -> None:
    """The README's sample of `eval` output (lines left out are `...`) is what the command prints, in order.
    The default student answers, from the file the format probe picks for this CPU: the numerics rehearsal
    would run it unchanged, so it is not marked `numerics`."""
    text = README.read_text(encoding="utf-8").split("## What it reports", 1)[1].split("\n## ", 1)[0]
    [shown] = blocks(text, "")
    command = [sys.executable, "-m", "smolgepa", "eval", "--task", "sentiment", "--split", "val", "--decode", "scored",
               "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    printed = iter(result.stdout.splitlines())
    for line in shown.splitlines():
        if line != "...":
            assert line in printed, f"not printed (in this order): {line!r}\n{result.stdout}"
