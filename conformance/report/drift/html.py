"""drift.html: the Markdown report as one self-contained page, its trend drawn as an inline SVG chart.

No script, font or style sheet is fetched: owners open it from a job's artefacts, offline.
"""

from __future__ import annotations

import html
import re
from typing import Any

import markdown as markdown_lib

from conformance.report.drift.markdown import counted, run_labels

CHART_MARK = "EVERMUSE-TREND-CHART"
WIDTH, HEIGHT, PAD = 640, 220, 40
STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1100px;
       padding: 0 1em; color: #1f2328; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; white-space: pre-wrap; }
details { margin: 0.3em 0; }
summary { cursor: pointer; }
strong { font-size: 1.1em; }
svg text { font: 11px system-ui, sans-serif; fill: #57606a; }
"""


def trend_svg(history: list[dict[str, Any]]) -> str:
    """MUST and SHOULD rules broken per run, as lines over the kept runs."""
    if not history:
        return ""
    top = max([1] + [max(run["must"], run["should"]) for run in history])
    span = max(1, len(history) - 1)

    def x(position: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * (position / span if len(history) > 1 else 0.5)

    def y(value: int) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * value / top

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
             f'aria-label="Rules broken per run">',
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#8c959f"/>',
             f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#8c959f"/>',
             f'<text x="{PAD - 8}" y="{y(top) + 4}" text-anchor="end">{top}</text>',
             f'<text x="{PAD - 8}" y="{y(0) + 4}" text-anchor="end">0</text>']
    for series, colour in (("must", "#cf222e"), ("should", "#bf8700")):
        points = " ".join(f"{x(n):.1f},{y(run[series]):.1f}" for n, run in enumerate(history))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        parts += [f'<circle cx="{x(n):.1f}" cy="{y(run[series]):.1f}" r="3.5" fill="{colour}">'
                  f'<title>{html.escape(run["started_at"][:10])}: {run[series]} {series.upper()}</title></circle>'
                  for n, run in enumerate(history)]
    step = max(1, len(history) // 10)
    parts += [f'<text x="{x(n):.1f}" y="{HEIGHT - PAD + 16}" text-anchor="middle">{html.escape(label)}</text>'
              for n, label in enumerate(run_labels(history)) if n % step == 0]
    parts += [f'<rect x="{WIDTH - 170}" y="8" width="10" height="10" fill="#cf222e"/>',
              f'<text x="{WIDTH - 155}" y="17">MUST rules broken</text>',
              f'<rect x="{WIDTH - 170}" y="24" width="10" height="10" fill="#bf8700"/>',
              f'<text x="{WIDTH - 155}" y="33">SHOULD rules broken</text>', "</svg>"]
    return "".join(parts)


def render_html(report: dict[str, Any], markdown_text: str) -> str:
    """The page: the Markdown's content, with the Mermaid chart drawn as SVG in its place."""
    text = re.sub(r"```mermaid\n.*?```\n", f"{CHART_MARK}\n", markdown_text, flags=re.DOTALL)
    # Markdown inside the collapsed details is converted too.
    text = text.replace("<details><summary>", '<details markdown="1"><summary>')
    body = markdown_lib.markdown(text, extensions=["tables", "fenced_code", "md_in_html"], output_format="html")
    # The runs the Markdown's chart draws: those checked to the end.
    body = body.replace(f"<p>{CHART_MARK}</p>", f'<figure>{trend_svg(counted(report.get("history", [])))}</figure>')
    title = html.escape(f"Evermuse Ingestion API: spec drift on {report['provenance']['started_at'][:10]}")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")
