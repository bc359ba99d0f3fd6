"""Self-contained HTML pages: inline CSS, a little vanilla JS (sortable and filterable tables),
images as data URIs, and a Content-Security-Policy that forbids the page any request, so it
opens from disk with no server and no web access."""
from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any, Iterable

MIME = {".svg": "image/svg+xml", ".png": "image/png"}
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

CSS = """
:root { --fg: #1d2330; --muted: #5d6675; --line: #dde1e7; --head: #f3f5f8; --accent: #2457c5;
        --paper: #fdf1ef; --dev: #c98a00; --bad: #b3261e; --good: #1e7d32; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); background: #fff; }
main { max-width: 1280px; margin: 0 auto; padding: 20px 28px 60px; }
h1 { font-size: 24px; margin: 0 0 2px; } h1 small { font-weight: normal; color: var(--muted); font-size: 15px; }
h2 { font-size: 18px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p.sub { margin: 0 0 10px; color: var(--muted); }
ul.chips { list-style: none; padding: 0; margin: 8px 0; display: flex; flex-wrap: wrap; gap: 6px; }
ul.chips li { background: var(--head); border: 1px solid var(--line); border-radius: 12px; padding: 2px 10px; }
ul.chips li.warn { background: #fff4d6; border-color: #e8c766; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; white-space: nowrap; }
th { background: var(--head); position: sticky; top: 0; z-index: 1; }
td.num, th.num { text-align: right; } td.msg { white-space: normal; min-width: 280px; max-width: 560px; }
th.paper, td.paper { background: var(--paper); }
tr.sel td { font-weight: 600; background: #eaf1ff; }
tr.failed td, tr.error td { color: var(--bad); } tr.stopped_early td, tr.unfinished td { color: var(--muted); }
td.pos { color: var(--good); } td.neg { color: var(--bad); }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort=ascending]::after { content: " \\25B2"; }
table.sortable th[aria-sort=descending]::after { content: " \\25BC"; }
.scroll { max-height: 75vh; overflow: auto; border: 1px solid var(--line); }
ul.notes { padding-left: 18px; max-width: 1100px; } ul.notes li { margin: 3px 0; }
ul.notes li.dev { list-style: none; margin-left: -18px; padding-left: 12px; border-left: 3px solid var(--dev); }
ul.notes li.fail { color: var(--bad); } ul.notes li.differs { background: #fff4d6; }
.wide { overflow-x: auto; }
figure { margin: 10px 0 18px; } figure img { max-width: 100%; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 12px; }
.filter { margin: 6px 0; } .filter input { width: 320px; padding: 4px 8px; }
.runs { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 12px; }
.runs section { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
code, pre, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
pre { background: var(--head); padding: 10px; overflow: auto; max-height: 480px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; } dt { color: var(--muted); }
dd { margin: 0; }
"""

JS = """
function sortKey(td) {
  const raw = td.dataset.v !== undefined ? td.dataset.v : td.textContent.trim();
  const num = parseFloat(raw);
  return raw === "" || raw === "\\u2013" ? null : (isNaN(num) ? raw.toLowerCase() : num);
}
document.querySelectorAll("table.sortable").forEach(table => {
  table.querySelectorAll("thead th").forEach((th, col) => th.addEventListener("click", () => {
    const asc = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("thead th").forEach(h => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    const body = table.tBodies[0];
    const rows = [...body.rows].map(row => [sortKey(row.cells[col]), row]);
    rows.sort(([a], [b]) => a === null ? (b === null ? 0 : 1) : b === null ? -1
                            : (a < b ? -1 : a > b ? 1 : 0) * (asc ? 1 : -1));
    rows.forEach(([, row]) => body.appendChild(row));
  }));
});
document.querySelectorAll("input[data-filter]").forEach(input => {
  const table = document.getElementById(input.dataset.filter);
  const count = document.querySelector(`[data-count="${input.dataset.filter}"]`);
  const apply = () => {
    const terms = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    let shown = 0;
    for (const row of table.tBodies[0].rows) {
      const text = row.textContent.toLowerCase();
      row.hidden = !terms.every(term => text.includes(term));
      shown += !row.hidden;
    }
    count.textContent = `${shown} of ${table.tBodies[0].rows.length}`;
  };
  input.addEventListener("input", apply);
  apply();
});
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image(data: bytes, mime: str, caption: str) -> str:
    return (f'<figure><img src="{data_uri(data, mime)}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def image_file(path: Path) -> str:
    return image(path.read_bytes(), MIME[path.suffix], path.name)


class Cell:
    """A table cell: the text shown, the value it sorts by, its CSS class."""

    def __init__(self, text: Any, sort: Any = None, cls: str = "") -> None:
        self.text, self.sort, self.cls = text, sort, cls

    def html(self) -> str:
        sort = "" if self.sort is None or is_missing(self.sort) else f' data-v="{esc(self.sort)}"'
        cls = f' class="{self.cls}"' if self.cls else ""
        return f"<td{cls}{sort}>{esc(self.text)}</td>"


def table(header: list[str], rows: Iterable[tuple[str, list[Cell]]], table_id: str = "", sortable: bool = False,
          header_classes: list[str] | None = None) -> str:
    """A table from its header and (row class, cells) pairs."""
    classes = header_classes or [""] * len(header)
    head = "".join(f'<th class="{c}">{esc(h)}</th>' if c else f"<th>{esc(h)}</th>" for h, c in zip(header, classes))
    body = "".join(f'<tr class="{cls}">' + "".join(cell.html() for cell in cells) + "</tr>" for cls, cells in rows)
    attrs = (f' id="{table_id}"' if table_id else "") + (' class="sortable"' if sortable else "")
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def number(value: Any, scale: float = 1.0, digits: int = 1) -> Cell:
    """A numeric cell shown with ``digits`` decimals after ``scale`` (fractions -> percent)."""
    if is_missing(value):
        return Cell("–", cls="num")
    try:
        scaled = float(value) * scale
    except (TypeError, ValueError):
        return Cell(value)
    return Cell(f"{scaled:.{digits}f}", scaled, "num")


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n"
            f"<body><main>\n{body}\n</main><script>{JS}</script></body></html>\n")


def write(path: Path, text: str) -> Path:
    """Write a page atomically: a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
