"""Every Python code block of the README and of the documentation's pages runs, in order, in
one namespace per page, with a FutureWarning an error (so the pages cannot drift from the
code, nor teach a spelling that is going away). The gallery's examples run when the site
is built (``make docs``)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted(
    p for p in (ROOT / "docs").rglob("*.md") if p.parts[len(ROOT.parts) + 1] not in
    ("_build", "api", "auto_examples", "results")
)  # fmt: skip


def _blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


def test_the_pages_teach_by_example() -> None:
    assert len(_blocks(ROOT / "README.md")) >= 1
    assert sum(len(_blocks(p)) for p in PAGES) >= 20


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_python_block_runs(page, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for i, block in enumerate(_blocks(page)):
        where = f"{page.relative_to(ROOT)} python block {i + 1}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", FutureWarning)
                exec(compile(block, where, "exec"), namespace)
        except Exception as err:  # pragma: no cover - the message says which block failed
            raise AssertionError(f"{where} failed:\n{block}") from err
