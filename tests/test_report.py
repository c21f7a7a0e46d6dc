"""Reports of a real run: the embedded student, the fewshot proposer, a tiny budget (run once per
session). The HTML is opened in a real headless chromium: every image must load and the tables must
hold the run's numbers."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from smolgepa.optimize import OptimizeConfig, optimize
from smolgepa.optimize.rundir import RunDir
from smolgepa.report import build_report, render_html, render_markdown, write_html
from smolgepa.evaluation.stats import format_accuracy

pytestmark = pytest.mark.slow  # one real optimization run for the module's session fixture

CHROMIUM = Path("/usr/bin/chromium")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MARK_IMAGES = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const ok = images.filter((image) => image.complete && image.naturalWidth > 0).length;
  document.body.dataset.imagesOk = ok + "/" + images.length;
});
</script>"""


@pytest.fixture(scope="session")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run: seed + 2 proposals (rejected ones scored on validation too) + test split."""
    path = tmp_path_factory.mktemp("report") / "run"
    optimize(OptimizeConfig(task="sentiment", budget=40, max_proposals=2, eval_every_proposal=True,
                            run_dir=str(path)))
    return path


@pytest.fixture(scope="session")
def summary(real_run: Path) -> dict:
    return RunDir(real_run).read_summary()


def expected_numbers(summary: dict) -> list[str]:
    """Every accuracy the run recorded, formatted with n and its interval."""
    texts = [format_accuracy(summary["seed"]["val"]["correct"], summary["seed"]["val"]["n"])]
    texts += [format_accuracy(r["val"]["correct"], r["val"]["n"]) for r in summary["iterations"] if r.get("val")]
    texts += [format_accuracy(summary["test"][w]["correct"], summary["test"][w]["n"]) for w in ("seed", "best")]
    return texts


class Page(HTMLParser):
    """Tables (by data-table), images and the body's data attributes of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[dict[str, str]] = []
        self.body: dict[str, str] = {}
        self.links: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._table = values.get("data-table", f"table{len(self.tables)}")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "img":
            self.images.append(values)
        elif tag == "body":
            self.body = values
        for name in ("src", "href"):
            if name in values:
                self.links.append(values[name])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def test_markdown_holds_every_recorded_accuracy(real_run: Path, summary: dict) -> None:
    markdown = render_markdown(build_report(real_run))
    for text in expected_numbers(summary):
        assert text in markdown
    assert len(summary["iterations"]) >= 1
    baseline = f"{100 * summary['seed']['val']['accuracy']:.1f}%"
    assert re.search(r"\| Baseline +\|", markdown) and baseline in markdown
    assert summary["best"]["instruction"].splitlines()[0] in markdown


def test_html_is_self_contained(real_run: Path) -> None:
    html = render_html(build_report(real_run))
    page = parse(html)
    assert len(page.images) == 4, "val per iteration, length vs accuracy, confusion, label distribution"
    for image in page.images:
        assert image["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(image["src"].split(",", 1)[1]).startswith(PNG_MAGIC)
        assert image["alt"]
    assert not [link for link in page.links if not link.startswith(("#", "data:"))]
    assert not re.search(r"https?://", re.sub(r"<pre>.*?</pre>|<p>.*?</p>|<li>.*?</li>", "", html, flags=re.S))
    assert "<script" not in html and "<link" not in html and "@import" not in html


def test_cli_report_writes_html_markdown_and_plots(real_run: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smolgepa.cli", "report", str(real_run), "--html", str(tmp_path / "r.html"),
         "--md", str(tmp_path / "r.md"), "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"html": str(tmp_path / "r.html"), "markdown": str(tmp_path / "r.md")}
    markdown = (tmp_path / "r.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert len(links) == 4
    for link in links:
        assert (tmp_path / link).read_bytes().startswith(PNG_MAGIC)


def test_cli_report_refuses_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "smolgepa.cli", "report", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "neither a run directory" in result.stderr and "Traceback" not in result.stderr


def test_report_of_a_run_caught_mid_way(real_run: Path, summary: dict, tmp_path: Path) -> None:
    """The state a killed run leaves: summary as of iteration 1 (status running), a cut-off last event line."""
    copy = tmp_path / "run"
    shutil.copytree(real_run, copy)
    partial = {**summary, "status": "running", "iterations": summary["iterations"][:1]}
    partial.pop("test")
    RunDir(copy).write_summary({k: v for k, v in partial.items() if k != "schema_version"})
    events = (copy / "events.jsonl").read_bytes()
    (copy / "events.jsonl").write_bytes(events[: len(events) - 40])
    markdown = render_markdown(build_report(copy))
    assert "status: running" in markdown and "--resume" in markdown
    assert "(not evaluated yet)" in markdown


def chromium_or_skip() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"{CHROMIUM} is missing: run scripts/setup-browser (installs Debian's chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " -- in CI the browser test must run")
    pytest.skip(message)


def with_test_script(page: str, script: str) -> str:
    """The page with the test's own `<script>` added and allowed by its hash; the rest of the report's
    Content-Security-Policy (no other script, the stylesheet by hash, data: images only) stays in force."""
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert policy is not None, "the report has no Content-Security-Policy"
    assert "script-src 'none'" in [d.strip() for d in policy.group(1).split(";")], policy.group(1)
    code = script.strip().removeprefix("<script>").removesuffix("</script>")
    digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
    return page.replace("script-src 'none'", f"script-src 'sha256-{digest}'").replace("</body>", script.strip() + "</body>")


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    command = [str(chromium_or_skip()), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def test_browser_loads_every_image_and_shows_the_numbers(real_run: Path, summary: dict, tmp_path: Path) -> None:
    chromium_or_skip()
    report = write_html(build_report(real_run), tmp_path / "report.html")
    marked = tmp_path / "marked.html"
    marked.write_text(with_test_script(report.read_text(), MARK_IMAGES))
    result = chromium("--virtual-time-budget=10000", "--dump-dom", marked.as_uri(), profile=tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    page = parse(result.stdout)
    assert page.body.get("data-images-ok") == "4/4", f"images loaded: {page.body}"

    rows = page.tables["summary"]
    assert rows[0] == ["split", "Baseline (seed)", "After (best)", "Change"]
    val_row, test_row = rows[1], rows[2]
    assert val_row[1] == format_accuracy(summary["seed"]["val"]["correct"], summary["seed"]["val"]["n"])
    assert val_row[2] == format_accuracy(summary["best"]["val"]["correct"], summary["best"]["val"]["n"])
    assert test_row[1] == format_accuracy(summary["test"]["seed"]["correct"], summary["test"]["seed"]["n"])
    assert test_row[2] == format_accuracy(summary["test"]["best"]["correct"], summary["test"]["best"]["n"])
    iterations = page.tables["iterations"]
    assert len(iterations) == 2 + len(summary["iterations"])  # header, seed, one row per iteration
    for row, record in zip(iterations[2:], summary["iterations"]):
        assert row[0] == str(record["iteration"]) and record["status"] in row[2]
        if record.get("val"):
            assert row[4] == format_accuracy(record["val"]["correct"], record["val"]["n"])

    shot = tmp_path / "shot.png"
    result = chromium("--window-size=1200,2400", f"--screenshot={shot}", report.as_uri(), profile=tmp_path / "profile")
    assert result.returncode == 0 and shot.read_bytes().startswith(PNG_MAGIC)
    from matplotlib.image import imread

    pixels = imread(str(shot))
    assert pixels.std() > 0.05, "the screenshot is blank"
