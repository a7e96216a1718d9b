"""Sphinx configuration: MyST pages, the API reference generated from the docstrings of every
public name (``api_names.py``), the gallery executed at build time (sphinx-gallery), the
results pages rendered from the CSV files in ``benchmarks/results`` (``_ext/results.py``).
Built offline with warnings as errors: ``make docs``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE), str(HERE / "_ext")]
os.environ.setdefault("MPLBACKEND", "Agg")

from api_names import API_MODULES, DATA_DOCS, is_documented_object, public_names  # noqa: E402

import hsmix_torch  # noqa: E402

project = "hsmix_torch"
author = "the hsmix_torch developers"
copyright = "2026, the hsmix_torch developers"  # noqa: A001 (Sphinx's name)
release = version = hsmix_torch.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx_gallery.gen_gallery",
    "results",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = [
    "_build",
    "examples",
    "tests",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "**.md5",
]
templates_path = ["_templates"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autoclass_content = "class"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = [("Shapes", "params_style")]
napoleon_use_ivar = True  # Attributes as fields, not objects (named tuples list them too)

html_theme = "furo"
html_title = f"hsmix_torch {release}"
html_static_path: list[str] = []
html_last_updated_fmt = ""  # reproducible pages

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
}


def _api_pages(app: object, config: object) -> None:
    """One page per API module, an autosummary of its public names (each its own page)."""
    out = HERE / "api"
    out.mkdir(exist_ok=True)
    by_module: dict[str, list[str]] = {m: [] for m in API_MODULES}
    data: dict[str, list[tuple[str, object]]] = {m: [] for m in API_MODULES}
    for module, name, obj in public_names():
        if is_documented_object(obj):
            by_module[module].append(name)
        else:
            data[module].append((name, obj))
    for module, names in by_module.items():
        title = f"``{module}``"
        lines = [title, "=" * len(title), "", f".. automodule:: {module}", "   :no-members:", ""]
        if names:
            lines += [".. autosummary::", "   :toctree: generated", "   :nosignatures:", ""]
            lines += [f"   {n}" for n in names] + [""]
        for name, value in data[module]:
            shown = repr(value).replace("\n", " ")
            lines += [
                f".. py:data:: {name}",
                f"   :value: {shown}",
                "",
                f"   {DATA_DOCS[f'{module}.{name}']}",
                "",
            ]
        (out / f"{module}.rst").write_text("\n".join(lines) + "\n")
    index = [
        "# API reference",
        "",
        "Every public name, from its docstring: the names in the",
        "``__all__`` of these modules.",
        "",
        "```{toctree}",
        ":maxdepth: 1",
        "",
    ]
    index += list(API_MODULES) + ["```"]
    (out / "index.md").write_text("\n".join(index) + "\n")


def setup(app: object) -> None:
    # Before the sources are found: autosummary then writes a page for each name listed.
    app.connect("config-inited", _api_pages)  # type: ignore[attr-defined]
