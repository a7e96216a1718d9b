"""Every Python code block of the README runs, in order, in one namespace (so the README
cannot drift from the code)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_blocks() -> None:
    assert len(_blocks()) >= 6


def test_every_python_block_runs(tmp_path, monkeypatch) -> None:
    pytest.importorskip("torchvision")
    pytest.importorskip("skimage")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for i, block in enumerate(_blocks()):
        if "import kornia" in block and importlib.util.find_spec("kornia") is None:
            continue  # the "With kornia" block needs the optional extra (CI installs it)
        try:
            exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)
        except Exception as err:  # pragma: no cover - the message says which block failed
            raise AssertionError(f"README python block {i + 1} failed:\n{block}") from err
