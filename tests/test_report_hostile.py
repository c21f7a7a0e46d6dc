"""Hostile text in the HTML report, opened in a real headless chromium: a real `optimize` run on a task
whose seed instruction and inputs carry HTML/JS, with a `cmd:` reflection model (a real process) that
answers with more of it. No script may run (each payload marks the page if it does, and the browser's
DOM is read back), and every payload must still be shown as text."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from smolgepa.report.html import STYLE
from test_report import chromium, chromium_or_skip, parse, with_test_script

pytestmark = pytest.mark.slow

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
PWN = "document.documentElement.dataset.pwned"
PAYLOADS = (
    f"<script>{PWN}='script';document.title='pwned'</script>",
    f"<img src=x onerror=\"{PWN}='img'\">",
    f"<a href=\"javascript:void({PWN}='link')\">open</a>",
    f"</pre><script>{PWN}='pre'</script><pre>",
    f"</code><svg onload=\"{PWN}='svg'\"></svg>`<b>`",
)
# The seed (from the task file) carries a task input in its Examples block; the reflection model's answer
# carries the rest. Scored decoding and examples all labelled `unhappy` make the proposal win, so the
# report shows both instructions (the best one and its diff against the seed).
SEED = ("Always answer pleased. " + PAYLOADS[0] + "\nExamples:\nText: " + PAYLOADS[3] + "\nLabel: pleased")
REFLECTION = """
import sys
sys.stdin.read()
payloads = {payloads!r}
print("```")
print("Always answer unhappy. " + payloads[1] + " " + payloads[2])
print("Examples:")
for text in (payloads[4], "Sure.", "Fine."):
    print("Text: " + text)
    print("Label: unhappy")
print("```")
"""
# The test's own probe: clicks every link (a `javascript:` href would run), then says what it saw.
PROBE = ("<script>for(const a of document.querySelectorAll('a'))a.click();"
         "const i=Array.from(document.images);document.body.dataset.probe=JSON.stringify({"
         "images:i.filter(x=>x.complete&&x.naturalWidth>0).length+'/'+i.length,"
         "maxWidth:getComputedStyle(document.body).maxWidth,title:document.title})</script>")


def hostile_task(directory: Path) -> Path:
    """A two-label task whose inputs carry the payloads; all but one are `unhappy`."""
    rows = [(f"h{i}", f"Sure. {PAYLOADS[i % len(PAYLOADS)]}", "pleased" if i == 0 else "unhappy",
             "train" if i < 6 else ("val" if i < 10 else "test")) for i in range(14)]
    data = directory / "hostile.jsonl"
    data.write_text("".join(json.dumps({"id": i, "text": t, "label": lab, "split": s}) + "\n" for i, t, lab, s in rows))
    task = directory / "hostile.yaml"
    task.write_text("name: hostile\ndescription: Hostile text.\ninput: text\nlabels:\n  pleased: the writer is pleased\n"
                    f"  unhappy: the writer is not\ndata: hostile.jsonl\ninstruction: {json.dumps(SEED)}\n")
    return task


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chromium_or_skip()
    directory = tmp_path_factory.mktemp("hostile")
    reflection = directory / "reflect.py"
    reflection.write_text(REFLECTION.format(payloads=PAYLOADS))
    run_dir = directory / "run"
    subprocess.run([*SMOLGEPA, "optimize", "--task", str(hostile_task(directory)), "--budget", "20",
                    "--max-proposals", "1", "--eval-every-proposal", "--decode", "scored", "--quiet",
                    "--reflection", f"cmd:{sys.executable} {reflection}", "--run-dir", str(run_dir)],
                   check=True, capture_output=True, timeout=900)
    assert "Always answer unhappy" in (run_dir / "best_instruction.txt").read_text(), "the proposal did not win"
    report = directory / "report.html"
    subprocess.run([*SMOLGEPA, "report", str(run_dir), "--html", str(report)], check=True, capture_output=True)
    return report


def page_text(dom: str) -> str:
    """The text a reader sees: tags removed, entities decoded (what the browser's DOM holds as text)."""
    import html

    return html.unescape(re.sub(r"<[^>]*>", "", dom))


def open_in_chromium(html_text: str, tmp_path: Path) -> tuple[dict[str, str], str]:
    """Open the page in chromium, check no payload marked it, and return what the probe saw and the DOM."""
    page_file = tmp_path / "page.html"
    page_file.write_text(html_text)
    result = chromium("--virtual-time-budget=5000", "--dump-dom", page_file.as_uri(), profile=tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    root = re.search(r"<html[^>]*>", result.stdout)
    assert root is not None and "data-pwned" not in root.group(0), f"a payload ran: {root}"
    body = parse(result.stdout).body
    assert "data-probe" in body, "the test's probe did not run: the page was replaced or broken"
    return json.loads(body["data-probe"]), result.stdout


def test_escaped_payloads_do_not_run_and_are_shown(hostile_report: Path, tmp_path: Path) -> None:
    """Escaping alone (the policy taken out): nothing runs, every payload reads as text."""
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", hostile_report.read_text())
    probe, dom = open_in_chromium(text.replace("</body>", PROBE + "</body>"), tmp_path)
    assert probe["title"] != "pwned" and probe["maxWidth"] == "1100px"
    shown = page_text(dom)
    for payload in PAYLOADS:
        assert payload.replace("`", "") in shown.replace("`", ""), f"not shown: {payload}"


def test_the_policy_stops_unescaped_payloads_and_keeps_the_report_working(hostile_report: Path,
                                                                          tmp_path: Path) -> None:
    """As if escaping had failed: the raw payloads are pasted into the page; the policy stops every one,
    while the report's stylesheet and its plots (data: images) still load."""
    text = with_test_script(hostile_report.read_text(), PROBE).replace("<body>", "<body>" + "".join(PAYLOADS))
    probe, _ = open_in_chromium(text, tmp_path)
    assert probe["title"] != "pwned"
    assert probe["maxWidth"] == "1100px"  # the report's own stylesheet applies
    loaded, total = probe["images"].split("/")
    assert int(total) >= 2 and loaded == str(int(total) - 1)  # every plot; the payload's img src=x does not load


def test_the_style_hash_matches_the_stylesheet(hostile_report: Path) -> None:
    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in hostile_report.read_text()
