"""Sphinx directives for the results pages: tables and plots made from the CSV files the
benchmark scripts write, kept in ``benchmarks/results`` (nothing on the pages is typed by
hand).

``.. results-table:: bench_hsmix_cpu.csv`` renders a CSV as a table (``:columns:`` picks and
orders columns, ``:where: column=value`` keeps matching rows); ``.. results-plot::`` draws a
line per ``:group:`` of ``:y:`` against ``:x:`` into the built site.
"""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
PLOTS = Path(__file__).resolve().parents[1] / "_generated"

__all__ = ["read_rows", "setup"]


def read_rows(name: str, where: str | None = None) -> tuple[list[str], list[dict[str, str]]]:
    """The columns and rows of ``benchmarks/results/<name>``, keeping rows whose
    ``column=value`` pairs (``;``-separated) match ``where``."""
    with (RESULTS / name).open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = list(reader.fieldnames or [])
    for cond in (where or "").split(";"):
        if cond.strip():
            key, _, value = cond.partition("=")
            rows = [r for r in rows if r.get(key.strip()) == value.strip()]
    return columns, rows


_INLINE = re.compile(r"(\*\*[^*]+\*\*|`[^`]+`)")


def _paragraph(text: str) -> nodes.paragraph:
    """A cell: numbers shortened, ``**bold**`` and ```code``` as the Markdown they were."""
    para = nodes.paragraph()
    for part in _INLINE.split(_number(text)):
        if part.startswith("**") and part.endswith("**") and len(part) > 4:
            para += nodes.strong(text=part[2:-2])
        elif part.startswith("`") and part.endswith("`") and len(part) > 2:
            para += nodes.literal(text=part[1:-1])
        elif part:
            para += nodes.Text(part)
    return para


def _number(text: str) -> str:
    """A float written with more digits than a table needs, to four significant ones."""
    try:
        value = float(text)
    except ValueError:
        return text
    return f"{value:.4g}" if "." in text and len(text) > 7 else text


class ResultsTable(Directive):
    required_arguments = 1
    option_spec = {"columns": directives.unchanged, "where": directives.unchanged,
                   "caption": directives.unchanged}  # fmt: skip

    def run(self) -> list[nodes.Node]:
        columns, rows = read_rows(self.arguments[0], self.options.get("where"))
        if "columns" in self.options:
            columns = [c.strip() for c in self.options["columns"].split(",")]
        table = nodes.table()
        if "caption" in self.options:
            table += nodes.title(text=self.options["caption"])
        group = nodes.tgroup(cols=len(columns))
        table += group
        for _ in columns:
            group += nodes.colspec(colwidth=1)
        head, body = nodes.thead(), nodes.tbody()
        group += head
        group += body
        for cells, part in [(columns, head)] + [([r.get(c, "") for c in columns], body)
                                                for r in rows]:  # fmt: skip
            row = nodes.row()
            for cell in cells:
                entry = nodes.entry()
                entry += _paragraph(cell)
                row += entry
            part += row
        source = nodes.paragraph()
        source += nodes.emphasis(text=f"From benchmarks/results/{self.arguments[0]}.")
        return [table, source]


class ResultsPlot(Directive):
    required_arguments = 1
    option_spec = {"x": directives.unchanged_required, "y": directives.unchanged_required,
                   "group": directives.unchanged, "where": directives.unchanged,
                   "title": directives.unchanged, "logx": directives.flag,
                   "ylabel": directives.unchanged}  # fmt: skip

    def run(self) -> list[nodes.Node]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        name, opts = self.arguments[0], self.options
        _, rows = read_rows(name, opts.get("where"))
        groups: dict[str, list[tuple[float, float]]] = {}
        for r in rows:
            key = r.get(opts["group"], "") if "group" in opts else opts["y"]
            try:
                groups.setdefault(key, []).append((float(r[opts["x"]]), float(r[opts["y"]])))
            except ValueError:
                continue  # a cell with no number (not measured)
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for key, points in groups.items():
            points.sort()
            ax.plot(*zip(*points, strict=True), marker="o", label=key)
        ax.set_xlabel(opts["x"])
        ax.set_ylabel(opts.get("ylabel", opts["y"]))
        if "logx" in opts:
            ax.set_xscale("log", base=2)
        if "title" in opts:
            ax.set_title(opts["title"])
        if len(groups) > 1:
            ax.legend(fontsize=8)
        fig.tight_layout()
        digest = hashlib.sha1(repr((name, sorted(opts.items()))).encode()).hexdigest()[:12]
        PLOTS.mkdir(exist_ok=True)
        path = PLOTS / f"{Path(name).stem}-{digest}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        # A path from the documentation's root, which Sphinx copies into the site.
        return [nodes.image(uri=f"/_generated/{path.name}", alt=opts.get("title", name))]


def setup(app: object) -> dict[str, object]:
    app.add_directive("results-table", ResultsTable)  # type: ignore[attr-defined]
    app.add_directive("results-plot", ResultsPlot)  # type: ignore[attr-defined]
    return {"parallel_read_safe": True, "version": "1"}
