"""Docs that cannot drift: the README's Python example runs, its set-up commands exist, and the Commands
table of docs/cli.md lists exactly the commands of `smolgepa --help`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")  # the manual page that holds the Commands table


def test_readme_python_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    assert blocks, "the README has no Python example"
    result = subprocess.run([sys.executable, "-c", blocks[0]], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    label, _, raw = result.stdout.strip().partition(" ")
    assert label in {"positive", "negative", "neutral", "None"} and raw.startswith("'")


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", quick, re.DOTALL)[0].strip().splitlines()
    assert [line.split()[0] for line in commands] == ["scripts/demo", "scripts/test"]
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()
    for line in commands:
        assert (ROOT / line.split()[0]).exists()


def _readme_commands() -> list[str]:
    """The commands in the table of docs/cli.md's `## Commands` section, in order."""
    section = CLI_DOC.split("## Commands", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `smolgepa ([a-z-]+)` \|", section, re.MULTILINE)


def _help_commands(argv: list[str]) -> list[str]:
    """The subcommands `--help` lists, in order (argparse's `{a,b,...}` line)."""
    result = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    choices = re.search(r"\{([a-z,-]+)\}", result.stdout)
    assert choices, result.stdout
    return choices.group(1).split(",")


def test_readme_lists_exactly_the_commands_of_smolgepa_help() -> None:
    documented = _readme_commands()
    listed = _help_commands([sys.executable, "-m", "smolgepa"])
    assert len(listed) >= 8 and len(set(documented)) == len(documented)
    assert sorted(set(listed) - set(documented)) == [], "in --help, missing from the Commands table of docs/cli.md"
    assert sorted(set(documented) - set(listed)) == [], "in the Commands table of docs/cli.md, not in --help"
    assert documented == listed  # the same order too


def test_smolgepa_cli_module_and_the_console_script_show_the_same_commands() -> None:
    assert _help_commands([sys.executable, "-m", "smolgepa.cli"]) == _help_commands([sys.executable, "-m", "smolgepa"])
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'smolgepa = "smolgepa.cli:main"' in pyproject
