"""The built site (``make docs`` builds it, then runs these): a page for every public name
with its docstring's sections, every gallery example with the figure the build drew, the
guide's pages with the gallery's pictures, and the results pages with tables read from
their CSV files."""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
SITE = DOCS / "_build" / "html"
sys.path.insert(0, str(DOCS))

from api_names import DATA_DOCS, is_documented_object, public_names  # noqa: E402

if not (SITE / "index.html").exists():
    raise RuntimeError(f"no site at {SITE}: these tests read the built pages (make docs)")
EXAMPLES = sorted(p.stem for p in (DOCS / "examples").glob("plot_*.py"))


def _page(path: str) -> str:
    return (SITE / path).read_text()


def test_every_public_name_has_its_page() -> None:
    names = list(public_names())
    assert len(names) > 90
    for module, name, obj in names:
        if is_documented_object(obj):
            page = _page(f"api/generated/{module}.{name}.html")
            assert f'id="{module}.{name}"' in page, (module, name)
        else:
            page = _page(f"api/{module}.html")
            text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())
            text = text.replace("\u2019", "'")  # the site's typographic apostrophe
            described = re.sub(r":\w+:`~?([^`]+)`", r"\1()", DATA_DOCS[f"{module}.{name}"])
            described = described.replace("``", "")
            assert f'id="{module}.{name}"' in page and described[:20] in text, (module, name)


def test_docstring_sections_are_rendered() -> None:
    page = _page("api/generated/hsmix_torch.HSMix.html")
    for section in ("Parameters", "Returns", "Raises", "Example"):
        assert section in page, section
    assert "make_params" in page and "mix_structure" in page  # the methods, documented


def test_the_gallery_ran_and_shows_its_figures() -> None:
    assert len(EXAMPLES) >= 8
    for stem in EXAMPLES:
        page = _page(f"auto_examples/{stem}.html")
        images = re.findall(rf'src="(\.\./_images/sphx_glr_{stem}_\d+\.png)"', page)
        assert images, stem
        for image in images:
            assert (SITE / "auto_examples" / image).stat().st_size > 5_000, image
    options = _page("guide/options.html")
    assert len(re.findall(r"sphx_glr_plot_options_00\d\.png", options)) == 5


def test_results_pages_render_their_csv_tables() -> None:
    index = _page("results/index.html")
    pages = re.findall(r'href="([a-z0-9_]+\.html)"', index)
    assert len(set(pages)) >= 12
    static = _page("results/gpu_static.html")
    assert "<table" in static and "round_kernel" in static and "131072" in static
    assert "From benchmarks/results/gpu_report_variants.csv" in static
    assert re.search(r"<img[^>]+hsmix_cpu-1-[0-9a-f]+\.png", _page("results/hsmix_cpu.html"))
