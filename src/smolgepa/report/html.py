"""Render a report as one self-contained HTML file: inline CSS, plots as data: URIs, no scripts,
nothing fetched from anywhere.

Every text from a run (task inputs, model answers, instructions) is escaped, and a Content-Security-Policy
forbids what escaping should already prevent: no script of any kind runs (inline, event handlers,
`javascript:` links), nothing is loaded from anywhere, and only the report's own stylesheet (by its
hash) and `data:` images are used. A report opened from a mail or a shared folder stays inert."""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
from pathlib import Path

from smolgepa.jsonfiles import write_text_atomic
from smolgepa.report.parts import Bullets, Code, Diff, Image, Paragraph, Part, Report, Table
from smolgepa.report.plots import data_uri

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1100px;margin:2rem auto;
padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.3rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
h3{font-size:1.05rem;margin-top:1.4rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.table{overflow-x:auto;margin:.6rem 0}.caption{color:#666;font-size:.78rem;margin:.1rem 0 .8rem}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:.6rem;overflow-x:auto;font-size:.8rem;white-space:pre-wrap}
code{background:#f3f3f3;padding:0 .2rem;border-radius:3px;font-size:.85em}
.diff .add{background:#e6ffed;color:#116329;display:block}.diff .del{background:#ffebe9;color:#82071e;display:block}
.diff .hunk{color:#6f42c1;display:block}
figure{margin:.8rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#666;font-size:.8rem}
nav ul{columns:2;font-size:.85rem}
"""


def content_security_policy(style: str = STYLE) -> str:
    """The report's policy: no scripts, no requests, only its own stylesheet and inline (data:) images."""
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; script-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
            "base-uri 'none'; form-action 'none'")


def _inline(text: str) -> str:
    """Escape text; `code` spans become <code>."""
    escaped = html.escape(text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def _table(part: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in part.headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in part.rows)
    caption = f'<p class="caption">{_inline(part.caption)}</p>' if part.caption else ""
    name = f' data-table="{html.escape(part.name)}"' if part.name else ""
    return f'<div class="table"><table{name}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{caption}</div>'



def _diff(part: Diff) -> str:
    lines = []
    for line in part.lines:
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "")
        text = html.escape(line) or "&nbsp;"
        lines.append(f'<span class="{kind}">{text}</span>' if kind else text + "\n")
    return '<pre class="diff">' + "".join(lines) + "</pre>"


def _part(part: Part) -> str:
    if isinstance(part, Paragraph):
        return f"<p>{_inline(part.text)}</p>"
    if isinstance(part, Bullets):
        return "<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in part.items) + "</ul>"
    if isinstance(part, Table):
        return _table(part)
    if isinstance(part, Code):
        return f"<pre>{html.escape(part.text)}</pre>"
    if isinstance(part, Diff):
        return _diff(part)
    if isinstance(part, Image):
        title = html.escape(part.title)
        return (f'<figure><img src="{data_uri(part.png)}" alt="{title}" data-plot="{html.escape(part.name)}">'
                f"<figcaption>{title}</figcaption></figure>")
    raise TypeError(f"unknown report part {type(part).__name__}")


def render_html(report: Report) -> str:
    """The report as one HTML document that needs nothing but itself."""
    top = [s for s in report.sections if s.level <= 1]
    listed = top if len(top) > 2 else [s for s in report.sections if s.level <= 2]
    toc = "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in listed)
    body = []
    for section in report.sections:
        level = min(section.level + 1, 6)
        body.append(f'<section id="{section.anchor}"><h{level}>{html.escape(section.title)}</h{level}>')
        body.extend(_part(part) for part in section.parts)
        body.append("</section>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(report.title)}</title><style>{STYLE}</style></head>\n<body>"
        f"<h1>{html.escape(report.title)}</h1><nav><ul>{toc}</ul></nav>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_html(report: Report, path: str | Path) -> Path:
    """Write the report as a self-contained HTML file (atomically). Returns the path."""
    target = Path(path)
    write_text_atomic(target, render_html(report))
    _readable(target)
    return target


def _readable(path: Path) -> None:
    """A report is for sharing: the usual file mode (the atomic writer's temporary file is owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(0o666 & ~umask)
