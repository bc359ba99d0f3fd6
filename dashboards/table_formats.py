"""A Table (``dashboards/tables.py``) rendered as markdown, CSV and LaTeX; the HTML report renders
the same Table in ``dashboards/report.py``. Notes are written out in full, never shortened."""
from __future__ import annotations

from pathlib import Path

from dashboards.tables import Table


def markdown(table: Table) -> str:
    lines = [f"## {table.title}", "", "| " + " | ".join(table.header) + " |",
             "|" + "|".join("---" for _ in table.header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in table.cells]
    return "\n".join(lines) + "\n\n" + "".join(f"- {note.text}\n" for note in table.notes)


def latex(table: Table) -> str:
    def esc(text: object) -> str:
        text = str(text)
        for char, repl in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#"),
                           ("±", r"$\pm$"), ("–", "--")):
            text = text.replace(char, repl)
        return text

    body = [" & ".join(esc(v) for v in row) + r" \\" for row in table.cells]
    return "\n".join([r"\begin{table}[t]", r"\centering", rf"\caption{{{esc(table.title)}}}",
                      r"\begin{tabular}{" + "l" * len(table.header) + "}", r"\toprule",
                      " & ".join(esc(c) for c in table.header) + r" \\", r"\midrule", *body,
                      r"\bottomrule", r"\end{tabular}", r"\end{table}", ""])


def write_all(table: Table, folder: Path) -> str:
    """table.json (the data), table.md, table.csv (the numbers) and table.tex; return the markdown."""
    table.save(folder)
    text = markdown(table)
    (folder / "table.md").write_text(text)
    table.frame().to_csv(folder / "table.csv", index=False)
    (folder / "table.tex").write_text(latex(table))
    return text
